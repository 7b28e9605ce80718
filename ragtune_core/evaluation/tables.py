"""Retrieval reports shaped for the Compare page: metrics with intervals, the per-query table, and an
evidence set's metrics per style with each model's paired gain over the base."""

from __future__ import annotations

import pandas as pd

from .metrics import METRIC_NAMES, TOP_K, bootstrap_bounds, metric_matrix
from .retrieval import RetrievalReport
from .slices import GAIN_METRICS, slice_table


def comparison_table(reports: list[RetrievalReport], n_resamples: int = 1000, confidence: float = 0.95) -> pd.DataFrame:
    """Long form: one row per model and metric, with the metric's bootstrap interval."""
    rows = []
    for report, label in zip(reports, _unique_labels(reports), strict=True):
        lows, highs = bootstrap_bounds(metric_matrix(report.per_query), n_resamples, confidence, seed=0)
        rows += [
            {"model": label, "metric": metric, "value": report.metrics[metric], "ci_low": low, "ci_high": high}
            for metric, low, high in zip(METRIC_NAMES, lows.tolist(), highs.tolist(), strict=True)
        ]
    return pd.DataFrame(rows, columns=["model", "metric", "value", "ci_low", "ci_high"])


def per_query_comparison(reports: list[RetrievalReport]) -> pd.DataFrame:
    """One row per question: the expected passage, each model's rank of it and its top passage.

    With two or more models, "rank gain" is the first model's rank minus the second's (positive:
    the second ranks the expected passage higher); a passage not in a top 100 counts as rank 101.
    """
    if not reports:
        return pd.DataFrame(columns=["query", "expected passage"])
    labels = _unique_labels(reports)
    by_model = [{q.query_id: q for q in report.per_query} for report in reports]
    query_ids = list(dict.fromkeys(qid for results in by_model for qid in results))
    table = pd.DataFrame(index=query_ids)
    any_result = {qid: next(results[qid] for results in by_model if qid in results) for qid in query_ids}
    passages = {pid: text for report in reports for pid, text in report.passages.items()}
    table["query"] = [any_result[qid].question for qid in query_ids]
    table["expected passage"] = [passages.get(any_result[qid].expected_ids[0], "") for qid in query_ids]
    for label, results in zip(labels, by_model, strict=True):
        table[f"rank · {label}"] = pd.array(
            [results[q].rank if q in results else None for q in query_ids], dtype="Int64"
        )
    for label, results in zip(labels, by_model, strict=True):
        table[f"top passage · {label}"] = [
            passages.get(results[q].top_id, results[q].top_id) if q in results else None for q in query_ids
        ]
    if len(reports) >= 2:
        first, second = (table[f"rank · {label}"].fillna(TOP_K + 1) for label in labels[:2])
        table[f"rank gain · {labels[1]} vs {labels[0]}"] = first - second
    return table.reset_index(drop=True)


def _unique_labels(reports: list[RetrievalReport]) -> list[str]:
    """Report names, numbered where two share one, so each model gets its own columns."""
    labels, seen = [], {}
    for report in reports:
        seen[report.name] = seen.get(report.name, 0) + 1
        labels.append(report.name if seen[report.name] == 1 else f"{report.name} ({seen[report.name]})")
    return labels


def style_table(
    reports: list[RetrievalReport], styles: dict[str, str], base: str | None = None, n_resamples: int = 1000
) -> pd.DataFrame:
    """Every model overall and per style (evaluation.slices.slice_table), the `base` model (its report
    name; absent or None: the first report) first, and each other model's paired gain over it in
    hit@5 and MRR@10 as "+0.030 [-0.060, +0.120]" (the bootstrap 95% interval)."""
    if not reports:
        return pd.DataFrame()
    ordered = sorted(reports, key=lambda report: report.name != base) if base else list(reports)
    table = slice_table(ordered, styles, n_resamples=n_resamples)
    for metric in GAIN_METRICS:
        columns = [f"{metric} gain{end}" for end in ("", " low", " high")]
        table[f"{metric} gain [95% CI]"] = [
            "" if pd.isna(gain) else f"{gain:+.3f} [{low:+.3f}, {high:+.3f}]"
            for gain, low, high in table[columns].itertuples(index=False)
        ]
        table = table.drop(columns=columns)
    return table.rename(columns={"slice": "style"})
