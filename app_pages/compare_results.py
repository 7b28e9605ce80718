"""The Compare page's results: one kept comparison (the latest, or any earlier one picked) opening
with its headline and recommendation, then its charts and tables, a report to download, and the
scores across comparisons. The wording, charts and tables come from ragtune_core.reporting."""

from __future__ import annotations

from functools import partial

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.widgets.charts import chart
from ragtune_core.evaluation import CHART_METRICS, comparison_table
from ragtune_core.reporting import ComparisonEntry, headline, history
from ragtune_core.reporting.figures import latency_bars, metric_bars, score_bars, tradeoff_chart, trend_chart
from ragtune_core.reporting.report import render_report, report_file_name
from ragtune_core.reporting.tables import mcnemar_words, score_table, slice_scores
from ragtune_core.reporting.views import ComparisonView, load_view, score_trend
from ragtune_core.routing import confusion_frame, misrouted_table
from ragtune_core.training.llm.serving import finetuned_llms, llm_selector_rows, teacher_agreements

TEXT_COLUMNS = {"Verdict": st.column_config.TextColumn(width="large"),
                "Test": st.column_config.TextColumn(width="medium")}


def pick_comparison(ws, dataset_id: str, part: str, kind: str, key: str) -> ComparisonEntry | None:
    """The latest comparison of the dataset part, or an earlier one the user picks; None when there is none."""
    entries = history(ws, dataset_id, part, kind)
    if not entries:
        return None
    by_id = {entry.id: entry for entry in entries}
    chosen = st.selectbox("Comparison", list(by_id), format_func=lambda i: by_id[i].describe(), key=key,
                          help="Every comparison is kept: the latest is shown, pick an earlier one to see it.")
    return by_id[chosen]


def show_comparison(ws, entry: ComparisonEntry, dataset) -> ComparisonView:
    """Headline, recommendation, charts and tables of `entry`, with its report to download."""
    view = load_view(ws, entry, dataset)
    if not entry.complete:
        st.warning(f"This comparison is **{entry.state.value}**: it shows only what it saved before it ended "
                   f"({len(entry.results)} of {len(entry.models)} models), never mixed with another comparison's.",
                   icon=":material/warning:")
    if view.scores is None:
        st.info("It saved no result.")
        return view
    for sentence in headline(view.scores):
        st.markdown(f"- {literal(sentence)}")
    if view.recommendation:
        st.success(literal(view.recommendation), icon=":material/thumb_up:")
    st.download_button("Download the report (HTML)", partial(render_report, ws, entry), mime="text/html",
                       file_name=report_file_name(entry, view.dataset_name), icon=":material/download:",
                       key=f"report-{entry.id}", help="One file with the charts inlined: it opens offline.")
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
    st.markdown("**Quality, latency and cost on one plane**")
    chart(tradeoff_chart(view.scores), key=f"plane-{view.entry.id}")


def _retrieval_charts(view: ComparisonView) -> None:
    st.markdown("**Retrieval metrics with 95% intervals**")
    chart(metric_bars(comparison_table(view.reports), CHART_METRICS), key=f"metrics-{view.entry.id}")
    if view.scores.timed:
        st.markdown("**Quality and latency on one plane**")
        st.caption("Latency: encoding a query and searching the corpus (and reranking its top passages), the "
                   "evaluation's time spread over its questions.")
        chart(tradeoff_chart(view.scores), key=f"plane-{view.entry.id}")


def show_mcnemar(view: ComparisonView) -> None:
    if view.router is not None and len(view.router.reports) > 1:
        st.caption("**Paired test (McNemar)**: only the queries one selector routes right and the other wrong tell "
                   "them apart (exact binomial test under 25 of them, chi-square with continuity correction above).")
        st.dataframe(mcnemar_words(view.router), hide_index=True, width="stretch", column_config=TEXT_COLUMNS)


def show_trend(ws, dataset_id: str, part: str, kind: str) -> None:
    """Each model's score across the complete comparisons of the dataset part, when there are two or more."""
    points = score_trend(ws, dataset_id, part, kind)
    if points["comparison"].nunique() < 2:
        return
    st.subheader("Across comparisons")
    st.caption("Each model's score in every complete comparison of this dataset and split (cancelled ones left "
               "out), with its 95% interval.")
    metric = "match rate" if kind == "router" else "hit rate@5"
    chart(trend_chart(points, metric))
    with st.expander("The numbers"):
        st.dataframe(points.round(3), hide_index=True, width="stretch")


def selector_problems(comparison) -> None:
    """Selectors that did not run, that failed on every query (no match rate: it would measure the
    endpoint, not the routing), and the queries that failed for the others (counted as misses)."""
    for label, reason in comparison.skipped:
        st.warning(literal(f"{label} was skipped: {reason}"))
    for label, error in comparison.failed:
        st.error(literal(f"{label} failed on every query, so it has no match rate. First error: {error}"))
    for report in comparison.reports:
        if report.failures:
            st.warning(literal(f"{report.name}: {report.failures} of {len(report.picks)} queries failed and count "
                               f"as misses. First error: {report.first_error}"))


def selector_details(comparison) -> None:
    """Latency percentiles, invalid outputs, cost and agreement with the teacher, per selector."""
    with st.expander("Latency percentiles, invalid outputs, cost per 1,000 queries and agreement with the teacher"):
        st.caption("Invalid outputs (no tool call, plain text, unknown tool, several calls) count as misses. Cost: "
                   "USD for a hosted fine-tuned LLM (estimated tokens at its price), CPU-seconds for a local one.")
        models = finetuned_llms(workspace())
        st.dataframe(pd.DataFrame(llm_selector_rows(comparison, models)).round(1), hide_index=True, width="stretch")
        if agreements := teacher_agreements(workspace(), comparison, models):
            st.caption("Agreement: how often a fine-tuned LLM picks its teacher's tool (the teacher LLM selector "
                       "when it ran too, else the teacher's calls saved with the model's data).")
            st.dataframe([row.to_dict() for row in agreements], hide_index=True, width="stretch")


def show_confusion(comparison) -> None:
    """One selector's picks against the right tools, and the queries any selector misrouted."""
    st.subheader("Confusion")
    label = st.selectbox("Selector", [r.name for r in comparison.reports])
    confusion = confusion_frame(comparison, label)
    heatmap = px.imshow(confusion, text_auto=True, aspect="auto", color_continuous_scale="Blues",
                        labels={"x": "picked tool", "y": "right tool", "color": "queries"})
    heatmap.update_layout(height=max(320, 28 * len(confusion)), margin=dict(t=10))
    chart(heatmap)

    st.subheader("Misrouted queries")
    misrouted = misrouted_table(comparison)
    if misrouted.empty:
        st.success("Every selector routed every query to the right tool.")
    else:
        st.dataframe(misrouted, hide_index=True, width="stretch")
