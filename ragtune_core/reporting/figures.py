"""The charts of a comparison, the same on the Compare page and in the report, and the Playground's
scores of one query.

Each reads at a glance: a value label sits above its interval's whisker (never under it), every
axis has a title in words, latency is on a linear axis from zero (a log axis made 46.7 and 46.2 ms
look five times apart), and a figure has no title of its own (the page's or report's heading says
what it shows, so no title can overlap the plot).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from .scores import MATCH_RATE, Scores

HEIGHT = 400
MARGIN = dict(l=10, r=10, t=20, b=10)
SCORE_AXIS = {MATCH_RATE: "Match rate (share routed right)", "hit rate@5": "Hit rate@5 (passage in top 5)"}
MODEL_AXIS = {MATCH_RATE: "Selector", "hit rate@5": "Model"}
METRIC_WORDS = {
    "accuracy@1": "hit rate@1",
    "accuracy@5": "hit rate@5",
    "accuracy@10": "hit rate@10",
    "mrr@10": "MRR@10",
    "ndcg@10": "nDCG@10",
    "map@100": "MAP@100",
}
LATENCY_AXIS = "Milliseconds per query (mean)"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
LABEL_SPAN = 0.4  # of the plane's width, what a model's label takes beside its point


def score_bars(scores: Scores) -> go.Figure:
    """Each model's score with its 95% interval, the value written above the whisker."""
    names = [m.name for m in scores.models]
    figure = go.Figure()
    figure.add_bar(
        x=names,
        y=[m.value for m in scores.models],
        marker_color=_colors(len(names)),
        showlegend=False,
        error_y=dict(
            type="data",
            array=[m.ci_high - m.value for m in scores.models],
            arrayminus=[m.value - m.ci_low for m in scores.models],
        ),
        hovertemplate="%{x}: %{y:.3f}<extra></extra>",
    )
    figure.add_scatter(
        x=names,
        y=[m.ci_high for m in scores.models],
        mode="text",
        showlegend=False,
        text=[f"{m.value:.3f}" for m in scores.models],
        textposition="top center",
        hoverinfo="skip",
    )
    return _laid_out(figure, MODEL_AXIS[scores.metric], SCORE_AXIS[scores.metric], y_range=[0, 1.12])


def metric_bars(table: pd.DataFrame, metrics: tuple[str, ...]) -> go.Figure:
    """Retrieval metrics (rows of evaluation.comparison_table) grouped by metric, a bar per model with
    its interval and the value above the whisker."""
    figure = go.Figure()
    shown = table[table["metric"].isin(metrics)]
    groups = shown.groupby("model", sort=False)
    for color, (model, rows) in zip(_colors(groups.ngroups), groups, strict=True):
        rows = rows.set_index("metric").reindex([m for m in metrics if m in set(rows["metric"])])
        words = [METRIC_WORDS.get(m, m) for m in rows.index]
        figure.add_bar(
            x=words,
            y=rows["value"],
            name=model,
            offsetgroup=model,
            marker_color=color,
            error_y=dict(type="data", array=rows["ci_high"] - rows["value"], arrayminus=rows["value"] - rows["ci_low"]),
            hovertemplate=f"{model}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
        )
        figure.add_scatter(
            x=words,
            y=rows["ci_high"],
            mode="text",
            text=[f"{v:.2f}" for v in rows["value"]],
            textposition="top center",
            offsetgroup=model,
            showlegend=False,
            hoverinfo="skip",
        )
    figure.update_layout(barmode="group", scattermode="group", legend=dict(orientation="h", y=-0.2, title_text=""))
    return _laid_out(figure, "Metric (each the mean over the questions, 0 to 1)", "Score", y_range=[0, 1.12])


def latency_bars(scores: Scores) -> go.Figure:
    """Mean latency per query on a linear axis from zero, the value above each bar."""
    timed = [m for m in scores.models if m.latency_ms is not None]
    figure = go.Figure()
    figure.add_bar(
        x=[m.name for m in timed],
        y=[m.latency_ms for m in timed],
        marker_color=_colors(len(timed)),
        text=[f"{m.latency_ms:,.1f} ms" for m in timed],
        textposition="outside",
        cliponaxis=False,
        hovertemplate="%{x}: %{y:,.1f} ms<extra></extra>",
        showlegend=False,
    )
    top = max((m.latency_ms for m in timed), default=1.0)
    return _laid_out(figure, MODEL_AXIS[scores.metric], LATENCY_AXIS, y_range=[0, top * 1.15 or 1.0])


