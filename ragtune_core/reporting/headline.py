"""What a comparison says, in sentences a stakeholder reads at a glance: each model against the base
("+35.6 points match rate [95% CI +30.1 to +41.0], p < 0.001, 2.1× the latency") and which model to
keep. Pure wording over `scores.Scores`, shown as is by the Compare page, the report and the CLI."""

from __future__ import annotations

from .scores import Delta, ModelScore, Scores

P_FLOOR = 0.001  # p-values below it read "< 0.001": more digits claim a precision the test does not have


def format_p(p_value: float) -> str:
    """For a table: "< 0.001", else three decimals ("0.042")."""
    return f"< {P_FLOOR:g}" if p_value < P_FLOOR else f"{p_value:.3f}"


def p_phrase(p_value: float) -> str:
    """For a sentence: "p < 0.001", "p = 0.042"."""
    shown = format_p(p_value)
    return f"p {shown}" if shown.startswith("<") else f"p = {shown}"


SAME_LATENCY = 1.2  # latency ratios closer to 1 than this are the same speed


def points(share: float) -> str:
    """A difference of shares in percentage points, signed: +35.6, −2.0 (a true minus sign)."""
    return f"{share * 100:+.1f}".replace("-", "−")


def about_the_same(latency_ratio: float) -> bool:
    """Latencies within a fifth of each other: timing noise on a shared laptop (two models of one size
    differ by that much from run to run), not a model being faster."""
    return 1 / SAME_LATENCY <= latency_ratio <= SAME_LATENCY


def speed(ratio: float | None) -> str:
    """A latency ratio in words: "2.1× the latency", "3.0× faster", "the same latency"."""
    if ratio is None:
        return ""
    if about_the_same(ratio):
        return "about the same latency"
    return f"{ratio:.1f}× the latency" if ratio > 1 else f"{1 / ratio:.1f}× faster"


def delta_sentence(delta: Delta, metric: str) -> str:
    """One model against the base, in one sentence."""
    parts = [
        f"{delta.model.name}: {points(delta.gain)} points {metric} over {delta.base.name} "
        f"[95% CI {points(delta.ci_low)} to {points(delta.ci_high)}]",
        p_phrase(delta.p_value),
    ]
    if pace := speed(delta.latency_ratio):
        parts.append(pace)
    return ", ".join(parts) + "."


def headline(scores: Scores) -> list[str]:
    """A sentence per model against the base; with a single model, its score alone."""
    if not scores.deltas:
        only = scores.models[0]
        return [f"{only.name}: {scores.metric} {only.value:.3f} [95% CI {only.ci_low:.3f}–{only.ci_high:.3f}]."]
    return [delta_sentence(delta, scores.metric) for delta in scores.deltas]


def best(scores: Scores) -> ModelScore:
    return max(scores.models, key=lambda m: m.value)


def fastest_within(scores: Scores, top: ModelScore) -> ModelScore | None:
    """The fastest model whose score lies within `top`'s interval (not told apart from it), when
    latencies were measured."""
    if top.latency_ms is None:
        return None
    close = [m for m in scores.models if m.value >= top.ci_low and m.latency_ms is not None]
    return min(close, key=lambda m: m.latency_ms) if close else None


def recommendation(scores: Scores) -> str | None:
    """Which model to keep: the best on quality, and the fastest within its interval when that is
    another; None with a single model (nothing to choose between)."""
    if len(scores.models) < 2:
        return None
    top = best(scores)
    text = f"Keep {top.name}: the best {scores.metric}, {top.value:.3f} [95% CI {top.ci_low:.3f}–{top.ci_high:.3f}]."
    if top.name == scores.base:
        # The model the others are measured against, not always the bundled one ("emb" against "emb + rerank").
        text += " None of the others beats it."
    quick = fastest_within(scores, top)
    rivals = [m for m in scores.models if m is not top and m.value >= top.ci_low]
    if quick is None or quick is top:
        # "the fastest" only says something when another model comes within its interval, and is slower
        faster = quick is top and rivals and not any(about_the_same(m.latency_ms / top.latency_ms) for m in rivals)
        return text + (" It is also the fastest of those within its interval." if faster else "")
    if about_the_same(quick.latency_ms / top.latency_ms):  # no faster one to keep where speed matters
        return text + " None of those within its interval is faster."
    return (
        text + f" Where speed matters, keep {quick.name}: {quick.value:.3f}, within that interval, "
        f"{speed(quick.latency_ms / top.latency_ms)}."
    )
