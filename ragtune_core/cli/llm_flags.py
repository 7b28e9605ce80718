"""The LLM endpoint flags shared by `generate`, `router-dataset`, `compare-selectors` and `route`.

Keys never come from an argument (it would show in the shell history and the process list): the
server's key from the environment goes only to the endpoint the environment names, and another
endpoint's key is read from the variable `--api-key-env` names.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import fields

from ..llm.batch import batch_unavailable_reason
from ..llm.config import LLMConfig, key_rule, server_base_url
from ..store.shapes import limits_of
from .errors import UsageError

DEFAULTS = {f.name: f.default for f in fields(LLMConfig)}


def _range(name: str) -> str:
    """The allowed values of an LLM setting, from its schema: "from 0 to 10"."""
    return limits_of(LLMConfig, name).range


def add_llm_flags(parser: argparse.ArgumentParser, prefix: str = "", what: str = "the LLM") -> None:
    """--{prefix}base-url, --{prefix}api-key-env, --{prefix}concurrency (a cap), --{prefix}timeout,
    --{prefix}first-answer-timeout and --{prefix}retries (the model flag is the command's own)."""
    flag = f"--{prefix}"
    parser.add_argument(
        f"{flag}base-url",
        help=f"OpenAI-compatible endpoint of {what} (default: "
        "$RAGTUNE_LLM_BASE_URL or $OPENAI_BASE_URL, else OpenAI's API)",
    )
    parser.add_argument(
        f"{flag}api-key-env",
        metavar="VAR",
        help=f"the environment variable holding the endpoint's API key; without it, {key_rule()}",
    )
    parser.add_argument(
        f"{flag}concurrency",
        type=int,
        default=DEFAULTS["max_concurrency"],
        metavar="CAP",
        help=f"the most LLM requests in flight, {_range('max_concurrency')} (default "
        f"{DEFAULTS['max_concurrency']}); below it the "
        "client follows the provider's rate limits by itself",
    )
    parser.add_argument(
        f"{flag}timeout",
        type=float,
        default=DEFAULTS["timeout"],
        metavar="SECONDS",
        help=f"seconds one request may take, {_range('timeout')} (default {DEFAULTS['timeout']:g}); a "
        "request that times "
        f"out is retried {DEFAULTS['timeout_retries']} time(s)",
    )
    parser.add_argument(
        f"{flag}first-answer-timeout",
        type=float,
        default=DEFAULTS["first_answer_timeout"],
        metavar="SECONDS",
        help=f"seconds a request may take while the endpoint has answered nothing "
        f"yet, {_range('first_answer_timeout')} (default {DEFAULTS['first_answer_timeout']:g}): a "
        "hung server is given up in seconds",
    )
    parser.add_argument(
        f"{flag}retries",
        type=int,
        default=DEFAULTS["max_retries"],
        help=f"retries of a request refused for now (429, 5xx, dropped connection), with backoff, "
        f"{_range('max_retries')} (default {DEFAULTS['max_retries']})",
    )


def add_batch_flag(parser: argparse.ArgumentParser) -> None:
    """--batch: send through the provider's Batch API (a command whose requests can wait for it)."""
    parser.add_argument(
        "--batch",
        action="store_true",
        help="send the LLM requests through the provider's Batch API (OpenAI: half the price, results "
        "within 24 h); the command waits, printing progress, and run again resumes the same batch",
    )


def refuse_unavailable_batch(config: LLMConfig | None, flag: str = "--batch") -> None:
    """UsageError (exit status 2) with the reason when `config` asks for a Batch API its endpoint lacks."""
    reason = batch_unavailable_reason(config) if config is not None and config.batch else None
    if reason:
        raise UsageError(f"{flag}: {reason}")


def llm_config_from(args: argparse.Namespace, model: str, prefix: str = "") -> LLMConfig:
    """The LLMConfig the flags ask for, with `model`; UsageError (exit status 2) for unusable settings."""

    def value(name: str):
        return getattr(args, f"{prefix}{name}".replace("-", "_"))

    base_url = value("base-url") or server_base_url()
    key = None
    variable = value("api-key-env")
    if variable:
        key = os.environ.get(variable)
        if not key:
            raise UsageError(f"--{prefix}api-key-env: ${variable} is not set")
    return LLMConfig(
        base_url=base_url,
        model=model,
        api_key=key,
        max_concurrency=value("concurrency"),
        max_retries=value("retries"),
        timeout=value("timeout"),
        first_answer_timeout=value("first-answer-timeout"),
        batch=getattr(args, f"{prefix}batch".replace("-", "_"), False),
    )
