"""Every comparison as one shape: each model's primary score per query, with its interval, latency
and cost, and each model's paired difference from the base model.

A router comparison scores a selector by its match rate (a query routed to its right tool is 1,
else 0); a retrieval comparison scores a model by its hit rate at 5 (the expected passage in its
top five). Both are means of 0/1 values per query, so the same paired statistics serve both: a
bootstrap interval of the per-query difference, and McNemar's test on the queries only one of the
two models gets right (routing.stats).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..evaluation.metrics import bootstrap_ci, per_query_metric_values
from ..evaluation.retrieval import RetrievalReport
from ..routing.compare import RouterComparison, matches
from ..routing.stats import mcnemar_p
from ..store.models import DEFAULT_BASE_MODEL

MATCH_RATE = "match rate"
HIT_RATE = "hit rate@5"
RETRIEVAL_METRIC = "accuracy@5"  # what HIT_RATE names


@dataclass
class ModelScore:
    name: str
    value: float  # the mean of `hits`
    ci_low: float  # bootstrap 95% interval of the mean
    ci_high: float
    hits: dict[str, float]  # per query id: 1.0 right, 0.0 wrong
    latency_ms: float | None = None  # mean per query; None where it was not measured
    usd_per_1000: float | None = None  # what 1,000 queries cost; None where it is not known
    kind: str = ""  # a selector's kind ("embedding", "llm", ...); "" for a retriever


@dataclass
class Delta:
    """A model against the base model on the queries both answered."""

    model: ModelScore
    base: ModelScore
    gain: float  # model - base, as a share (0.356 is 35.6 points)
    ci_low: float  # paired bootstrap 95% interval of the gain
    ci_high: float
    p_value: float  # McNemar's test on the discordant queries
    wins: int  # queries the model gets right and the base wrong
    losses: int  # ... and the other way round

    @property
    def latency_ratio(self) -> float | None:
        if self.model.latency_ms is None or not self.base.latency_ms:
            return None
        return self.model.latency_ms / self.base.latency_ms


@dataclass
class Scores:
    metric: str  # MATCH_RATE or HIT_RATE
    models: list[ModelScore]
    base: str  # the name of the model the others are measured against
    deltas: list[Delta] = field(default_factory=list)  # every model but the base, in order

    def model(self, name: str) -> ModelScore:
        return next(m for m in self.models if m.name == name)

    @property
    def timed(self) -> bool:
        """Whether any model's latency was measured (retrieval reports saved before it was have none)."""
        return any(m.latency_ms is not None for m in self.models)


def router_scores(comparison: RouterComparison, usd_per_1000: dict[str, float | None] | None = None) -> Scores:
    """A router comparison's selectors, the base being the bundled embedding model when it ran, else the first."""
    models = []
    for report in comparison.reports:
        hits = dict(zip(comparison.query_ids, matches(report.picks, comparison.expected).tolist(), strict=True))
        models.append(
            ModelScore(
                report.name,
                report.match_rate,
                *report.match_rate_ci,
                hits,
                report.mean_latency * 1000,
                (usd_per_1000 or {}).get(report.name),
                report.kind,
            )
        )
    bundled = [r.name for r in comparison.reports if r.kind == "embedding" and not r.model]
    return with_deltas(Scores(MATCH_RATE, models, bundled[0] if bundled else models[0].name))


def retrieval_scores(reports: list[RetrievalReport]) -> Scores:
    """Retrieval reports' hit rate at 5 and latency (None in reports saved before it was measured), the base
    being the bundled model when it was evaluated, else the first."""
    models = []
    for report in reports:
        values = per_query_metric_values(report.per_query, RETRIEVAL_METRIC)
        models.append(
            ModelScore(
                report.name,
                float(values.mean()),
                *bootstrap_ci(values),
                {q.query_id: float(v) for q, v in zip(report.per_query, values, strict=True)},
                report.latency_ms,
            )
        )
    names = [m.name for m in models]
    return with_deltas(Scores(HIT_RATE, models, DEFAULT_BASE_MODEL if DEFAULT_BASE_MODEL in names else names[0]))


def with_deltas(scores: Scores) -> Scores:
    base = scores.model(scores.base)
    scores.deltas = [delta(model, base) for model in scores.models if model is not base]
    return scores


def delta(model: ModelScore, base: ModelScore) -> Delta:
    """`model` against `base` on their common queries: paired bootstrap interval and McNemar's p."""
    common = [q for q in base.hits if q in model.hits]
    if not common:
        raise ValueError(f"{model.name!r} and {base.name!r} have no query in common")
    mine, theirs = np.array([model.hits[q] for q in common]), np.array([base.hits[q] for q in common])
    low, high = bootstrap_ci(mine - theirs)
    wins, losses = int(((mine > 0) & (theirs == 0)).sum()), int(((mine == 0) & (theirs > 0)).sum())
    return Delta(model, base, float((mine - theirs).mean()), low, high, mcnemar_p(wins, losses)[0], wins, losses)
