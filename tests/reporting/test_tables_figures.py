"""Tables and charts for people: worded headers, rounded values, p-values with a floor, slices and
examples; value labels above the whiskers of grouped bars too; latency and the plane from zero; one
query's tool scores with each selector on its own scale."""

from dataclasses import replace

import pandas as pd

from ragtune_core.evaluation.tables import comparison_table
from ragtune_core.questions.qa_dataset import QADataset
from ragtune_core.reporting.figures import metric_bars, tool_scores_chart, tradeoff_chart
from ragtune_core.reporting.scores import retrieval_scores, router_scores
from ragtune_core.reporting.tables import (
    SEEN,
    SEEN_SLICE,
    UNSEEN,
    mcnemar_words,
    retrieval_slices,
    router_slices,
    score_table,
    slice_scores,
    wins_and_regressions,
)
from tests.reporting.fixtures import retrieval_report, router_comparison

RIGHT, LATENCY = {"base": 50, "tuned": 90}, {"base": 0.010, "tuned": 0.021}


def test_score_table_reads_in_words_with_rounded_values_and_a_p_value_floor():
    table = score_table(router_scores(router_comparison(RIGHT, LATENCY)))
    assert list(table.columns) == [
        "Model",
        "Match rate",
        "95% interval",
        "Gain over base, points [95% CI]",
        "p (McNemar)",
        "ms per query",
    ]  # no cost column where no cost is known
    base, tuned = table.to_dict("records")
    assert base["Match rate"] == "0.500" and base["Gain over base, points [95% CI]"] == "base"
    assert tuned["p (McNemar)"] == "< 0.001" and tuned["ms per query"] == "21.0"
    assert tuned["Gain over base, points [95% CI]"].startswith("+40.0 [+")


def test_mcnemar_words_puts_the_verdict_first_and_floors_p():
    (row,) = mcnemar_words(router_comparison(RIGHT, LATENCY)).to_dict("records")
    assert list(row)[:4] == ["Selector A", "Selector B", "Verdict", "p-value"]
    assert row["Verdict"] == "tuned (p < 0.05)" and row["p-value"] == "< 0.001"


def test_slices_and_examples():
    scores = router_scores(router_comparison(RIGHT, LATENCY, n=100))
    halves = {f"q{i}": "first half" if i < 50 else "second half" for i in range(100)}
    table = slice_scores(scores, halves, "Half")
    assert table.to_dict("records") == [
        {"Half": "first half", "Queries": 50, "base": "1.000", "tuned": "1.000"},
        {"Half": "second half", "Queries": 50, "base": "0.000", "tuned": "0.800"},
    ]
    examples = wins_and_regressions(scores.deltas[0], {f"q{i}": f"query {i}" for i in range(100)})
    assert list(examples[""]) == ["win"] * 10 and examples["Query"].iloc[0] == "query 50"


def test_retrieval_examples_put_the_biggest_rank_moves_first():
    base = retrieval_report("base", [9, 3, None, 1, 1], report_id="e1")
    tuned = retrieval_report("tuned", [2, 1, 1, 7, None], report_id="e2")
    scores = retrieval_scores([base, tuned])
    ranks = {r.name: {q.query_id: q.rank for q in r.per_query} for r in (base, tuned)}
    table = wins_and_regressions(scores.deltas[0], {}, ranks)
    assert table[["", "Query id", "Rank, base → model"]].values.tolist() == [
        ["win", "q2", "not in top 100 → 1"],
        ["win", "q0", "9 → 2"],
        ["regression", "q4", "1 → not in top 100"],
        ["regression", "q3", "1 → 7"],
    ]


def test_grouped_metric_bars_label_each_value_above_its_whisker_in_its_group():
    reports = [retrieval_report("base", [9, 1, None, 2]), retrieval_report("tuned", [1, 1, 2, 1], report_id="e2")]
    figure = metric_bars(comparison_table(reports), ("accuracy@1", "mrr@10"))
    assert figure.layout.scattermode == "group" and figure.layout.barmode == "group"
    for bar, labels in zip(figure.data[::2], figure.data[1::2], strict=True):
        assert labels.offsetgroup == bar.offsetgroup and labels.textposition == "top center"
        assert list(labels.y) == [v + e for v, e in zip(bar.y, bar.error_y.array, strict=True)]
    assert list(figure.data[0].x) == ["hit rate@1", "MRR@10"] and figure.layout.xaxis.title.text.startswith("Metric")


def test_the_plane_starts_latency_at_zero_and_names_the_cost_where_known():
    scores = router_scores(router_comparison(RIGHT, LATENCY), usd_per_1000={"tuned": 0.42})
    figure = tradeoff_chart(scores)
    assert figure.layout.xaxis.range[0] == 0 and figure.layout.xaxis.type == "linear"
    assert list(figure.data[0].text) == ["base", "tuned · $0.42 per 1,000"]
    assert retrieval_scores([retrieval_report("base", [1, 2])]).models[0].latency_ms is None


