"""`llm-data` (chat fine-tuning data from a router dataset, or imported JSONL), `llm-check` (its
pre-flight), `train-llm` (fine-tune an LLM on it: locally, at an OpenAI-shaped endpoint, at Together or at
Fireworks) and `llm-jobs` (the fine-tuning runs of the workspace and the jobs of an endpoint; cancel one)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import jobs
from ..llm.config import LLMConfig
from ..llm.pricing import price_table
from ..questions.qa_dataset import SPLIT_MODES, load_dataset
from ..runs import EventKind
from ..store import Workspace
from ..training.llm.data import (
    LABEL_SOURCES,
    NAME_SWAPS,
    build_chat_data,
    import_jsonl,
    load_chat_data,
    save_chat_data,
    to_jsonl,
)
from ..training.llm.finetune import (
    DEFAULT_MAX_WAIT_HOURS,
    DEFAULT_POLL_SECONDS,
    LLMFinetuneRequest,
    check_request,
    default_base_url,
    fine_tune_llm,
    hosted_provider,
)
from ..training.llm.fireworks import FIREWORKS_NOTICE
from ..training.llm.openai_shaped import OPENAI_NOTICE
from ..training.llm.preflight import DEFAULT_MAX_LENGTH, local_token_counter, run_preflight
from ..training.llm.providers import PROVIDERS, ProviderJob
from ..training.llm.together import TOGETHER_BASE_URL, TOGETHER_NOTICE
from .errors import CommandFailed, UsageError
from .llm_flags import add_llm_flags, llm_config_from
from .progress import ProgressPrinter


def register(subparsers) -> None:
    data = subparsers.add_parser(
        "llm-data",
        aliases=["llm-dataset"],
        help="chat fine-tuning lines (query -> tool call) from a router dataset, or imported from JSONL",
    )
    data.add_argument("dataset", nargs="?", metavar="DATASET", help="router dataset id or name (or use --import)")
    data.add_argument("--name", required=True, help="name of the chat data (letters, digits, . _ -)")
    data.add_argument(
        "--labels",
        choices=LABEL_SOURCES,
        default="dataset",
        help="the dataset's right tools, or a teacher LLM's tool calls kept where they agree",
    )
    data.add_argument("--teacher-model", help="the teacher LLM (with --labels teacher)")
    add_llm_flags(data, "teacher-", "the teacher")
    data.add_argument(
        "--split-by",
        choices=SPLIT_MODES,
        default="document",
        help="for a dataset without a split (default: %(default)s)",
    )
    data.add_argument(
        "--import",
        dest="import_train",
        type=Path,
        metavar="TRAIN.jsonl",
        help="import training lines instead of building them",
    )
    data.add_argument("--import-val", type=Path, metavar="VAL.jsonl", help="validation lines to import")
    data.add_argument(
        "--name-swaps",
        type=int,
        default=NAME_SWAPS,
        metavar="N",
        help="copies of each training line that names its document, every document renamed with an "
        "invented name (default: %(default)s)",
    )
    data.add_argument("--export", type=Path, metavar="FOLDER", help="also write train.jsonl and val.jsonl here")
    data.set_defaults(handler=run_llm_data)

    check = subparsers.add_parser("llm-check", help="pre-flight check of chat data: problems, tokens, cost, time")
    check.add_argument("data", metavar="DATA", help="chat data name (from llm-data)")
    check.add_argument(
        "--provider",
        choices=PROVIDERS,
        default="local",
        help="local: tokens counted by the base model's tokenizer; openai: estimated (default: %(default)s)",
    )
    check.add_argument(
        "--base-model",
        default="",
        help="local: the model to fine-tune (default: SmolLM2-135M-Instruct); "
        "hosted: priced by its name (e.g. gpt-4.1-mini-2025-04-14)",
    )
    check.add_argument("--epochs", type=int, help="default: auto, from the number of lines")
    check.add_argument(
        "--max-length", type=int, default=DEFAULT_MAX_LENGTH, help="tokens per line (default %(default)s)"
    )
    check.set_defaults(handler=run_llm_check)

    train = subparsers.add_parser(
        "train-llm",
        aliases=["llm-finetune"],
        help="fine-tune an LLM on chat data, locally or at an OpenAI-compatible endpoint, and register it",
    )
    train.add_argument("data", metavar="DATA", help="chat data name (from llm-data)")
    train.add_argument("--name", required=True, help="name of the new model")
    train.add_argument(
        "--provider",
        choices=PROVIDERS,
        default="local",
        help=f"where to train (default: %(default)s). openai: {OPENAI_NOTICE} together: Together AI "
        f"(--base-url defaults to {TOGETHER_BASE_URL}; key: --api-key-env TOGETHER_API_KEY). "
        f"{TOGETHER_NOTICE} fireworks: Fireworks AI (key: --api-key-env FIREWORKS_API_KEY). "
        f"{FIREWORKS_NOTICE}",
    )
    train.add_argument("--base-model", default="", help="the model to fine-tune (local default: SmolLM2-135M-Instruct)")
    train.add_argument("--epochs", type=int, help="default: the provider's auto")
    train.add_argument("--suffix", help="hosted: added to the fine-tuned model's name")
    train.add_argument(
        "--poll-seconds",
        type=float,
        default=DEFAULT_POLL_SECONDS,
        help="hosted: seconds between status checks (default %(default)s)",
    )
    train.add_argument(
        "--max-wait-hours",
        type=float,
        default=DEFAULT_MAX_WAIT_HOURS,
        help="how long the job is followed before it is cancelled (default %(default)s)",
    )
    add_llm_flags(train, "", "the fine-tuning endpoint (--provider openai, together or fireworks)")
    train.add_argument("--background", action="store_true", help="start a background job and print its run id")
    train.set_defaults(handler=run_train_llm)

    listing = subparsers.add_parser(
        "llm-jobs",
        help="LLM fine-tuning runs of the workspace and, with --provider "
        "openai, together or fireworks, the endpoint's jobs; --cancel one",
    )
    listing.add_argument(
        "--provider",
        choices=[p for p in PROVIDERS if p != "local"],
        help="also list the jobs of the fine-tuning endpoint (--base-url, key from the environment)",
    )
    listing.add_argument("--limit", type=int, default=20, help="the endpoint's jobs to list (default %(default)s)")
    listing.add_argument(
        "--cancel",
        metavar="ID",
        help="cancel a workspace run (its hosted job too) or, with --provider, the endpoint's job ID",
    )
    listing.add_argument(
        "--follow",
        metavar="RUN",
        help="start a run that follows an interrupted hosted run's job "
        "(its worker stopped while the endpoint trained) to its end",
    )
    add_llm_flags(listing, "", "the fine-tuning endpoint (--provider openai, together or fireworks)")
    listing.set_defaults(handler=run_llm_jobs)


def run_llm_data(args: argparse.Namespace, ws: Workspace) -> dict:
    if args.import_train:
        if args.dataset:
            raise UsageError("give a DATASET or --import, not both")
        val = args.import_val.read_text(encoding="utf-8") if args.import_val else ""
        data = import_jsonl(args.import_train.read_text(encoding="utf-8"), val)
    elif not args.dataset:
        raise UsageError("name a router DATASET, or --import a JSONL file")
    else:
        record = ws.resolve("datasets", args.dataset)
        teacher = None
        if args.labels == "teacher":
            if not args.teacher_model:
                raise UsageError("--labels teacher needs --teacher-model")
            teacher = llm_config_from(args, args.teacher_model, "teacher-")
        data = build_chat_data(
            load_dataset(ws, record.id),
            args.labels,
            teacher,
            args.split_by,
            dataset_id=record.id,
            name_swaps=args.name_swaps,
        )
    folder = save_chat_data(ws, args.name, data)
    if args.export:
        args.export.mkdir(parents=True, exist_ok=True)
        (args.export / "train.jsonl").write_text(to_jsonl(data.train), encoding="utf-8")
        (args.export / "val.jsonl").write_text(to_jsonl(data.val), encoding="utf-8")
    return {"name": args.name, "folder": str(folder), **data.summary(), "disagreement_examples": data.disagreements[:5]}


def run_llm_check(args: argparse.Namespace, ws: Workspace) -> dict:
    data = load_chat_data(ws, args.data)
    count_tokens = local_token_counter(args.base_model) if args.provider == "local" else None
    report = run_preflight(
        data.train, data.val, args.base_model, args.epochs, args.max_length, count_tokens, price_table(ws)
    )
    summary = {"data": args.data, **report.summary()}
    if not report.ok:  # the check's own verdict is the exit status: a script must not train on this data
        raise CommandFailed(f"llm-check: {args.data!r} is not ready to train on: {'; '.join(report.errors)}", summary)
    return summary


def run_train_llm(args: argparse.Namespace, ws: Workspace) -> dict:
    config = _endpoint(args, args.base_model or "-")
    request = LLMFinetuneRequest(
        args.data,
        args.name,
        args.provider,
        args.base_model,
        args.epochs,
        llm=config.to_public_dict() if config else None,
        suffix=args.suffix,
        poll_seconds=args.poll_seconds,
        max_wait_hours=args.max_wait_hours,
        api_key=config.api_key if config else None,
    )
    if args.background:
        status = jobs.start_llm_finetune_job(ws, request)
        return {"run_id": status.run_id, "state": status.state}
    check_request(ws, request)
    return fine_tune_llm(ws, request, on_event=_event_printer()).to_dict()


def _endpoint(args: argparse.Namespace, model: str) -> LLMConfig | None:
    """The hosted provider's endpoint the flags name (Together's or Fireworks' own API unless --base-url
    says otherwise); None for the local provider."""
    if args.provider in (None, "local"):
        return None
    args.base_url = args.base_url or default_base_url(args.provider)
    return llm_config_from(args, model)


def _event_printer():
    """An on_event printing a fine-tuning's events on stderr (stdout carries the JSON summary): each new
    state, the provider's messages, every validation loss, and the training loss at most once a second."""
    progress = ProgressPrinter("train-llm")
    last_state = None

    def on_event(event: str, data: dict) -> None:
        nonlocal last_state
        if event == EventKind.METRICS:
            step, total = data.get("step") or 0, data.get("total_steps") or 0
            shown = [f"{name} {data[name]:.4f}" for name in ("train_loss", "valid_loss") if data.get(name) is not None]
            message = f"step {step}/{total}" + "".join(f" · {text}" for text in shown)
            if data.get("valid_loss") is not None:
                print(f"train-llm: {message}", file=sys.stderr, flush=True)
            else:
                progress(step, total, message)
        elif event == EventKind.STATE:
            if data.get("state") != last_state:  # not a poll that found the job as it was
                last_state = data.get("state")
                print(f"train-llm: {data['message']}", file=sys.stderr, flush=True)
        elif "message" in data:
            print(f"train-llm: {data['message']}", file=sys.stderr, flush=True)

    return on_event


