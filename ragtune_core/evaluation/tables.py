"""Retrieval reports shaped for the Compare page: metrics with intervals, and the per-query table."""

from __future__ import annotations

import pandas as pd

from .metrics import METRIC_NAMES, TOP_K, bootstrap_bounds, metric_matrix
from .retrieval import RetrievalReport


def comparison_table(reports: list[RetrievalReport], n_resamples: int = 1000,
                     confidence: float = 0.95) -> pd.DataFrame:
    """Long form: one row per model and metric, with the metric's bootstrap interval."""
    rows = []
    for report, label in zip(reports, _unique_labels(reports)):
        lows, highs = bootstrap_bounds(metric_matrix(report.per_query), n_resamples, confidence, seed=0)
        rows += [{"model": label, "metric": metric, "value": report.metrics[metric], "ci_low": low, "ci_high": high}
                 for metric, low, high in zip(METRIC_NAMES, lows.tolist(), highs.tolist())]
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
    for label, results in zip(labels, by_model):
        table[f"rank · {label}"] = pd.array([results[q].rank if q in results else None for q in query_ids],
                                            dtype="Int64")
    for label, results in zip(labels, by_model):
        table[f"top passage · {label}"] = [passages.get(results[q].top_id, results[q].top_id) if q in results
                                           else None for q in query_ids]
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
