"""Paired statistics of a router comparison: McNemar's test between two selectors, one selector's gain in
match rate over another with its paired bootstrap interval, and how often a fine-tuned LLM picks what its
teacher picks.

Two selectors route the same queries, so their match rates are paired: what tells them apart is
only the queries one routes right and the other wrong (the discordant pairs b and c). McNemar's
test asks whether b and c differ more than chance would have them: with few discordant pairs
(b + c < 25) by the exact binomial test (b of b + c at p = 1/2, two-sided), otherwise by the
chi-square statistic with continuity correction, (|b - c| - 1)^2 / (b + c), on one degree of freedom.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from itertools import combinations

from ..evaluation.slices import PairedGain, gain_of_values
from .compare import RouterComparison, SelectorReport, matches

EXACT_BELOW = 25  # discordant pairs under which the exact binomial test is used
ALPHA = 0.05  # the level at which one selector is called better
EXACT, CHI_SQUARE = "exact binomial", "chi-square (continuity corrected)"
MATCH_RATE = "match rate"  # the metric a router's gain is in


@dataclass
class McNemar:
    a: str  # the first selector's label
    b: str  # the second selector's label
    a_only: int  # queries A routed right and B wrong (the b of the textbook)
    b_only: int  # queries B routed right and A wrong (the c)
    p_value: float
    method: str  # EXACT or CHI_SQUARE
    statistic: float | None = None  # the chi-square statistic (None for the exact test)

    @property
    def better(self) -> str | None:
        """The selector that wins more discordant queries, when the difference is significant at ALPHA."""
        if self.p_value >= ALPHA or self.a_only == self.b_only:
            return None
        return self.a if self.a_only > self.b_only else self.b

    def verdict(self) -> str:
        return f"{self.better} (p < {ALPHA:g})" if self.better else f"no significant difference (p ≥ {ALPHA:g})"

    def to_dict(self) -> dict:
        return {**asdict(self), "better": self.better}


def mcnemar_p(a_only: int, b_only: int, exact_below: int = EXACT_BELOW) -> tuple[float, str, float | None]:
    """(two-sided p-value, method, chi-square statistic or None) for the discordant counts."""
    from scipy.stats import binom, chi2  # scipy loads when a test is asked for, not with the package

    if a_only < 0 or b_only < 0:
        raise ValueError(f"discordant counts cannot be negative: {a_only}, {b_only}")
    n = a_only + b_only
    if n == 0:
        return 1.0, EXACT, None  # the selectors never disagree on being right: nothing tells them apart
    if n < exact_below:
        return min(1.0, 2.0 * float(binom.cdf(min(a_only, b_only), n, 0.5))), EXACT, None
    statistic = (abs(a_only - b_only) - 1) ** 2 / n
    return float(chi2.sf(statistic, df=1)), CHI_SQUARE, statistic


def mcnemar(a: SelectorReport, b: SelectorReport, expected: list[int]) -> McNemar:
    """McNemar's test between two selectors' picks of the same queries (a failure is a miss)."""
    hits_a, hits_b = matches(a.picks, expected).astype(bool), matches(b.picks, expected).astype(bool)
    a_only, b_only = int((hits_a & ~hits_b).sum()), int((hits_b & ~hits_a).sum())
    p_value, method, statistic = mcnemar_p(a_only, b_only)
    return McNemar(a.name, b.name, a_only, b_only, p_value, method, statistic)


def pairwise_mcnemar(comparison: RouterComparison) -> list[McNemar]:
    """McNemar's test for every pair of selectors that ran, in the comparison's order."""
    return [mcnemar(a, b, comparison.expected) for a, b in combinations(comparison.reports, 2)]


def match_rate_gain(comparison: RouterComparison, base: str, other: str) -> PairedGain:
    """The selector `other`'s gain in match rate over `base` on the comparison's queries (a failure is a
    miss), with the paired bootstrap 95% interval: a retrieval metric's gain (evaluation.slices) for routing."""
    hits = [matches(comparison.report(label).picks, comparison.expected) for label in (base, other)]
    return gain_of_values(MATCH_RATE, *hits)


# --- agreement with a teacher -----------------------------------------------------------------
@dataclass
class TeacherAgreement:
    selector: str  # the fine-tuned LLM's label
    teacher: str  # the LLM selector it was compared with, or where the stored labels come from
    agreement: float  # share of the compared queries where it picked the teacher's tool (a failure disagrees)
    queries: int  # queries the teacher picked a tool for

    def to_dict(self) -> dict:
        return asdict(self)


def agreement(picks: list[int | None], reference: list[int | None]) -> tuple[float | None, int]:
    """(share of the queries with a reference pick where `picks` is the same, how many such queries);
    None when the reference picked nothing."""
    if len(picks) != len(reference):
        raise ValueError(f"{len(picks)} picks for {len(reference)} reference picks")
    pairs = [(pick, want) for pick, want in zip(picks, reference, strict=True) if want is not None]
    if not pairs:
        return None, 0
    return sum(pick == want for pick, want in pairs) / len(pairs), len(pairs)


def teacher_agreement(
    comparison: RouterComparison,
    label: str,
    teacher_model: str | None = None,
    teacher_labels: dict[str, str] | None = None,
) -> TeacherAgreement | None:
    """How often the fine-tuned LLM `label` picks its teacher's tool: the teacher LLM selector's
    picks when the comparison has it (the LLM selector running `teacher_model`, or the only LLM
    selector when the teacher is not known), else `teacher_labels` ({query: tool name}, the
    teacher's calls kept with the model's data); None when neither is there."""
    report = comparison.report(label)
    teacher = _teacher_report(comparison, teacher_model)
    if teacher is not None:
        share, n = agreement(report.picks, teacher.picks)
        source = teacher.name
    elif teacher_labels:
        position = {choice.name: i for i, choice in enumerate(comparison.choices)}
        share, n = agreement(report.picks, [position.get(teacher_labels.get(q, "")) for q in comparison.queries])
        source = f"stored labels of {teacher_model or 'the teacher'}"
    else:
        return None
    return None if share is None else TeacherAgreement(label, source, share, n)


def _teacher_report(comparison: RouterComparison, teacher_model: str | None) -> SelectorReport | None:
    llms = [r for r in comparison.reports if r.kind == "llm"]
    if teacher_model:
        return next((r for r in llms if r.model == teacher_model), None)
    return llms[0] if len(llms) == 1 else None