def test_labels_of_points_close_together_on_the_plane_go_above_and_below():
    # emb and emb + word match at the same latency and score, a reranker far right (its label on its left,
    # inside the plot): no label covers another.
    reports = [
        replace(retrieval_report("emb", [1, 2, 9]), latency_ms=6.0),
        replace(retrieval_report("reranked", [1, 1, 9], report_id="e2"), latency_ms=390.0),
        replace(retrieval_report("emb + word match", [1, 2, 9], report_id="e3"), latency_ms=6.1),
    ]
    figure = tradeoff_chart(retrieval_scores(reports))
    assert list(figure.data[0].textposition) == ["top right", "middle left", "bottom right"]
    # three MiniLMs of about one latency, two at one score (4.2 and 3.6 ms apart by a seventh of the plane)
    routed = router_comparison({"base": 27, "tuned": 42, "reranker": 42}, {"base": 3.9, "tuned": 3.6, "reranker": 4.2})
    assert list(tradeoff_chart(router_scores(routed)).data[0].textposition) == [
        "middle left",
        "top left",
        "bottom left",
    ]


def _split_dataset(documents: dict[str, str], split: dict[str, str], kind: str = "qa") -> QADataset:
    """Query q<i> answered by passage p<i> (a router's tool), which is from documents[q<i>]; split as given."""
    return QADataset(
        {q: f"question {q}" for q in documents},
        {f"p{q[1:]}": "text" for q in documents},
        {q: [f"p{q[1:]}"] for q in documents},
        passage_docs={f"p{q[1:]}": d for q, d in documents.items()},
        split=split,
        kind=kind,
    )


def test_scores_split_by_whether_the_questions_document_had_training_questions():
    # Split by question: q0 trains on doc A, so q1 (validation, doc A) is seen and q2 (validation, doc B) unseen.
    dataset = _split_dataset(
        {"q0": "A", "q1": "A", "q2": "B", "q3": "B"}, {"q0": "train", "q1": "val", "q2": "val", "q3": "test"}
    )
    reports = [retrieval_report("base", [None, 1, 1]), retrieval_report("tuned", [1, 1, None])]
    slices = retrieval_slices(dataset, ["q1", "q2"])
    assert slices[SEEN_SLICE] == {"q1": SEEN, "q2": UNSEEN}
    table = slice_scores(retrieval_scores(reports), slices[SEEN_SLICE], SEEN_SLICE).to_dict("records")
    assert table == [
        {SEEN_SLICE: SEEN, "Queries": 1, "base": "1.000", "tuned": "1.000"},
        {SEEN_SLICE: UNSEEN, "Queries": 1, "base": "1.000", "tuned": "0.000"},
    ]


def test_a_router_query_is_seen_by_its_right_tools_document_and_an_unsplit_dataset_has_no_such_slice():
    comparison = router_comparison({"base": 2, "tuned": 3}, {"base": 0.01, "tuned": 0.02}, n=3)  # every query: tool a
    comparison.expected = [0, 1, 1]  # q0 wants tool a (doc A), q1 and q2 tool b (doc B)
    router = QADataset(
        {"q0": "x", "q1": "y", "q2": "z", "t": "w"},
        {"a": "tool a", "b": "tool b"},
        {"q0": ["a"], "q1": ["b"], "q2": ["b"], "t": ["a"]},
        passage_docs={"a": "A", "b": "B"},
        split={"t": "train", "q0": "val", "q1": "val", "q2": "val"},
        kind="router",
    )
    assert router_slices(comparison, router)[SEEN_SLICE] == {"q0": SEEN, "q1": UNSEEN, "q2": UNSEEN}
    unsplit = _split_dataset({"q0": "A", "q1": "B"}, {})
    assert SEEN_SLICE not in retrieval_slices(unsplit, ["q0", "q1"])


def test_one_querys_tool_scores_put_each_selector_on_its_own_scale_with_its_pick_in_colour():
    tools = ["vector_tool_berlin", "summary_tool_berlin", "vector_tool_boston"]
    scores = pd.DataFrame(
        {"embedding": [0.31, 0.12, -0.2], "cross-encoder": [2.5, 7.9, -4.0], "LLM": [float("nan")] * 3},
        index=pd.Index(tools, name="tool"),
    )
    figure = tool_scores_chart(scores)
    embedding, cross_encoder, llm = figure.data
    assert [bar.yaxis for bar in figure.data] == ["y", "y2", "y3"], "a panel and a scale per selector"
    assert not figure.layout.yaxis2.matches, "the cross-encoder's scale is its own, not the cosines'"
    assert [a.text for a in figure.layout.annotations] == ["embedding", "cross-encoder", "LLM"]
    grey = "lightgrey"
    assert list(embedding.marker.color)[1:] == [grey, grey] and embedding.marker.color[0] != grey
    assert list(cross_encoder.marker.color) == [grey, cross_encoder.marker.color[1], grey]
    assert cross_encoder.marker.color[1] != grey and set(llm.marker.color) == {grey}, "no selection: no pick"
