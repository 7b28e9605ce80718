"""An evaluation run's result, typed (jobs' evaluate): the reports it saved and each model's metrics, on the
dataset's part and on each held-out set, and the time it was estimated to take and took. Built by the job's
adapter, parsed once where it is read (store.run_results)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..store.run_results import RunResult


@dataclass(kw_only=True)
class EvaluationRunResult(RunResult):
    reports: list[str]  # the saved reports' ids (evaluation.retrieval), the held-out sets' too
    metrics: dict[str, dict[str, float]]  # {model (or reranked) name: {metric: value}} on the dataset's part
    held_out: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)  # {dataset id: as metrics}
    # None in the results of the RAGTune versions that did not keep them yet
    estimated_seconds: float | None = None
    seconds: float | None = None
