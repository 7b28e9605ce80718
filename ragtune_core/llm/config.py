"""An OpenAI-compatible endpoint's settings (`LLMConfig`), and which API key goes to which endpoint.

Keys: the server's key (`$RAGTUNE_LLM_API_KEY`, else `$OPENAI_API_KEY`) goes only to the endpoint
the server is configured for (`$RAGTUNE_LLM_BASE_URL`, else `$OPENAI_BASE_URL`; unset: OpenAI's
API). Any other base URL gets only a key given with it: whoever can type a URL must not be able to
collect the server's key with it. The key is never serialized: `LLMConfig.to_public_dict()` leaves
it out, and a background job gets the key its launcher vetted through a job-only environment
variable (`LLMConfig.secret_env()`, taken up by the worker with `adopt_job_key`), never a file.
Base URLs are checked against the server's host allow-list (`ragtune_core.network`).
"""

from __future__ import annotations

import os
from dataclasses import asdict, field
from typing import Annotated
from urllib.parse import urlsplit

import pydantic

from ..errors import RagtuneError
from ..network import HostNotAllowedError, check_allowed
from ..store.shapes import expect, limit, settings

API_KEY_ENV_VARS = ("RAGTUNE_LLM_API_KEY", "OPENAI_API_KEY")  # the server's key: the app's own variable wins
BASE_URL_ENV_VARS = ("RAGTUNE_LLM_BASE_URL", "OPENAI_BASE_URL")  # the endpoint the server's key is for
JOB_API_KEY_ENV = "RAGTUNE_JOB_LLM_API_KEY"  # how a launcher hands a vetted key to its worker (secret_env)
OPENAI_HOST = "api.openai.com"
OPENAI_BASE_URL = f"https://{OPENAI_HOST}/v1"
DEFAULT_MAX_CONCURRENCY = 64  # a cap, not a setting to tune: the limiter finds the provider's pace below it

_job_key: str | None = None  # the key a worker was handed (adopt_job_key)


class LLMConfigError(RagtuneError):
    """An LLM setting that cannot work; the message names the field."""


def server_base_url() -> str | None:
    """The endpoint the server's key is for: $RAGTUNE_LLM_BASE_URL, else $OPENAI_BASE_URL; None: OpenAI's API."""
    return next((os.environ[v].strip() for v in BASE_URL_ENV_VARS if os.environ.get(v, "").strip()), None)


def server_api_key() -> str | None:
    """The server's own key: $RAGTUNE_LLM_API_KEY, else $OPENAI_API_KEY."""
    return next((os.environ[v] for v in API_KEY_ENV_VARS if os.environ.get(v)), None)


def same_endpoint(a: str | None, b: str | None) -> bool:
    """Whether two base URLs name the same endpoint (None is OpenAI's API); scheme, host, port and path count."""
    return _endpoint_key(a) == _endpoint_key(b)


