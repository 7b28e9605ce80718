"""Retrieval metrics per query (hit, precision, recall, MRR, nDCG, MAP at k) and bootstrap intervals.

Every metric is the mean of a per-query value, so each comes with a bootstrap confidence interval.
To add a metric, add its per-query function to _METRIC_VALUES and its name to METRIC_NAMES."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..errors import RagtuneError
from ..store.shapes import FILE_SHAPE

ACCURACY_AT = (1, 3, 5, 10)
PRECISION_RECALL_AT = (1, 3, 5, 10)
METRIC_NAMES = (
    *(f"accuracy@{k}" for k in ACCURACY_AT),
    *(f"precision@{k}" for k in PRECISION_RECALL_AT),
    *(f"recall@{k}" for k in PRECISION_RECALL_AT),
    "ndcg@10",
    "mrr@10",
    "map@100",
)
TOP_K = 100  # the evaluator's largest cut-off (map@100): ranks beyond it are "not found"


class EvaluationError(RagtuneError):
    """An evaluation request that cannot work (a metric, a cut-off, a sample); the message names it."""


@dataclass
class QueryResult:
    __pydantic_config__ = FILE_SHAPE  # as a saved report holds it

    query_id: str
    question: str
    expected_ids: list[str]
    rank: int | None  # 1-based rank of the first relevant passage; None if not in the top 100
    top_id: str
    top_score: float
    ranked_ids: list[str]  # the top 10
    relevant_ranks: list[int]  # ranks of all relevant passages in the top 100, ascending


def per_query_metric_values(per_query: list[QueryResult], metric: str) -> np.ndarray:
    """Each query's contribution to `metric` (hit 0/1, reciprocal rank, nDCG...): their mean is the metric."""
    kind, k = _parse_metric(metric)
    ranks, n_relevant = _rank_matrix(per_query)
    return _METRIC_VALUES[kind](ranks, n_relevant, k)


def bootstrap_ci(
    per_query_values: np.ndarray, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, resampling queries with replacement."""
    lows, highs = bootstrap_bounds(np.asarray(per_query_values, dtype=float)[:, None], n_resamples, confidence, seed)
    return float(lows[0]), float(highs[0])


def bootstrap_bounds(
    values: np.ndarray, n_resamples: int, confidence: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Interval bounds for each column of a queries x metrics matrix, all from the same resamples.

    A resample is a vector of how often each query was drawn, so a block of resample means is
    one matrix product (counts @ values) rather than a gather per metric.
    """
    n = values.shape[0]
    if n == 0:
        raise ValueError("no values to bootstrap")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    rng = np.random.default_rng(seed)
    means = np.empty((n_resamples, values.shape[1]))
    per_block = max(1, 2_000_000 // n)  # bounds the draws held in memory at once
    for start in range(0, n_resamples, per_block):
        size = min(n_resamples, start + per_block) - start
        draws = rng.integers(0, n, size=(size, n)) + n * np.arange(size)[:, None]
        counts = np.bincount(draws.ravel(), minlength=size * n).reshape(size, n)
        means[start : start + size] = counts @ values / n
    tail = (1 - confidence) / 2
    return np.quantile(means, tail, axis=0), np.quantile(means, 1 - tail, axis=0)


def metric_matrix(per_query: list[QueryResult]) -> np.ndarray:
    """Queries x METRIC_NAMES: every query's value of every metric."""
    ranks, n_relevant = _rank_matrix(per_query)
    return np.column_stack([_METRIC_VALUES[kind](ranks, n_relevant, k) for kind, k in map(_parse_metric, METRIC_NAMES)])


def _parse_metric(metric: str) -> tuple[str, int]:
    match = re.fullmatch(r"([a-z]+)@(\d+)", metric)
    if not match or match[1] not in _METRIC_VALUES or not 1 <= int(match[2]) <= TOP_K:
        raise EvaluationError(f"unknown metric {metric!r}: use one of {', '.join(METRIC_NAMES)} (k up to {TOP_K})")
    return match[1], int(match[2])


def _rank_matrix(per_query: list[QueryResult]) -> tuple[np.ndarray, np.ndarray]:
    """Relevant ranks per query, padded with inf (not found), and each query's relevant count."""
    width = max([1, *(len(q.relevant_ranks) for q in per_query)])
    ranks = np.full((len(per_query), width), np.inf)
    for row, result in enumerate(per_query):
        ranks[row, : len(result.relevant_ranks)] = result.relevant_ranks
    n_relevant = np.array([len(set(q.expected_ids)) for q in per_query], dtype=float)
    return ranks, n_relevant


def _hits(ranks: np.ndarray, k: int) -> np.ndarray:
    return (ranks <= k).sum(axis=1)


def _ndcg(ranks: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    dcg = np.where(ranks <= k, 1 / np.log2(ranks + 1), 0.0).sum(axis=1)
    ideal_dcg = np.cumsum(1 / np.log2(np.arange(2, k + 2)))
    return dcg / ideal_dcg[np.minimum(n_relevant, k).astype(int) - 1]


def _average_precision(ranks: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    found_so_far = np.arange(1, ranks.shape[1] + 1)  # ranks are ascending, so column i is the (i+1)th hit
    return np.where(ranks <= k, found_so_far / ranks, 0.0).sum(axis=1) / np.minimum(k, n_relevant)


_METRIC_VALUES = {
    "accuracy": lambda ranks, n, k: (_hits(ranks, k) > 0).astype(float),
    "precision": lambda ranks, n, k: _hits(ranks, k) / k,
    "recall": lambda ranks, n, k: _hits(ranks, k) / n,
    "mrr": lambda ranks, n, k: np.where(ranks[:, 0] <= k, 1 / ranks[:, 0], 0.0),
    "ndcg": _ndcg,
    "map": _average_precision,
}