def run_llm_jobs(args: argparse.Namespace, ws: Workspace) -> dict:
    if args.follow:
        status = jobs.follow_again(ws, args.follow)
        return {"following": {"id": status.run_id, "state": status.state}}
    config = _endpoint(args, "-")
    provider = hosted_provider(args.provider, config) if config else None
    if args.cancel:
        if provider:
            return {"cancelled": _job_row(provider.cancel(args.cancel))}
        if ws.get_run(args.cancel).kind != jobs.JobKind.TRAIN_LLM:
            raise UsageError(
                f"run {args.cancel!r} is not an LLM fine-tuning (see ragtune runs); an endpoint's job "
                "is cancelled with --provider openai, together or fireworks"
            )
        status = jobs.cancel_job(ws, args.cancel)
        return {"cancelled": {"id": status.run_id, "state": status.state}}
    followable = jobs.followable_runs(ws)
    summary = {"runs": [_run_row(ws, run, followable) for run in ws.list_runs(jobs.JobKind.TRAIN_LLM)]}
    if provider:
        summary["provider_jobs"] = [_job_row(job) for job in provider.list(args.limit)]
    return summary


def _run_row(ws: Workspace, run, followable: dict[str, str]) -> dict:
    """A workspace fine-tuning run: its state (the status file knows best), model, provider and job, and
    whether `llm-jobs --follow` can follow its job again."""
    config = run.params.get("config") or {}
    state = jobs.read_status(ws, run.id).state if jobs.status_path(ws, run.id).exists() else run.state
    provider_job = jobs.provider_job_of(ws, run.id)
    return {
        "id": run.id,
        "state": state,
        "model": run.params.get("model_name"),
        "provider": config.get("provider"),
        "base_model": config.get("base_model") or None,
        "provider_job": provider_job,
        "created": run.created,
        "followable": run.id in followable,
    }


def _job_row(job: ProviderJob) -> dict:
    return {
        "id": job.id,
        "state": job.state,
        "model": job.base_model,
        "fine_tuned_model": job.fine_tuned_model,
        "created": job.created,
        "error": job.error,
    }