def _endpoint_key(url: str | None) -> tuple:
    parts = urlsplit((url or OPENAI_BASE_URL).strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").rstrip("."), port, parts.path.rstrip("/")


def adopt_job_key(key: str | None) -> None:
    """In a job's worker: use the key its launcher vetted for the job's endpoint (jobs.worker takes
    it out of $RAGTUNE_JOB_LLM_API_KEY), whatever endpoint the job's settings name."""
    global _job_key
    _job_key = key or None


def key_rule() -> str:
    """The key rule in one sentence, for help texts and error messages."""
    keys = " or ".join("$" + v for v in API_KEY_ENV_VARS)
    urls = " or ".join("$" + v for v in BASE_URL_ENV_VARS)
    return (
        f"the server's key ({keys}) is sent only to the endpoint it is configured for "
        f"({urls}; unset: OpenAI's API); any other endpoint needs its own key"
    )


# Per request: beyond these a request is better given up (and a page's input need go no further).
MAX_TIMEOUT_SECONDS, MAX_RETRIES = 600.0, 10
PRICE = "USD per 1k tokens; None: the price table's (pricing.py)"


@settings(LLMConfigError, frozen=False)
class LLMConfig:
    SETTINGS_NAME = "LLM settings"

    base_url: str | None  # None: OpenAI's own API
    model: Annotated[str, expect(lambda name: bool(name.strip()), "a model name")]
    api_key: str | None = field(default=None, repr=False)
    max_concurrency: Annotated[
        int, limit("the most requests in flight (the provider's pace decides below it)", 1, 1024)
    ] = DEFAULT_MAX_CONCURRENCY
    max_retries: Annotated[int, limit("retries of a 429, a 5xx or a dropped connection", 0, MAX_RETRIES)] = 5
    timeout: Annotated[float, limit("seconds one request may take", 0.1, MAX_TIMEOUT_SECONDS)] = 60.0
    # ... while the endpoint has answered nothing yet: a hung server is given up in seconds, not minutes
    first_answer_timeout: Annotated[
        float, limit("seconds a request may take while the endpoint has answered nothing yet", 0.1, MAX_TIMEOUT_SECONDS)
    ] = 15.0
    timeout_retries: Annotated[
        int, limit("retries of a request that timed out (never more than max_retries)", 0, MAX_RETRIES)
    ] = 1
    temperature: Annotated[
        float | None,
        limit("sampling temperature", 0.0, 2.0, none_means="not sent (reasoning models accept only their default)"),
    ] = 0.7
    batch: bool = False  # send through the provider's Batch API (batch.complete_in_batch): cheaper, slower
    price_per_1k_input: Annotated[float | None, limit(PRICE, 0.0)] = None
    price_per_1k_output: Annotated[float | None, limit(PRICE, 0.0)] = None
    price_per_1k_batch_input: Annotated[float | None, limit(PRICE, 0.0)] = None
    price_per_1k_batch_output: Annotated[float | None, limit(PRICE, 0.0)] = None

    def __post_init__(self) -> None:
        if self.base_url:
            self.base_url = self.base_url.strip().rstrip("/")
            if urlsplit(self.base_url).scheme not in ("http", "https") or not urlsplit(self.base_url).netloc:
                raise LLMConfigError(f"base_url: {self.base_url!r} is not an http(s) URL")
        else:
            self.base_url = None
        try:  # the server's own endpoint is its administrator's choice: always allowed
            check_allowed(self.base_url or OPENAI_BASE_URL, "base_url", always=[server_base_url() or OPENAI_BASE_URL])
        except HostNotAllowedError as exc:
            raise LLMConfigError(str(exc)) from exc

    @property
    def is_openai(self) -> bool:
        return self.base_url is None or urlsplit(self.base_url).hostname == OPENAI_HOST

    @property
    def uses_server_endpoint(self) -> bool:
        """Whether this is the endpoint the server's key is for."""
        return same_endpoint(self.base_url, server_base_url())

    def resolved_api_key(self) -> str | None:
        """The key given; else, in a job's worker, the key its launcher handed over; else the server's
        key if this is the server's endpoint; else None (a local server that needs none)."""
        if self.api_key:
            return self.api_key
        if _job_key:
            return _job_key
        return server_api_key() if self.uses_server_endpoint else None

    def to_public_dict(self) -> dict:
        """Every setting but the API key: safe to store in run parameters and show."""
        data = asdict(self)
        del data["api_key"]
        return data

    @classmethod
    def from_public_dict(cls, data: dict) -> LLMConfig:
        if not isinstance(data, dict):
            raise LLMConfigError("the LLM settings must be an object")
        if "api_key" in data:
            raise LLMConfigError("api_key must not be stored with the settings: pass it in the environment")
        return cls(**data)

    def secret_env(self) -> dict[str, str]:
        """The environment that hands this config's key, vetted here, to a worker process (jobs.start_job):
        a job-only variable, which the worker takes up with `adopt_job_key`."""
        key = self.resolved_api_key()
        return {JOB_API_KEY_ENV: key} if key else {}

    @property
    def timeout_retry_limit(self) -> int:
        return min(self.timeout_retries, self.max_retries)


def _public_config(data) -> LLMConfig | None:
    return LLMConfig.from_public_dict(data) if data else None


# The LLM settings of a run's parameters, for a request's schema: every setting but the key (`to_public_dict`)
# made into an LLMConfig; none (null, an empty object): no LLM.
PublicLLMConfig = Annotated[LLMConfig | None, pydantic.BeforeValidator(_public_config)]
