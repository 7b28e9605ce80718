"""The Compare page's results: one kept comparison (the latest, or any earlier one picked) opening
with its headline and recommendation, then its charts and tables, a report to download, and the
scores across comparisons. The wording, charts and tables come from
ragtune_core.reporting."""

from __future__ import annotations

from functools import partial

import streamlit as st

from app_pages.basics import literal
from app_pages.widgets.charts import chart
from app_pages.widgets.waits import waited
from ragtune_core.evaluation import CHART_METRICS, SLICE_METRICS, comparison_table, style_table
from ragtune_core.questions import load_dataset
from ragtune_core.reporting import ComparisonEntry, headline, history
from ragtune_core.reporting.figures import latency_bars, metric_bars, score_bars, tradeoff_chart, trend_chart
from ragtune_core.reporting.report import render_report, report_file_name
from ragtune_core.reporting.tables import score_table, slice_scores
from ragtune_core.reporting.views import ComparisonView, load_view, score_trend
from ragtune_core.store import DEFAULT_BASE_MODEL


def pick_comparison(ws, dataset_id: str, part: str, kind: str, key: str) -> ComparisonEntry | None:
    """The latest comparison of the dataset part, or an earlier one the user picks; None when there is none."""
    entries = history(ws, dataset_id, part, kind)
    if not entries:
        return None
    by_id = {entry.id: entry for entry in entries}
    chosen = st.selectbox(
        "Comparison",
        list(by_id),
        format_func=lambda i: by_id[i].describe(),
        key=f"{key}-{entries[0].id}",  # a new comparison is shown when it lands, not the one picked before it
        help="Every comparison is kept: the latest is shown, pick an earlier one to see it.",
    )
    return by_id[chosen]


def show_comparison(ws, entry: ComparisonEntry, dataset) -> ComparisonView:
    """Headline, recommendation, charts and tables of `entry`, with its report to download."""
    view = waited("Loading the comparison…", lambda: load_view(ws, entry, dataset))
    if not entry.complete:
        st.warning(
            f"This comparison is **{entry.state.value}**: it shows only what it saved before it ended "
            f"({len(entry.results)} of {len(entry.models)} models), never mixed with another comparison's.",
            icon=":material/warning:",
        )
    if view.scores is None:
        st.info("It saved no result.")
        return view
    st.caption(literal(view.measured_on))
    for sentence in headline(view.scores):
        st.markdown(f"- {literal(sentence)}")
    if view.recommendation:
        st.success(literal(view.recommendation), icon=":material/thumb_up:")
    for name in view.routes_as_embedder:
        st.info(
            f"**{literal(name)}** routes as its embedder does: on validation its own score ranked no better than "
            "noise, so its blend gives that score no share (its training said so). Its gain is its embedder's.",
            icon=":material/info:",
        )
    st.download_button(
        "Download the report (HTML)",
        partial(render_report, ws, entry),
        mime="text/html",
        file_name=report_file_name(entry, view.dataset_name),
        icon=":material/download:",
        key=f"report-{entry.id}",
        help="One file with the charts inlined: it opens offline.",
    )
    (_router_charts if view.router is not None else _retrieval_charts)(view)
    st.dataframe(score_table(view.scores), hide_index=True, width="stretch")
    if view.reports:
        with st.expander("All metrics"):
            metrics = comparison_table(view.reports).pivot_table(index="metric", columns="model", values="value")
            st.dataframe(metrics.round(3), width="stretch")
    for kind, slice_of in view.slices.items():
        with st.expander(f"By {kind.lower()}"):
            st.dataframe(slice_scores(view.scores, slice_of, kind), hide_index=True, width="stretch")
    return view


def _router_charts(view: ComparisonView) -> None:
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Match rate with 95% intervals**")
        chart(score_bars(view.scores), key=f"scores-{view.entry.id}")
    with right:
        st.markdown("**Latency per query**")
        chart(latency_bars(view.scores), key=f"latency-{view.entry.id}")
    costed = any(m.usd_per_1000 is not None for m in view.scores.models)
    st.markdown("**Quality, latency and cost on one plane**" if costed else "**Quality and latency on one plane**")
    st.caption(
        "Latency: one query a call, as an application routes, after a warm-up (each timed query's fastest of "
        "three rounds); an LLM's, its calls' times."
    )
    chart(tradeoff_chart(view.scores), key=f"plane-{view.entry.id}")


def _retrieval_charts(view: ComparisonView) -> None:
    st.markdown("**Retrieval metrics with 95% intervals**")
    chart(metric_bars(comparison_table(view.reports), CHART_METRICS), key=f"metrics-{view.entry.id}")
    if view.scores.timed:
        st.markdown("**Quality and latency on one plane**")
        st.caption(
            "Latency: encoding a query and searching the corpus (and reranking its top passages), the "
            "evaluation's time spread over its questions."
        )
        chart(tradeoff_chart(view.scores), key=f"plane-{view.entry.id}")


def style_gains(reports, styles: dict[str, str]) -> None:
    """With styles (an evidence set), each model's hit rate and MRR per style and its gain over the base."""
    if styles and reports:
        st.markdown("**Per style**")
        st.caption(
            "Hit rate (accuracy@k) and MRR@10 per question style; each model's gain over the base model "
            "with a paired bootstrap 95% interval (the same questions resampled for both)."
        )
        st.dataframe(
            style_table(reports, styles, base=DEFAULT_BASE_MODEL),
            hide_index=True,
            width="stretch",
            column_config={m: st.column_config.NumberColumn(format="%.3f") for m in SLICE_METRICS},
        )


def show_held_out(ws, names: dict[str, str], kind: str, caption: str) -> None:
    """The latest comparison on every query of each held-out dataset ({id: name}), under its name;
    `caption` says what the set holds, "{n}" standing for its number of queries."""
    for dataset_id, name in names.items():
        for entry in history(ws, dataset_id, "all", kind)[:1]:
            held = load_dataset(ws, dataset_id)
            st.subheader(f"Held out: {literal(name)}")
            st.caption(caption.format(n=len(held.queries)))
            view = show_comparison(ws, entry, held)
            style_gains(view.reports, held.styles)


def show_trend(ws, dataset_id: str, part: str, kind: str) -> None:
    """Each model's score across the complete comparisons of the dataset part, when there are two or more."""
    points = waited("Gathering the scores of every comparison…", lambda: score_trend(ws, dataset_id, part, kind))
    if points["comparison"].nunique() < 2:
        return
    st.subheader("Across comparisons")
    st.caption(
        "Each model's score in every complete comparison of this dataset and split (cancelled ones left "
        "out), with its 95% interval."
    )
    metric = "match rate" if kind == "router" else "hit rate@5"
    chart(trend_chart(points, metric))
    with st.expander("The numbers"):
        st.dataframe(points.round(3), hide_index=True, width="stretch")
