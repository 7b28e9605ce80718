"""Metrics per slice of the queries (an evidence set's styles) and paired gains between two models.

One place for both, used by `ragtune evaluate`/`rerank`, the Compare page and the benchmarks:

- `metrics_by_slice(report, slice_of)`: each slice's metrics, from the report's per-query values;
- `paired_gain(base, other, metric)`: how much `other` beats `base` on the same queries, with a
  paired bootstrap interval (the queries are resampled once for both models, so what one query
  finds hard for both cancels out: a tighter and honest interval of the difference);
  `gain_of_values(metric, before, after)` the same from two models' per-query values (a router's hits);
- `slice_table(reports, slice_of)`: the two for several models, overall and per slice, as a table.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .metrics import EvaluationError, bootstrap_ci, per_query_metric_values
from .retrieval import RetrievalReport

SLICE_METRICS = ("accuracy@1", "accuracy@5", "accuracy@10", "mrr@10")
GAIN_METRICS = ("accuracy@5", "mrr@10")
ALL = "all"  # the slice of every query


@dataclass
class PairedGain:
    metric: str
    base: float  # the base model's value on the paired queries
    other: float  # the other model's value on the same queries
    gain: float  # other - base
    ci_low: float  # paired bootstrap interval of the gain
    ci_high: float
    queries: int

    @property
    def above_zero(self) -> bool:
        """Whether the whole interval is a gain."""
        return self.ci_low > 0

    def to_dict(self) -> dict:
        return asdict(self)


def metrics_by_slice(
    report: RetrievalReport, slice_of: dict[str, str], metrics: tuple[str, ...] = SLICE_METRICS
) -> dict[str, dict[str, float]]:
    """{slice: {metric: value, ..., "queries": n}} for the report's queries that `slice_of` ({query
    id: slice}) names, slices in their order of first appearance in `slice_of`; a query it does not
    name is in no slice, a slice without a query of the report is left out."""
    rows_of: dict[str, list[int]] = {name: [] for name in dict.fromkeys(slice_of.values())}
    for row, result in enumerate(report.per_query):
        if result.query_id in slice_of:
            rows_of[slice_of[result.query_id]].append(row)
    values = {metric: per_query_metric_values(report.per_query, metric) for metric in metrics}
    return {
        name: {**{metric: float(values[metric][rows].mean()) for metric in metrics}, "queries": len(rows)}
        for name, rows in rows_of.items()
        if rows
    }


def paired_gain(
    base: RetrievalReport,
    other: RetrievalReport,
    metric: str,
    query_ids: set[str] | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedGain:
    """`other`'s gain over `base` in `metric` on the queries both answered (only those in
    `query_ids` when given), with a percentile bootstrap interval of the mean per-query difference."""
    base_values = _values_by_query(base, metric)
    other_values = _values_by_query(other, metric)
    paired = [q for q in base_values if q in other_values and (query_ids is None or q in query_ids)]
    if not paired:
        raise EvaluationError(f"{base.name!r} and {other.name!r} have no query in common to compare")
    before = np.array([base_values[q] for q in paired])
    after = np.array([other_values[q] for q in paired])
    return gain_of_values(metric, before, after, n_resamples, confidence, seed)


def gain_of_values(
    metric: str,
    before: np.ndarray,
    after: np.ndarray,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> PairedGain:
    """The gain of `after` over `before`, two models' per-query values of the same queries in the same
    order (a router's hits, say), with a percentile bootstrap interval of the mean difference."""
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    low, high = bootstrap_ci(after - before, n_resamples, confidence, seed)
    return PairedGain(
        metric, float(before.mean()), float(after.mean()), float((after - before).mean()), low, high, len(before)
    )


def slice_table(
    reports: list[RetrievalReport],
    slice_of: dict[str, str] | None = None,
    metrics: tuple[str, ...] = SLICE_METRICS,
    gains: tuple[str, ...] = GAIN_METRICS,
    n_resamples: int = 1000,
) -> pd.DataFrame:
    """One row per model and slice ("all" first, then each slice of `slice_of`): the queries, each
    of `metrics`, and for every model after the first (the base) its paired gain over the first in
    each of `gains` with the interval (columns "<metric> gain", "<metric> gain low", "... high")."""
    rows = []
    base = reports[0] if reports else None
    for report in reports:
        slices = {ALL: {**{m: report.metrics[m] for m in metrics}, "queries": len(report.per_query)}}
        slices.update(metrics_by_slice(report, slice_of or {}, metrics))
        for name, values in slices.items():
            row = {"model": report.name, "slice": name, "queries": values["queries"], **{m: values[m] for m in metrics}}
            if report is not base:
                members = None if name == ALL else {q for q, s in (slice_of or {}).items() if s == name}
                for metric in gains:
                    gain = paired_gain(base, report, metric, members, n_resamples)
                    row.update(
                        {
                            f"{metric} gain": gain.gain,
                            f"{metric} gain low": gain.ci_low,
                            f"{metric} gain high": gain.ci_high,
                        }
                    )
            rows.append(row)
    columns = [
        "model",
        "slice",
        "queries",
        *metrics,
        *(f"{m} gain{end}" for m in gains for end in ("", " low", " high")),
    ]
    return pd.DataFrame(rows, columns=columns)


def _values_by_query(report: RetrievalReport, metric: str) -> dict[str, float]:
    values = per_query_metric_values(report.per_query, metric)
    return {result.query_id: float(value) for result, value in zip(report.per_query, values, strict=True)}