def tradeoff_chart(scores: Scores) -> go.Figure:
    """Every model on one plane: latency across (linear, from zero), score up with its interval, the
    cost of 1,000 queries in its label where known."""
    timed = [m for m in scores.models if m.latency_ms is not None]
    x_max = max((m.latency_ms for m in timed), default=1.0) * 1.25 or 1.0
    labels = [m.name if m.usd_per_1000 is None else f"{m.name} · ${m.usd_per_1000:,.2f} per 1,000" for m in timed]
    figure = go.Figure()
    figure.add_scatter(
        x=[m.latency_ms for m in timed],
        y=[m.value for m in timed],
        mode="markers+text",
        text=labels,
        textposition=_label_positions([m.latency_ms for m in timed], [m.value for m in timed], x_max),
        showlegend=False,
        cliponaxis=False,
        marker=dict(size=14, color=_colors(len(timed))),
        error_y=dict(
            type="data", array=[m.ci_high - m.value for m in timed], arrayminus=[m.value - m.ci_low for m in timed]
        ),
        hovertemplate="%{text}<br>%{x:,.1f} ms, %{y:.3f}<extra></extra>",
    )
    return _laid_out(
        figure,
        LATENCY_AXIS + " · up and to the left is better",
        SCORE_AXIS[scores.metric],
        y_range=[0, 1.12],
        x_range=[0, x_max],
    )


def _label_positions(xs: list[float], ys: list[float], x_max: float) -> list[str]:
    """Each point's label beside it, on the side of the plane with more room (left of a point in the right
    half, so the plot's edge cuts no label); where points lie close enough for their labels to meet (a
    label spans about LABEL_SPAN of the latency axis, 0.06 of the score), the highest's above and the
    lowest's below, so that no label covers another."""
    positions = []
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        close = [
            j for j in range(len(xs)) if j != i and abs(xs[j] - x) <= LABEL_SPAN * x_max and abs(ys[j] - y) <= 0.06
        ]
        higher = [(y, -i) > (ys[j], -j) for j in close]  # equal scores: the first listed counts as the higher
        row = "top" if close and all(higher) else "bottom" if close and not any(higher) else "middle"
        positions.append(f"{row} {'left' if x > x_max / 2 else 'right'}")
    return positions


def trend_chart(points: pd.DataFrame, metric: str) -> go.Figure:
    """A model's score across comparisons: `points` has columns comparison (its label, in order), model,
    value, ci_low, ci_high."""
    figure = go.Figure()
    groups = points.groupby("model", sort=False)
    for i, (color, (model, rows)) in enumerate(zip(_colors(groups.ngroups), groups, strict=True)):
        figure.add_scatter(
            x=rows["comparison"],
            y=rows["value"],
            name=model,
            mode="lines+markers",
            marker_color=color,
            line_dash=DASHES[i % len(DASHES)],  # models of equal scores stay both in sight
            error_y=dict(type="data", array=rows["ci_high"] - rows["value"], arrayminus=rows["value"] - rows["ci_low"]),
            hovertemplate=f"{model}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
        )
    figure.update_layout(legend=dict(orientation="h", y=-0.25, title_text=""))
    figure.update_xaxes(type="category", categoryorder="array", categoryarray=points["comparison"].unique().tolist())
    return _laid_out(figure, "Comparison (when it was run)", SCORE_AXIS.get(metric, metric), y_range=[0, 1.05])


def tool_scores_chart(scores: pd.DataFrame) -> go.Figure:
    """One query's score of each tool (rows, routing.scores_frame) by each selector (columns): a panel per
    selector on its own scale, since a cosine and a cross-encoder's score are no comparable heights (in one
    group of bars the cross-encoder's read as "sure of every tool"). Its pick, the highest, is in its colour,
    the other tools grey; a selector that made no selection has an empty panel."""
    from plotly.subplots import make_subplots

    selectors = list(scores.columns)
    figure = make_subplots(
        rows=len(selectors), cols=1, shared_xaxes=True, vertical_spacing=0.3 / len(selectors), subplot_titles=selectors
    )
    for row, (name, color) in enumerate(zip(selectors, _colors(len(selectors)), strict=True), start=1):
        values = scores[name]
        pick = values.idxmax() if values.notna().any() else None
        figure.add_bar(
            x=list(scores.index),
            y=values.tolist(),
            marker_color=[color if tool == pick else "lightgrey" for tool in scores.index],
            showlegend=False,
            hovertemplate=f"{name}<br>%{{x}}: %{{y:.3f}}<extra></extra>",
            row=row,
            col=1,
        )
        figure.update_yaxes(title_text="score", row=row, col=1)
    figure.update_xaxes(title_text="Tool (each selector's pick in colour)", row=len(selectors), col=1)
    figure.update_layout(height=120 + 130 * len(selectors), margin=MARGIN)
    return figure


def _laid_out(
    figure: go.Figure, x_title: str, y_title: str, y_range: list[float], x_range: list[float] | None = None
) -> go.Figure:
    figure.update_layout(height=HEIGHT, margin=MARGIN, xaxis_title=x_title, yaxis_title=y_title)
    figure.update_yaxes(range=y_range, type="linear", rangemode="tozero")
    if x_range is not None:
        figure.update_xaxes(range=x_range, type="linear", rangemode="tozero")
    return figure


def _colors(n: int) -> list[str]:
    import plotly.express as px

    palette = px.colors.qualitative.Plotly
    return [palette[i % len(palette)] for i in range(n)]
