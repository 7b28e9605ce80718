"""`evaluate`: retrieval metrics of one or more embedding models on a dataset, saved for the Compare page.

On a dataset whose questions have styles (an evidence-phrase set), the summary adds each model's
metrics per style ("by_style"); `rerank` does the same."""

from __future__ import annotations

import argparse
import sys

from ..evaluation.duration import ENCODING, estimate_evaluation
from ..evaluation.retrieval import PARTS, ModelSpec, RetrievalReport, evaluate_models, load_part
from ..evaluation.slices import metrics_by_slice
from ..questions.qa_dataset import load_dataset, part_caveat, reported_part
from ..reporting.history import RETRIEVAL, recording
from ..store.models import DEFAULT_BASE_MODEL, ModelNotFound, resolve_model, unknown_model
from ..store.workspace import Workspace, WorkspaceError
from ..timing.pace import Work, learn_pace
from ..timing.work import Meter
from .errors import UsageError
from .progress import EtaPrinter, command_seconds

BASE = "base"
PART_HELP = (
    "which questions (default: test where the dataset has a test part; else val, the part fine-tuned models "
    "were selected on, if it is split; else all)"
)


def register(subparsers) -> None:
    evaluate = subparsers.add_parser("evaluate", help="retrieval metrics of embedding models on a dataset")
    evaluate.add_argument("dataset", metavar="DATASET", help="dataset id or name")
    evaluate.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="M",
        help=f"'{BASE}' (the bundled default), a workspace model's name or id, a folder or a "
        "Hub id marked hf:owner/name; repeat to compare models",
    )
    evaluate.add_argument("--part", choices=PARTS, help=PART_HELP)
    add_sample_option(evaluate)
    evaluate.add_argument("--batch-size", type=int, default=64)
    evaluate.set_defaults(handler=run_evaluate)


def add_sample_option(parser) -> None:
    parser.add_argument(
        "--sample",
        type=int,
        metavar="N",
        help="at most N questions of the part, spread evenly over it (default: every one)",
    )


def run_evaluate(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    part, note = part_to_report(ws, record.id, args.part)
    models = [model_spec(ws, name) for name in args.model]
    meter = announced_meter(ws, record.id, part, models, [], "evaluate", sample=args.sample)
    with recording(ws, RETRIEVAL, record.id, part, [m.label for m in models], settings=sampled(args)) as kept:
        reports = evaluate_models(
            ws,
            record.id,
            models,
            part,
            args.batch_size,
            on_progress=lambda done, total, message: meter(ENCODING, done, total, message),
            sample=args.sample,
            on_saved=kept.add_report,
        )
    return {
        "dataset_id": record.id,
        "dataset": record.name,
        "part": part,
        "queries": len(reports[0].per_query),
        "passages": reports[0].n_corpus,
        "models": {r.name: r.metrics for r in reports},
        **by_style(ws, record.id, reports),
        "reports": [r.report_id for r in reports],
        **timed(meter, models[0]),
        **note,
    }


def sampled(args: argparse.Namespace) -> dict:
    """A comparison's settings that change its numbers: the sample of questions, when one was asked for."""
    return {"sample": args.sample} if args.sample else {}


def announced_meter(
    ws: Workspace,
    dataset_id: str,
    part: str,
    models: list[ModelSpec],
    cross_encoders: list[ModelSpec],
    label: str,
    top_k: int = 0,
    sample: int | None = None,
) -> Meter:
    """The evaluation's estimate, said on stderr before it starts, and a Meter printing its progress."""
    estimate = estimate_evaluation(
        [(dataset_id, load_part(ws, dataset_id, part, sample), part)],
        [m.path for m in models],
        [c.path for c in cross_encoders],
        top_k,
    )
    print(f"estimated: {estimate.describe()}", file=sys.stderr, flush=True)
    return Meter(estimate, EtaPrinter(label), command_seconds)


def timed(meter: Meter, model: ModelSpec) -> dict:
    """What a command's summary says of its time: the estimate said before it started, and the time it
    took; what it took also teaches the machine's kept pace for `model` (timing.pace.learn_pace)."""
    learn_pace(model.path, Work.EVALUATION, meter.timed())
    return {"estimated_seconds": round(meter.estimate.seconds, 1), "seconds": round(command_seconds(), 1)}


def by_style(ws: Workspace, dataset_id: str, reports: list[RetrievalReport]) -> dict:
    """{"by_style": {model: {style: {metric: value, "queries": n}}}} when the dataset's questions have
    styles (an evidence-phrase set), else nothing."""
    styles = load_dataset(ws, dataset_id).styles
    if not styles:
        return {}
    return {"by_style": {r.name: metrics_by_slice(r, styles) for r in reports}}


def part_to_report(ws: Workspace, dataset_id: str, part: str | None) -> tuple[str, dict]:
    """The --part given, else the dataset's reported part (test where it has one, questions.reported_part);
    with {"note": why} for the summary when that part is the one fine-tuned models were selected on."""
    dataset = load_dataset(ws, dataset_id)
    part = part or reported_part(dataset)[0]
    caveat = part_caveat(dataset, part)
    return part, ({"note": caveat} if caveat else {})


def model_spec(ws: Workspace, name: str) -> ModelSpec:
    """'base', else a workspace model (by name, then id), else a folder or a marked Hub id (hf:owner/name)
    as given; ModelNotFound for any other name, listing the workspace's models."""
    if name == BASE:
        return ModelSpec(DEFAULT_BASE_MODEL, None)
    try:
        record = ws.resolve("models", name)
    except WorkspaceError:
        try:
            resolve_model(name)
        except ModelNotFound:
            raise unknown_model(name, [BASE, *(m.name for m in ws.list_models())]) from None
        return ModelSpec(name, name)
    return ModelSpec(record.name, record.path)
