"""Router comparisons and retrieval reports made by hand, for the reporting tests (no model runs)."""

from ragtune_core.evaluation.metrics import METRIC_NAMES, QueryResult, bootstrap_ci, metric_matrix
from ragtune_core.evaluation.retrieval import RetrievalReport
from ragtune_core.routing.compare import RouterComparison, SelectorReport, matches
from ragtune_core.routing.selectors import Choice

CHOICES = [Choice("a", "vector_a", "A"), Choice("b", "summary_b", "B")]


def selector(
    name: str,
    picks: list,
    expected: list[int],
    latency: float,
    kind: str = "embedding",
    model: str = "",
    choices: int = 2,
) -> SelectorReport:
    hits = matches(picks, expected)
    return SelectorReport(
        name,
        float(hits.mean()),
        bootstrap_ci(hits),
        latency,
        sum(p is None for p in picks),
        picks,
        [[float(i == p) for i in range(choices)] for p in picks],
        latencies=[latency] * len(picks),
        kind=kind,
        model=model,
    )


def router_comparison(
    right: dict[str, int],
    latency: dict[str, float],
    n: int = 100,
    created: float = 1.0,
    comparison_id: str = "route-1",
    dataset_id: str = "d",
    part: str = "val",
) -> RouterComparison:
    """`n` queries, all with tool 0 right; selector `name` routes the first right[name] of them right."""
    expected = [0] * n
    reports = [
        selector(
            name,
            [0] * count + [1] * (n - count),
            expected,
            latency[name],
            "embedding" if i == 0 else "cross_encoder",
            "" if i == 0 else f"models/{name}",
        )
        for i, (name, count) in enumerate(right.items())
    ]
    ids = [f"q{i}" for i in range(n)]
    return RouterComparison(
        comparison_id, dataset_id, part, created, [f"query {i}" for i in range(n)], ids, CHOICES, expected, reports
    )


def retrieval_report(
    name: str,
    ranks: list[int | None],
    created: float = 1.0,
    report_id: str = "eval-1",
    dataset_id: str = "d",
    part: str = "val",
) -> RetrievalReport:
    per_query = [
        QueryResult(
            f"q{i}",
            f"question {i}",
            [f"p{i}"],
            rank,
            f"p{i}" if rank == 1 else "other",
            0.5,
            [f"p{i}"],
            [] if rank is None else [rank],
        )
        for i, rank in enumerate(ranks)
    ]
    metrics = dict(zip(METRIC_NAMES, metric_matrix(per_query).mean(axis=0).tolist(), strict=True))
    return RetrievalReport(name, part, metrics, per_query, {}, 10, None, dataset_id, created, report_id)
