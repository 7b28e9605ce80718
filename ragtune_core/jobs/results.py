"""A training job's result as its run keeps it, typed: built by the job, parsed once where it is read;
and the history of training runs, one row each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Self

from ..store.records import RunRecord
from ..store.run_results import RunResult
from ..store.shapes import NOT_STORED, stored_fields
from ..store.workspace import Workspace
from ..timing.work import clock, duration, when
from ..training.fit import TrainResult
from .runner import JobKind

TRAINING_KINDS = (JobKind.TRAIN_EMBEDDING, JobKind.TRAIN_CROSS_ENCODER)


@dataclass(kw_only=True)
class TrainingRunResult(TrainResult, RunResult):
    """What a training run (train_embedding, train_cross_encoder) keeps: its training's result, the model
    it registered, the time it was estimated to take and took, and its verdict (training.verdict)."""

    output_dir: Annotated[Path | None, NOT_STORED] = None  # kept as model_path
    model_id: str
    model_name: str
    model_path: str
    # None in the results of the RAGTune versions that did not keep them yet
    dataset_kind: str | None = None
    estimated_seconds: float | None = None
    seconds: float | None = None
    # the sentence saying the kept model does not beat what it started from (training.verdict); None when it does
    verdict: str | None = None

    @classmethod
    def read(cls, result: dict, run_id: str) -> Self:
        """As RunResult.read; keys an older RAGTune kept that this one does not (its results' `epochs`) are
        left out; a field of another type is a FileContentError naming the run and the key."""
        kept = stored_fields(cls)
        return super().read({key: value for key, value in result.items() if key in kept}, run_id)


def training_history(ws: Workspace) -> list[dict]:
    """One row per embedding or cross-encoder training run, newest first: its settings, the time it was
    estimated to take and took, and the metrics of the model it kept (None where it registered none): on the
    test part, held out, which chose nothing; on validation (which chose it) for a dataset without one. A
    result of another shape is a FileContentError naming the run."""
    runs = sorted((run for kind in TRAINING_KINDS for run in ws.list_runs(kind)), key=lambda r: r.created, reverse=True)
    dataset_names = {d.id: d.name for d in ws.list_datasets()}
    return [_history_row(run, TrainingRunResult.of_run(run), dataset_names) for run in runs]


def _history_row(run: RunRecord, result: TrainingRunResult | None, dataset_names: dict[str, str]) -> dict:
    after = (result.test_metrics_after or result.metrics_after) if result else {}
    return {
        "model": run.name,
        "type": "cross-encoder" if run.kind == JobKind.TRAIN_CROSS_ENCODER else "embedding",
        "state": run.state,
        "dataset": dataset_names.get(run.dataset_id, run.dataset_id),
        "schedule": result.schedule if result else "",
        "kept step": result.best_step if result else None,
        "steps run": result.steps if result else None,
        "search trials": (len(result.trials) or None) if result else None,
        "started": when(run.created),
        "estimated": "" if result is None or result.estimated_seconds is None else duration(result.estimated_seconds),
        "duration": clock(run.finished - run.created) if run.finished else "",
        "measured on": ("test" if result.test_metrics_after else "validation (chose it)") if result else "",
        "ndcg@10": after.get("ndcg@10"),
        "mrr@10": after.get("mrr@10"),
        "accuracy@1": after.get("accuracy@1"),
    }
