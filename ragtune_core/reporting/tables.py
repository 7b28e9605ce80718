"""A comparison's tables as people read them: headers in words, rates to three decimals, intervals
as "0.840–0.910", gains in points, p-values as "< 0.001"; the queries that tell the models apart.

Slices are what the comparison's data already names: a router query's right tool and that tool's
kind (vector or summary), a retrieval question's document and its style (an evidence set's), and for
both whether the query's document had questions in the training part (seen) or not (unseen): a split
by document holds whole documents out, so its validation and test queries are all unseen."""

from __future__ import annotations

import pandas as pd

from ..questions.qa_dataset import TRAIN, QADataset, document_of
from ..questions.router.tools import dataset_tools
from ..routing.compare import RouterComparison
from ..routing.stats import pairwise_mcnemar
from .headline import format_p, points
from .scores import Delta, Scores

EXAMPLES = 10  # wins and regressions shown
SEEN_SLICE, SEEN, UNSEEN = "Document seen in training", "seen", "unseen"


def score_table(scores: Scores) -> pd.DataFrame:
    """One row per model: its score and interval, its gain over the base with the paired interval and
    McNemar's p, its latency and cost where known."""
    gains = {d.model.name: d for d in scores.deltas}
    rows = []
    for model in scores.models:
        gain = gains.get(model.name)
        rows.append(
            {
                "Model": model.name,
                scores.metric.capitalize(): f"{model.value:.3f}",
                "95% interval": f"{model.ci_low:.3f}–{model.ci_high:.3f}",
                "Gain over base, points [95% CI]": _gain(gain) if gain else "base",
                "p (McNemar)": format_p(gain.p_value) if gain else "",
                "ms per query": None if model.latency_ms is None else f"{model.latency_ms:,.1f}",
                "USD per 1,000 queries": None if model.usd_per_1000 is None else f"{model.usd_per_1000:,.4f}",
            }
        )
    table = pd.DataFrame(rows)
    return table.dropna(axis="columns", how="all")


def mcnemar_words(comparison: RouterComparison) -> pd.DataFrame:
    """McNemar's test between every two selectors, in words, the verdict first (a narrow table keeps it in view)."""
    rows = [
        {
            "Selector A": t.a,
            "Selector B": t.b,
            "Verdict": t.verdict(),
            "p-value": format_p(t.p_value),
            "Right only by A": t.a_only,
            "Right only by B": t.b_only,
            "Test": t.method,
        }
        for t in pairwise_mcnemar(comparison)
    ]
    return pd.DataFrame(
        rows, columns=["Selector A", "Selector B", "Verdict", "p-value", "Right only by A", "Right only by B", "Test"]
    )


def slice_scores(scores: Scores, slice_of: dict[str, str], slice_name: str) -> pd.DataFrame:
    """Each model's score per slice ({query id: slice}), a slice's queries counted, rounded."""
    rows = []
    for name in dict.fromkeys(slice_of.values()):
        members = [q for q, s in slice_of.items() if s == name]
        row = {slice_name: name, "Queries": len(members)}
        for model in scores.models:
            values = [model.hits[q] for q in members if q in model.hits]
            row[model.name] = f"{sum(values) / len(values):.3f}" if values else ""
        rows.append(row)
    return pd.DataFrame(rows)


def router_slices(comparison: RouterComparison, dataset: QADataset) -> dict[str, dict[str, str]]:
    """{slice kind: {query id: slice}}: the right tool, and the right tool's kind when there are several."""
    names = [choice.name for choice in comparison.choices]
    tool_of = {q: names[want] for q, want in zip(comparison.query_ids, comparison.expected, strict=True)}
    kinds = {tool.name: tool.kind for tool in dataset_tools(dataset)}
    slices = {"Right tool": tool_of}
    if len({kinds.get(t) for t in tool_of.values()}) > 1:
        slices["Tool kind"] = {q: kinds.get(tool) or "other" for q, tool in tool_of.items()}
    return slices | seen_slice(dataset, comparison.query_ids)


def retrieval_slices(dataset: QADataset, query_ids: list[str]) -> dict[str, dict[str, str]]:
    """{slice kind: {query id: slice}}: the document of the expected passage, and the question's style."""
    slices = {}
    documents = {
        q: dataset.passage_docs.get(dataset.relevant_docs[q][0], "") for q in query_ids if dataset.relevant_docs.get(q)
    }
    if len(set(documents.values())) > 1:
        slices["Document"] = documents
    styles = {q: s for q, s in dataset.styles.items() if q in set(query_ids)}
    if styles:
        slices["Question style"] = styles
    return slices | seen_slice(dataset, query_ids)


def seen_slice(dataset: QADataset, query_ids: list[str]) -> dict[str, dict[str, str]]:
    """{SEEN_SLICE: {query id: SEEN or UNSEEN}}: whether the document of the query's first expected passage
    (a router query's right tool's) had questions in the training part; {} for a dataset without one."""
    documents = {q: document_of(dataset, q) for q, passages in dataset.relevant_docs.items() if passages}
    trained = {documents[q] for q, part in dataset.split.items() if part == TRAIN and q in documents}
    if not trained:
        return {}
    return {SEEN_SLICE: {q: SEEN if documents[q] in trained else UNSEEN for q in query_ids if q in documents}}


def wins_and_regressions(
    delta: Delta, texts: dict[str, str], ranks: dict[str, dict[str, int | None]] | None = None, limit: int = EXAMPLES
) -> pd.DataFrame:
    """The queries `delta.model` gets right and the base wrong (wins), then the other way round
    (regressions), at most `limit` of each. With `ranks` ({model: {query id: rank of the right
    passage, None beyond the top 100}}), the biggest moves in rank first, each shown as "9 → 1"."""
    model, base = delta.model, delta.base
    common = [q for q in base.hits if q in model.hits]
    wins = [q for q in common if model.hits[q] > base.hits[q]]
    losses = [q for q in common if model.hits[q] < base.hits[q]]
    moved = {}
    if ranks:
        before, after = ranks.get(base.name, {}), ranks.get(model.name, {})
        moved = {q: f"{_rank(before.get(q))} → {_rank(after.get(q))}" for q in wins + losses}
        wins.sort(key=lambda q: _depth(after.get(q)) - _depth(before.get(q)))
        losses.sort(key=lambda q: _depth(before.get(q)) - _depth(after.get(q)))
    rows = [
        {"": kind, "Query": texts.get(q, q), "Rank, base → model": moved.get(q, ""), "Query id": q}
        for kind, chosen in (("win", wins[:limit]), ("regression", losses[:limit]))
        for q in chosen
    ]
    table = pd.DataFrame(rows, columns=["", "Query", "Rank, base → model", "Query id"])
    return table if ranks else table.drop(columns="Rank, base → model")


def _rank(rank: int | None) -> str:
    return "not in top 100" if rank is None else str(rank)


def _depth(rank: int | None) -> int:
    return 101 if rank is None else rank


def _gain(delta: Delta) -> str:
    return f"{points(delta.gain)} [{points(delta.ci_low)}, {points(delta.ci_high)}]"
