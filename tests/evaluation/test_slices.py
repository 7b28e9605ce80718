"""Metrics per slice of the queries and paired gains between two models, from per-query ranks."""

import pytest

from ragtune_core.evaluation.metrics import METRIC_NAMES, QueryResult, metric_matrix
from ragtune_core.evaluation.retrieval import RetrievalReport
from ragtune_core.evaluation.slices import metrics_by_slice, paired_gain, slice_table


def report(name: str, ranks: dict[str, int | None]) -> RetrievalReport:
    """A report whose query `qid` found its one right passage at `ranks[qid]` (None: not in the top 100)."""
    per_query = [
        QueryResult(
            qid,
            f"question {qid}",
            ["right"],
            rank,
            "right" if rank == 1 else "wrong",
            0.5,
            ["right" if rank == 1 else "wrong"],
            [] if rank is None else [rank],
        )
        for qid, rank in ranks.items()
    ]
    metrics = dict(zip(METRIC_NAMES, metric_matrix(per_query).mean(axis=0).tolist(), strict=True))
    return RetrievalReport(name, "all", metrics, per_query, {}, 100)


STYLES = {"a": "terse", "b": "terse", "c": "synonym", "d": "synonym", "e": "topic"}


def test_metrics_by_slice_computed_by_hand():
    base = report("base", {"a": 1, "b": 4, "c": None, "d": 2, "e": 12})
    by_style = metrics_by_slice(base, STYLES)
    assert list(by_style) == ["terse", "synonym", "topic"]  # in the order the styles first appear
    assert by_style["terse"] == pytest.approx(
        {"accuracy@1": 0.5, "accuracy@5": 1.0, "accuracy@10": 1.0, "mrr@10": (1 + 1 / 4) / 2, "queries": 2}
    )
    assert by_style["synonym"] == pytest.approx(
        {"accuracy@1": 0.0, "accuracy@5": 0.5, "accuracy@10": 0.5, "mrr@10": 0.25, "queries": 2}
    )
    assert by_style["topic"] == pytest.approx(
        {"accuracy@1": 0.0, "accuracy@5": 0.0, "accuracy@10": 0.0, "mrr@10": 0.0, "queries": 1}
    )


def test_queries_without_a_slice_and_slices_without_queries_are_left_out():
    partial = report("base", {"a": 1, "x": 1})
    assert metrics_by_slice(partial, STYLES) == {
        "terse": pytest.approx({"accuracy@1": 1.0, "accuracy@5": 1.0, "accuracy@10": 1.0, "mrr@10": 1.0, "queries": 1})
    }
    assert metrics_by_slice(partial, {}) == {}


def test_paired_gain_is_the_mean_difference_with_a_paired_interval():
    ranks = {f"q{i}": 1 + i % 7 for i in range(60)}
    base = report("base", ranks)
    same = paired_gain(base, report("copy", ranks), "mrr@10")
    assert (same.gain, same.ci_low, same.ci_high, same.queries) == (0.0, 0.0, 0.0, 60)  # paired: no noise at all

    better = report("better", {q: max(1, r - 1) for q, r in ranks.items()})  # every query one rank up or at 1
    gain = paired_gain(base, better, "mrr@10")
    assert gain.gain == pytest.approx(better.metrics["mrr@10"] - base.metrics["mrr@10"])
    assert (gain.base, gain.other) == pytest.approx((base.metrics["mrr@10"], better.metrics["mrr@10"]))
    assert 0 < gain.ci_low < gain.gain < gain.ci_high and gain.above_zero

    worse = paired_gain(better, base, "accuracy@5")
    assert worse.gain < 0 and worse.ci_high <= 0 and not worse.above_zero


def test_paired_gain_pairs_only_the_queries_both_answered_and_a_slice():
    base = report("base", {"a": 1, "b": 3, "c": None})
    other = report("other", {"b": 1, "c": 1, "z": 1})
    gain = paired_gain(base, other, "accuracy@1")
    assert (gain.queries, gain.base, gain.other) == (2, 0.0, 1.0)
    only_b = paired_gain(base, other, "mrr@10", query_ids={"b"})
    assert (only_b.queries, only_b.gain) == (1, pytest.approx(1 - 1 / 3))
    with pytest.raises(ValueError, match="no query in common"):
        paired_gain(base, report("stranger", {"y": 1}), "mrr@10")


def test_slice_table_has_every_model_overall_and_per_slice_with_gains_over_the_first():
    base = report("base", {"a": 1, "b": 4, "c": None, "d": 2, "e": 12})
    tuned = report("tuned", {"a": 1, "b": 1, "c": 3, "d": 1, "e": 12})
    table = slice_table([base, tuned], STYLES, n_resamples=200)
    assert list(zip(table["model"], table["slice"], table["queries"], strict=True)) == [
        ("base", "all", 5),
        ("base", "terse", 2),
        ("base", "synonym", 2),
        ("base", "topic", 1),
        ("tuned", "all", 5),
        ("tuned", "terse", 2),
        ("tuned", "synonym", 2),
        ("tuned", "topic", 1),
    ]
    rows = table.set_index(["model", "slice"])
    assert rows.loc[("tuned", "all"), "accuracy@5"] == pytest.approx(0.8)
    assert rows.loc[("tuned", "synonym"), "accuracy@5 gain"] == pytest.approx(0.5)
    assert rows.loc[("tuned", "topic"), "mrr@10 gain"] == 0.0
    assert rows.loc[("base", "all")].isna()["accuracy@5 gain"]  # the base has no gain over itself
    low, gain, high = (rows.loc[("tuned", "all"), f"mrr@10 gain{end}"] for end in (" low", "", " high"))
    assert low <= gain <= high and gain == pytest.approx(tuned.metrics["mrr@10"] - base.metrics["mrr@10"])
    assert list(slice_table([base])["slice"]) == ["all"]  # no slices: overall only
