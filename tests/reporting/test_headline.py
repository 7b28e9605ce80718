"""The headline and the recommendation: each model against the base in one sentence, which to keep."""

from dataclasses import replace

import pytest

from ragtune_core.reporting.figures import tradeoff_chart
from ragtune_core.reporting.headline import format_p, headline, p_phrase, points, recommendation, speed
from ragtune_core.reporting.scores import HIT_RATE, MATCH_RATE, retrieval_scores, router_scores
from ragtune_core.store.models import DEFAULT_BASE_MODEL
from tests.reporting.fixtures import retrieval_report, router_comparison


@pytest.mark.parametrize(
    "p, table, sentence",
    [(3.6e-14, "< 0.001", "p < 0.001"), (0.0421, "0.042", "p = 0.042"), (1.0, "1.000", "p = 1.000")],
)
def test_p_values_read_as_a_floor_or_three_decimals(p, table, sentence):
    assert (format_p(p), p_phrase(p)) == (table, sentence)


def test_points_and_speed_in_words():
    assert points(0.356) == "+35.6" and points(-0.02) == "−2.0"
    assert speed(2.1) == "2.1× the latency" and speed(0.25) == "4.0× faster" and speed(1.01) == "about the same latency"
    assert speed(None) == ""


def test_router_headline_measures_each_selector_against_the_bundled_embedder():
    comparison = router_comparison(
        {"base": 50, "tuned": 90, "worse": 45}, {"base": 0.010, "tuned": 0.021, "worse": 0.2}
    )
    scores = router_scores(comparison)
    assert scores.base == "base" and scores.metric == MATCH_RATE
    tuned, worse = headline(scores)
    assert tuned.startswith("tuned: +40.0 points match rate over base [95% CI +")
    assert "p < 0.001" in tuned and tuned.endswith("2.1× the latency.")
    assert worse.startswith("worse: −5.0 points") and "20.0× the latency" in worse
    assert "p = 0.062" in worse  # exact binomial, 5 discordant queries all one way: 2 × 0.5⁵
    gain = scores.deltas[0]
    assert gain.ci_low < 0.40 < gain.ci_high and (gain.wins, gain.losses) == (40, 0)


def test_recommendation_keeps_the_best_and_names_a_faster_one_within_its_interval():
    comparison = router_comparison(
        {"base": 50, "slow-best": 90, "quick": 88}, {"base": 0.01, "slow-best": 0.4, "quick": 0.02}
    )
    text = recommendation(router_scores(comparison))
    assert text.startswith("Keep slow-best: the best match rate, 0.900 [95% CI 0.")
    assert "Where speed matters, keep quick: 0.880, within that interval, 20.0× faster." in text
    # A rival within a fifth of its latency is no faster one to keep (two MiniLMs, 4.2 and 3.6 ms in one run).
    same_speed = router_comparison(
        {"base": 50, "best": 90, "rival": 88}, {"base": 0.01, "best": 0.0042, "rival": 0.0036}
    )
    text = recommendation(router_scores(same_speed))
    assert text.endswith("None of those within its interval is faster.") and "Where speed matters" not in text


def test_recommendation_when_the_best_is_also_the_fastest_and_when_nothing_beats_the_base():
    fast_best = router_scores(
        router_comparison({"base": 50, "tuned": 90, "close": 89}, {"base": 0.05, "tuned": 0.01, "close": 0.03})
    )
    assert recommendation(fast_best).endswith("It is also the fastest of those within its interval.")
    as_fast = router_scores(
        router_comparison({"base": 50, "tuned": 90, "close": 89}, {"base": 0.05, "tuned": 0.0036, "close": 0.0039})
    )
    assert recommendation(as_fast).endswith("]."), "a rival as fast (3.6 and 3.9 ms): it is no faster than that"
    alone = router_scores(router_comparison({"base": 50, "tuned": 90}, {"base": 0.05, "tuned": 0.01}))
    assert recommendation(alone).endswith("]."), "no rival within its interval: nothing to be the fastest of"
    base_best = router_scores(router_comparison({"base": 95, "tuned": 60}, {"base": 0.01, "tuned": 0.1}))
    assert "Keep base" in recommendation(base_best) and "None of the others beats it." in recommendation(base_best)
    tuned_first = retrieval_scores(
        [retrieval_report("emb", [1, 1, 2, 1]), retrieval_report("emb + rerank ce", [1, 9, 2, 1], report_id="r-2")]
    )
    assert tuned_first.base == "emb", "no bundled model compared: the first is what the others are measured against"
    assert "Keep emb" in recommendation(tuned_first) and "base model" not in recommendation(tuned_first)


def test_retrieval_headline_uses_hit_rate_at_5_against_the_bundled_model_without_latency():
    base = retrieval_report(DEFAULT_BASE_MODEL, [1, 9, None, 2, 7, 1, None, 3])
    tuned = retrieval_report("tuned", [1, 2, 4, 1, 1, 1, 6, 2], report_id="eval-2")
    scores = retrieval_scores([tuned, base])
    assert scores.base == DEFAULT_BASE_MODEL and scores.metric == HIT_RATE
    (sentence,) = headline(scores)
    assert sentence.startswith(f"tuned: +37.5 points hit rate@5 over {DEFAULT_BASE_MODEL} [95% CI")
    assert "latency" not in sentence and "faster" not in sentence
    assert recommendation(scores).startswith("Keep tuned: the best hit rate@5, 0.875")


def test_a_retrieval_headline_and_plane_use_latency_once_it_is_measured():
    base = replace(retrieval_report(DEFAULT_BASE_MODEL, [1, 9, None, 2]), latency_ms=4.0)
    reranked = replace(retrieval_report("reranked", [1, 1, 1, 1], report_id="eval-2"), latency_ms=40.0)
    scores = retrieval_scores([base, reranked])
    (sentence,) = headline(scores)
    assert sentence.endswith(", 10.0× the latency.")
    assert list(tradeoff_chart(scores).data[0].x) == [4.0, 40.0]
    older = retrieval_scores([replace(base, latency_ms=None), replace(reranked, latency_ms=None)])
    assert not older.timed and "latency" not in headline(older)[0]
    # The best has no latency (saved before it was measured), one as good has: speed is not compared.
    untimed_best = replace(reranked, latency_ms=None)
    timed_equal = replace(retrieval_report(DEFAULT_BASE_MODEL, [1, 2, 3, 1]), latency_ms=4.0)
    assert recommendation(retrieval_scores([untimed_best, timed_equal])) == (
        "Keep reranked: the best hit rate@5, 1.000 [95% CI 1.000–1.000]."
    )


def test_a_single_model_is_stated_alone_with_nothing_to_recommend():
    scores = router_scores(router_comparison({"base": 70}, {"base": 0.01}))
    assert recommendation(scores) is None
    assert headline(scores) == [
        f"base: match rate 0.700 [95% CI {scores.models[0].ci_low:.3f}–{scores.models[0].ci_high:.3f}]."
    ]
