"""The Compare page's results only a router comparison has: selectors that were skipped or failed,
latency percentiles, cost and agreement with the teacher, McNemar's test between every two, which
tool each picked against the right one, and the queries they misrouted."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.widgets.charts import chart
from app_pages.widgets.errors import errors_shown
from ragtune_core.llm.pricing import price_table
from ragtune_core.reporting.serving import finetuned_llms, llm_selector_rows, teacher_agreements
from ragtune_core.reporting.tables import mcnemar_words
from ragtune_core.reporting.views import ComparisonView
from ragtune_core.routing import confusion_frame, misrouted_table
from ragtune_core.routing.duration import comparison_sets, describe_comparison, endpoint_paces, estimate_comparison
from ragtune_core.routing.specs import SelectorSpec

SERVING_COLUMNS = {
    "selector": "Selector",
    "p50_ms": "p50 (ms)",
    "p95_ms": "p95 (ms)",
    "invalid_outputs": "Invalid outputs",
    "usd_per_1000": "USD per 1,000 queries",
    "cpu_seconds_per_1000": "CPU seconds per 1,000 queries",
}
TEXT_COLUMNS = {
    "Verdict": st.column_config.TextColumn(width="large"),
    "Test": st.column_config.TextColumn(width="medium"),
}


@st.cache_data(show_spinner="Measuring how fast this machine runs the models (once, a few seconds)…", max_entries=64)
def estimated_comparison(sets: list[tuple[str, str]], specs: list[dict], comparisons_saved: int) -> str:
    """The comparison's estimate in words, for (dataset id, part) `sets` and selectors (SelectorSpec dicts);
    estimated again once another comparison is saved (an endpoint's LLM is counted at its latest's pace)."""
    ws, selectors = workspace(), [SelectorSpec.from_dict(spec) for spec in specs]
    named = comparison_sets(ws, sets)
    return describe_comparison(estimate_comparison(named, selectors, endpoint_paces(ws, selectors)), selectors, named)


def show_mcnemar(view: ComparisonView) -> None:
    if view.router is not None and len(view.router.reports) > 1:
        st.caption(
            "**Paired test (McNemar)**: only the queries one selector routes right and the other wrong tell "
            "them apart (exact binomial test under 25 of them, chi-square with continuity correction above)."
        )
        st.dataframe(mcnemar_words(view.router), hide_index=True, width="stretch", column_config=TEXT_COLUMNS)


def selector_problems(comparison) -> None:
    """Selectors that did not run, that failed on every query (no match rate: it would measure the
    endpoint, not the routing), and the queries that failed for the others (counted as misses)."""
    for label, reason in comparison.skipped:
        st.warning(literal(f"{label} was skipped: {reason}"))
    for label, error in comparison.failed:
        st.error(literal(f"{label} failed on every query, so it has no match rate. First error: {error}"))
    for report in comparison.reports:
        if report.failures:
            st.warning(
                literal(
                    f"{report.name}: {report.failures} of {len(report.picks)} queries failed and count "
                    f"as misses. First error: {report.first_error}"
                )
            )


def selector_details(comparison) -> None:
    """Latency percentiles, invalid outputs, cost and agreement with the teacher, per selector."""
    with st.expander("Latency percentiles, invalid outputs, cost per 1,000 queries and agreement with the teacher"):
        st.caption(
            "Invalid outputs (no tool call, plain text, unknown tool, several calls) count as misses. Cost: "
            "USD for a hosted fine-tuned LLM (estimated tokens at its price), CPU-seconds for a local one."
        )
        models = finetuned_llms(workspace())
        with errors_shown(stop=False):  # a damaged llm_prices.json is named, the rest of the page stays
            rows = llm_selector_rows(comparison, models, price_table(workspace()))
            costs = {"usd_per_1000": float, "cpu_seconds_per_1000": float}  # not known: blank, not "None"
            table = pd.DataFrame(rows).astype(costs).round(1)
            st.dataframe(table, hide_index=True, width="stretch", column_config=SERVING_COLUMNS)
        if agreements := teacher_agreements(workspace(), comparison, models):
            st.caption(
                "Agreement: how often a fine-tuned LLM picks its teacher's tool (the teacher LLM selector "
                "when it ran too, else the teacher's calls saved with the model's data)."
            )
            st.dataframe([row.to_dict() for row in agreements], hide_index=True, width="stretch")


def show_confusion(comparison) -> None:
    """One selector's picks against the right tools, and the queries any selector misrouted."""
    st.subheader("Confusion")
    label = st.selectbox("Selector", [r.name for r in comparison.reports])
    confusion = confusion_frame(comparison, label)
    # Only the tools these queries ask for or this selector picks: a split by document asks of a few.
    confusion = confusion.loc[confusion.sum(axis=1) > 0, confusion.sum(axis=0) > 0]
    st.caption("Rows: the tools these queries should go to; columns: the tools the selector sent them to.")
    heatmap = px.imshow(
        confusion,
        text_auto=True,
        aspect="auto",
        color_continuous_scale="Blues",
        labels={"x": "picked tool", "y": "right tool", "color": "queries"},
    )
    heatmap.update_layout(height=max(320, 28 * len(confusion)), margin=dict(t=10))
    chart(heatmap)

    st.subheader("Misrouted queries")
    misrouted = misrouted_table(comparison)
    if misrouted.empty:
        st.success("Every selector routed every query to the right tool.")
    else:
        st.dataframe(misrouted, hide_index=True, width="stretch")
