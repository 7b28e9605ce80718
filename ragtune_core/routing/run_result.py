"""A router comparison run's result, typed (jobs' compare_selectors): the comparison it saved, each selector's
match rate on the dataset's part and on each held-out set, the selectors skipped or failed, each with why,
and the time it was estimated to take and took. Built by the job's adapter, parsed once where it is read
(store.run_results)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..store.run_results import RunResult


@dataclass(kw_only=True)
class ComparisonRunResult(RunResult):
    comparison_id: str  # the saved comparison (routing.compare), on the dataset's part
    match_rates: dict[str, float]  # {selector: match rate} on the dataset's part
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (selector, why): not run
    held_out: dict[str, dict[str, float]] = field(default_factory=dict)  # {dataset id: as match_rates}
    failed: list[tuple[str, str]] = field(default_factory=list)  # (selector, error): ran and failed
    # None in the results of the RAGTune versions that did not keep them yet
    estimated_seconds: float | None = None  # what was said before it started (LLM endpoints' requests left out)
    seconds: float | None = None
