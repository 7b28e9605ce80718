"""McNemar's test between two selectors (against scipy's binomial test and hand-computed chi-square
values) and a fine-tuned LLM's agreement with its teacher."""

import math

import pytest
from scipy.stats import binomtest

from ragtune_core.routing.compare import RouterComparison, SelectorReport
from ragtune_core.routing.selectors import Choice
from ragtune_core.routing.stats import (
    CHI_SQUARE,
    EXACT,
    agreement,
    match_rate_gain,
    mcnemar,
    mcnemar_p,
    pairwise_mcnemar,
    teacher_agreement,
)

CHOICES = [Choice("a", "tool_a", "A"), Choice("b", "tool_b", "B"), Choice("c", "tool_c", "C")]


def report(name: str, picks: list, kind: str = "", model: str = "") -> SelectorReport:
    return SelectorReport(
        name, 0.0, (0.0, 0.0), 0.001, sum(p is None for p in picks), picks, [[] for _ in picks], kind=kind, model=model
    )


def comparison(expected: list[int], *reports: SelectorReport, queries: list[str] | None = None) -> RouterComparison:
    queries = queries or [f"q{i}" for i in range(len(expected))]
    return RouterComparison("route-1", "d", "val", 1.0, queries, queries, CHOICES, expected, list(reports))


def paired(both: int, a_only: int, b_only: int, neither: int) -> tuple[list[int], list, list]:
    """Picks of two selectors with the given 2x2 table (choice 0 is always right)."""
    n = both + a_only + b_only + neither
    expected = [0] * n
    a = [0] * both + [0] * a_only + [1] * b_only + [None] * neither
    b = [0] * both + [2] * a_only + [0] * b_only + [1] * neither
    return expected, a, b


@pytest.mark.parametrize("a_only, b_only", [(0, 5), (5, 0), (3, 9), (7, 7), (1, 12), (12, 12), (0, 24)])
def test_few_discordant_pairs_use_the_exact_binomial_test(a_only, b_only):
    p_value, method, statistic = mcnemar_p(a_only, b_only)
    assert method == EXACT and statistic is None
    assert p_value == pytest.approx(binomtest(a_only, a_only + b_only, 0.5).pvalue, rel=1e-12)


def test_exact_values_by_hand():
    assert mcnemar_p(0, 5)[0] == pytest.approx(2 / 2**5)  # both tails of 5 coin flips all one way
    assert mcnemar_p(1, 5)[0] == pytest.approx(2 * (1 + 6) / 2**6)
    assert mcnemar_p(4, 4)[0] == 1.0
    assert mcnemar_p(0, 0) == (1.0, EXACT, None)


def chi2_1_sf(x: float) -> float:
    """P(X > x) for chi-square with one degree of freedom: X = Z^2, so 2 P(Z > sqrt x) = erfc(sqrt(x / 2))."""
    return math.erfc(math.sqrt(x / 2))


@pytest.mark.parametrize(
    "a_only, b_only, statistic",
    [
        (10, 30, 9.025),  # (|10 - 30| - 1)^2 / 40
        (20, 20, 0.025),  # (0 - 1)^2 / 40
        (5, 20, 7.84),  # 14^2 / 25: exactly 25 discordant pairs is chi-square
        (60, 40, 3.61),
    ],
)
def test_many_discordant_pairs_use_chi_square_with_continuity_correction(a_only, b_only, statistic):
    p, method, chi2 = mcnemar_p(a_only, b_only)
    assert method == CHI_SQUARE and chi2 == pytest.approx(statistic) and p == pytest.approx(chi2_1_sf(statistic))
    assert mcnemar_p(10, 30)[0] == pytest.approx(0.002663, rel=1e-3)  # the chi-square(1) table's value


def test_negative_counts_are_refused():
    with pytest.raises(ValueError, match="cannot be negative"):
        mcnemar_p(-1, 3)


