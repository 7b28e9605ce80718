"""A training job's result as its run keeps it, typed: built by the job, parsed once where it is read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from ..runs import JobState
from ..store.files import NOT_STORED, conform
from ..store.records import RunRecord
from ..training.fit import TrainResult


@dataclass(kw_only=True)
class TrainingRunResult(TrainResult):
    """What a training run (train_embedding, train_cross_encoder) keeps: its training's result, the model
    it registered, and the time it was estimated to take and took."""

    output_dir: Path | None = field(default=None, metadata=NOT_STORED)  # kept as model_path
    model_id: str
    model_name: str
    model_path: str
    # None in the results of the RAGTune versions that did not keep them yet
    dataset_kind: str | None = None
    estimated_seconds: float | None = None
    seconds: float | None = None

    @classmethod
    def of_run(cls, run: RunRecord) -> TrainingRunResult | None:
        """The result of a run that registered its model; None while it runs, or when it did not. Keys an
        older RAGTune kept that this one does not (its results' `epochs`) are left out; a field of another
        type is a FileContentError naming the run and the key."""
        if run.state != JobState.SUCCEEDED:
            return None
        kept = {f.name for f in fields(cls) if f.metadata.get("stored", True)}
        result = {key: value for key, value in run.result.items() if key in kept}
        return conform(result, cls, f"the result of run {run.id} in the catalogue")

    def to_dict(self) -> dict:
        """As the run's status.json and the catalogue keep it."""
        return {key: value for key, value in asdict(self).items() if key != "output_dir"}
