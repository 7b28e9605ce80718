"""`generate`: synthetic questions for a corpus, split and saved as a dataset."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..llm.config import LLMConfig, key_rule
from ..llm.pricing import cost_estimate, describe_cost, estimate_cost, with_prices
from ..questions.generation import GenerationRequest, estimate_llm_run, generate_questions
from ..questions.generators import DEFAULT_QUESTIONS_PER_CHUNK, GENERATORS, GenerationError, GenerationResult
from ..questions.prompts import DEFAULT_QA_PROMPT
from ..questions.qa_dataset import SPLIT_MODES, TEST, TEST_RATIO, TRAIN, VAL, QADataset, plan_split, save_dataset
from ..store.workspace import Workspace
from .llm_flags import add_batch_flag, add_llm_flags, llm_config_from, refuse_unavailable_batch
from .progress import ProgressPrinter

if TYPE_CHECKING:
    from ..questions.router.request import RouterRequest


def register(subparsers) -> None:
    gen = subparsers.add_parser(
        "generate",
        help="generate synthetic questions for a corpus and save them as a dataset",
        description=f"With --generator llm the API key comes from the environment, never from "
        f"an argument: {key_rule()} (--api-key-env).",
    )
    gen.add_argument("--corpus", required=True, help="corpus id or name")
    gen.add_argument("--name", required=True, help="name of the new dataset")
    gen.add_argument(
        "--per-chunk",
        type=int,
        default=DEFAULT_QUESTIONS_PER_CHUNK,
        help=f"questions per chunk (default {DEFAULT_QUESTIONS_PER_CHUNK}: one in each style people search in)",
    )
    add_generator_flags(gen)
    gen.add_argument(
        "--prompt-file", type=Path, help="prompt template with {context_str} and {num_questions_per_chunk}"
    )
    gen.add_argument("--max-chunks", type=int, help="ask about at most this many chunks, spread over the corpus")
    gen.add_argument("--val-ratio", type=float, default=0.2, help="share of questions for validation (default 0.2)")
    add_test_ratio_flag(gen)
    gen.add_argument("--split-by", choices=SPLIT_MODES, default="document")
    gen.add_argument("--seed", type=int, default=42)
    add_batch_flag(gen)
    gen.set_defaults(handler=generate)


def add_test_ratio_flag(parser: argparse.ArgumentParser) -> None:
    """--test-ratio: the share held out from training and from choosing the model kept, to report on."""
    parser.add_argument(
        "--test-ratio",
        type=float,
        default=TEST_RATIO,
        help=f"share held out for the reported figures (default {TEST_RATIO}; 0: no test part)",
    )


def add_generator_flags(parser: argparse.ArgumentParser) -> None:
    """--generator and, for an LLM, its model, endpoint, key variable, concurrency, timeout and retries."""
    parser.add_argument("--generator", choices=GENERATORS, default="offline")
    parser.add_argument("--model", help="model name, required with --generator llm")
    add_llm_flags(parser)


def generate(args: argparse.Namespace, ws: Workspace) -> dict:
    corpus = ws.resolve("corpora", args.corpus)
    check_new_dataset(ws, args)
    request = GenerationRequest(
        corpus_id=corpus.id,
        n_per_chunk=args.per_chunk,
        generator=args.generator,
        llm=llm_config(args, ws),
        prompt_template=_read_prompt(args.prompt_file),
        max_chunks=args.max_chunks,
        seed=args.seed,
    )
    estimate = announce_estimate(ws, request, estimate_llm_run, "generate") if request.llm else None
    dataset, result = generate_questions(ws, request, on_progress=ProgressPrinter("questions").chunks)
    return split_and_save(ws, args, corpus.id, request, dataset, result, **({"estimate": estimate} if estimate else {}))


def announce_estimate(ws: Workspace, request: GenerationRequest | RouterRequest, estimate_run, command: str) -> dict:
    """Refuse --batch where the endpoint has no Batch API; say on stderr what the run will use and cost
    (`estimate_run(ws, request)`: (tokens, requests the cache answers))."""
    refuse_unavailable_batch(request.llm)
    usage, cached = estimate_run(ws, request)
    print(
        f"{command}: {describe_cost(request.llm, usage.prompt_tokens, usage.completion_tokens)}"
        + (f"; {cached} chunks answered from the cache at no cost" if cached else ""),
        file=sys.stderr,
        flush=True,
    )
    return cost_estimate(request.llm, usage, cached)


def check_new_dataset(ws: Workspace, args: argparse.Namespace) -> None:
    """Refuse a taken --name or a bad --val-ratio or --test-ratio before any question is paid for."""
    if any(d.name == args.name.strip() for d in ws.list_datasets()):
        raise GenerationError(f"a dataset named {args.name.strip()!r} already exists")
    if not 0 < args.val_ratio < 1:
        raise GenerationError("--val-ratio must be between 0 and 1")
    if not 0 <= args.test_ratio < 1 - args.val_ratio:
        raise GenerationError("--test-ratio must be at least 0 and leave a train part beside --val-ratio")


def split_and_save(
    ws: Workspace,
    args: argparse.Namespace,
    corpus_id: str,
    request: GenerationRequest | RouterRequest,
    dataset: QADataset,
    result: GenerationResult,
    **counts,
) -> dict:
    """Split the generated dataset as the flags ask, save it as --name, and summarise it;
    `counts` are added to (or replace) the generation's own counts."""
    split = plan_split(dataset, args.val_ratio, args.split_by, args.seed, args.test_ratio)
    dataset.split = split.parts
    params = {**request.to_params(), "split_by": split.by, "val_ratio": args.val_ratio, "test_ratio": args.test_ratio}
    record = save_dataset(ws, args.name, dataset, corpus_id, params)
    summary = {"dataset_id": record.id, "name": record.name, **result.summary(), **counts, **split_counts(dataset)}
    if request.llm is not None:
        summary["cost_usd"] = estimate_cost(request.llm, result.usage.prompt_tokens, result.usage.completion_tokens)
        summary["priced_as"] = "batch" if request.llm.batch else "online"
        print(
            f"{args.command}: "
            f"{describe_cost(request.llm, result.usage.prompt_tokens, result.usage.completion_tokens, spent=True)}",
            file=sys.stderr,
            flush=True,
        )
    if split.note:
        summary["note"] = split.note
    return summary


def split_counts(dataset: QADataset) -> dict[str, int]:
    """Questions per split part, for a command's summary."""
    parts = list(dataset.split.values())
    return {part: parts.count(part) for part in (TRAIN, VAL, TEST)}


def llm_config(args: argparse.Namespace, ws: Workspace | None = None) -> LLMConfig | None:
    """The --generator llm flags as a config, priced from the workspace's price table; None for the
    offline generator."""
    if args.generator != "llm":
        if getattr(args, "batch", False):
            raise GenerationError("--batch needs --generator llm")
        return None
    if not args.model:
        raise GenerationError("--model is required with --generator llm")
    return with_prices(llm_config_from(args, args.model), ws)


def _read_prompt(path: Path | None) -> str:
    if path is None:
        return DEFAULT_QA_PROMPT
    try:
        template = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GenerationError(f"cannot read the prompt file {str(path)!r}: {exc}") from exc
    if "{context_str}" not in template:
        raise GenerationError(f"the prompt file {str(path)!r} has no {{context_str}}, where the chunk's text goes")
    return template