def test_mcnemar_counts_the_discordant_queries_of_two_reports_failures_as_misses():
    expected, a, b = paired(both=40, a_only=18, b_only=4, neither=9)
    test = mcnemar(report("A", a), report("B", b), expected)
    assert (test.a_only, test.b_only, test.method) == (18, 4, EXACT)
    assert test.p_value == pytest.approx(binomtest(4, 22, 0.5).pvalue)
    assert test.p_value < 0.05 and test.better == "A" and test.verdict() == "A (p < 0.05)"
    tied = mcnemar(report("A", [0, 1, None]), report("B", [1, 0, 0]), [0, 0, 0])
    assert (tied.a_only, tied.b_only) == (1, 2) and tied.better is None
    assert tied.verdict() == "no significant difference (p ≥ 0.05)"
    assert tied.to_dict()["better"] is None


def test_every_pair_of_a_comparison_and_its_table():
    expected, a, b = paired(both=5, a_only=30, b_only=5, neither=2)
    c = [0] * len(expected)  # always right
    shown = comparison(expected, report("A", a), report("B", b), report("C", c))
    tests = pairwise_mcnemar(shown)
    assert [(t.a, t.b) for t in tests] == [("A", "B"), ("A", "C"), ("B", "C")]
    assert [(t.a_only, t.b_only) for t in tests] == [(30, 5), (0, 7), (0, 32)]
    assert tests[0].method == CHI_SQUARE and tests[0].better == "A"
    assert tests[0].p_value == pytest.approx(chi2_1_sf(24**2 / 35))
    assert tests[1].method == EXACT and tests[1].p_value == pytest.approx(2 / 2**7)
    assert [t.verdict() for t in tests] == ["A (p < 0.05)", "C (p < 0.05)", "C (p < 0.05)"]
    assert pairwise_mcnemar(comparison(expected, report("A", a))) == []


# --- agreement with a teacher -----------------------------------------------------------------
def test_agreement_counts_only_queries_the_teacher_picked_for():
    assert agreement([0, 1, None, 2], [0, 2, 1, None]) == (pytest.approx(1 / 3), 3)
    assert agreement([0, 1], [None, None]) == (None, 0)
    with pytest.raises(ValueError, match="2 picks for 3"):
        agreement([0, 1], [0, 1, 2])


def test_the_teacher_llm_selector_is_found_by_its_model():
    expected = [0, 1, 2, 0]
    ft = report("fine-tuned LLM · m", [0, 1, 1, None], kind="finetuned_llm", model="/models/m")
    teacher = report("LLM · big", [0, 1, 2, 0], kind="llm", model="big")
    other = report("LLM · other", [0, 1, 1, 1], kind="llm", model="other")
    shown = comparison(expected, ft, teacher, other)
    found = teacher_agreement(shown, ft.name, teacher_model="big")
    assert (found.teacher, found.agreement, found.queries) == ("LLM · big", 0.5, 4)
    assert teacher_agreement(shown, ft.name, teacher_model="other").agreement == 0.75
    # two LLM selectors and no known teacher: neither is taken for it
    assert teacher_agreement(shown, ft.name) is None
    only = teacher_agreement(comparison(expected, ft, other), ft.name)
    assert (only.teacher, only.agreement) == ("LLM · other", 0.75)


def test_stored_teacher_labels_stand_in_when_the_teacher_did_not_run():
    queries = ["knead?", "moons?", "vat?", "summary?"]
    ft = report("fine-tuned LLM · m", [0, 1, 1, 2], kind="finetuned_llm")
    shown = comparison([0, 1, 2, 2], ft, report("embedding", [0, 0, 0, 0], kind="embedding"), queries=queries)
    labels = {"knead?": "tool_a", "moons?": "tool_c", "summary?": "tool_c", "not asked": "tool_a"}
    found = teacher_agreement(shown, ft.name, "big", labels)
    assert (found.teacher, found.agreement, found.queries) == ("stored labels of big", pytest.approx(2 / 3), 3)
    assert teacher_agreement(shown, ft.name, "big", {}) is None


def test_a_match_rate_gain_is_paired_and_counts_a_failure_as_a_miss():
    routed = comparison([0, 0, 1, 2], report("old", [0, None, 0, 2]), report("new", [0, 0, 1, 1]))
    gain = match_rate_gain(routed, "old", "new")
    assert (gain.metric, gain.base, gain.other, gain.queries) == ("match rate", 0.5, 0.75, 4)
    assert gain.gain == pytest.approx(0.25) and gain.ci_low < 0.25 < gain.ci_high  # 4 queries: a wide interval
    assert match_rate_gain(routed, "new", "old").gain == pytest.approx(-0.25)
