"""Compare: retrievers (base vs fine-tuned, with or without a reranker) and tool selectors, with
bootstrap 95% confidence intervals, and the queries behind the numbers."""

import plotly.express as px
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.kept_choices import kept
from app_pages.split_parts import part_picker
from app_pages.state import State
from app_pages.widgets.charts import chart
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.job_panel import run_panel
from app_pages.widgets.pickers import models_by_name, pick, selector_picker
from ragtune_core import jobs
from ragtune_core.errors import RagtuneError
from ragtune_core.evaluation import (CHART_METRICS, RERANK_TOP_K, SLICE_METRICS, comparison_table, latest_reports,
                                     per_query_comparison, style_table, unreadable_reports)
from ragtune_core.evaluation.duration import estimate_evaluation
from ragtune_core.llm.pricing import price_table
from ragtune_core.questions import EVALUATION_ONLY, load_dataset
from ragtune_core.routing import (confusion_frame, latest_comparison, llm_routing_estimates, match_rate_table,
                                  mcnemar_table, misrouted_table, unreadable_comparisons)
from ragtune_core.store import DEFAULT_BASE_MODEL
from ragtune_core.training.llm.serving import finetuned_llms, llm_selector_rows, teacher_agreements

ws = workspace()
st.title("Compare")

datasets = ws.list_datasets()
if not datasets:
    st.info("Create a dataset on the Questions page first.")
    st.stop()

record = pick("Dataset", datasets, key=kept(State.DATASET, [d.id for d in datasets]), help="A router dataset compares tool selectors; "
              "a question/passage dataset compares retrievers.")
dataset = load_dataset(ws, record.id)
part = part_picker(dataset, "compare-part")
damaged = unreadable_reports(ws) + unreadable_comparisons(ws)
if damaged:
    st.warning("Saved results that cannot be read are left out: " + "; ".join(literal(d) for d in damaged),
               icon=":material/broken_image:")
embedders = models_by_name("embedding")
cross_encoders = models_by_name("cross_encoder")


def interval_bars(frame, x: str, y: str, color: str, **layout):
    figure = px.bar(frame, x=x, y=y, color=color, barmode="group", text_auto=".3f",
                    error_y=frame["ci_high"] - frame[y], error_y_minus=frame[y] - frame["ci_low"])
    figure.update_layout(yaxis_range=[0, 1], height=420, legend_title_text="", margin=dict(t=30), **layout)
    chart(figure)


@st.cache_data(show_spinner="Measuring how fast this machine encodes (once, a few seconds)…", max_entries=64)
def estimated_evaluation(dataset_id: str, part: str, models: list, rerankers: list, held_out: list[str]) -> str:
    """The evaluation's estimate in words: the dataset's part, then every question of each held-out set."""
    sets = [(d, load_dataset(ws, d), "all" if d in held_out else part) for d in [dataset_id, *held_out]]
    return estimate_evaluation(sets, models, rerankers, RERANK_TOP_K).describe()


def compare_retrievers() -> None:
    st.caption(("How well each model retrieves a passage holding the question's evidence phrase (hand-written "
                "questions, never trained on). " if dataset.evaluation_only else
                "How well each model retrieves the passage a question was written from. ")
               + "Bars show bootstrap 95% intervals.")
    chosen = st.multiselect("Embedding models", list(embedders), default=list(embedders)[:4])
    rerankers = st.multiselect("Rerank the first model's top 20 with", list(cross_encoders),
                               help="Cross-encoders trained on the Fine-tune page. A reranker trained on a QA "
                                    "dataset blends its score with the embedder's at the weight its training "
                                    "picked.") if cross_encoders else []
    evidence_sets = {} if dataset.evaluation_only else {
        d.id: d.name for d in ws.list_datasets("qa") if d.params.get(EVALUATION_ONLY) and d.id != record.id}
    held_out = st.multiselect("Also evaluate every question of", list(evidence_sets), default=list(evidence_sets),
                              format_func=evidence_sets.get, help="Evidence-phrase sets imported on the Questions "
                              "page, such as questions people wrote: generated validation questions follow the "
                              "generator's wording, so these show what users get. Reported apart, per style."
                              ) if evidence_sets else []
    if chosen:
        with errors_shown(stop=False):
            estimate = estimated_evaluation(record.id, part, [embedders[c] for c in chosen],
                                            [cross_encoders[r] for r in rerankers], held_out)
            st.caption(f"Estimated time on this machine: {estimate}.")
    if st.button("Evaluate", type="primary", disabled=not chosen, icon=":material/play_arrow:"):
        params = {"dataset_id": record.id, "part": part,
                  "models": [{"label": c, "path": embedders[c]} for c in chosen],
                  "rerankers": [{"label": r, "path": cross_encoders[r]} for r in rerankers],
                  "held_out": held_out}
        status = jobs.start_job(ws, jobs.JobKind.EVALUATE, params, name=f"evaluate · {record.name}", dataset_id=record.id)
        st.session_state[State.EVALUATION_RUN] = status.run_id
    run_panel([jobs.JobKind.EVALUATE], State.EVALUATION_RUN)

    reports = latest_reports(ws, record.id, part)
    if not reports:
        st.info("No evaluation of this dataset yet: pick models and press Evaluate.")
        return
    retrieval_results(reports, dataset.styles)
    st.subheader("Per query")
    st.caption("Rank of the expected passage per model (empty: not in the top 100). "
               "Sort a column to find where fine-tuning helped or hurt.")
    st.dataframe(per_query_comparison(reports), hide_index=True, width="stretch")
    for dataset_id in held_out:
        held_reports = latest_reports(ws, dataset_id, "all")
        if held_reports:
            st.subheader(f"Held out: {literal(evidence_sets[dataset_id])}")
            st.caption(f"All {len(held_reports[0].per_query)} questions of this evidence-phrase set, never trained "
                       "on: a passage is right when it holds the question's evidence phrase.")
            retrieval_results(held_reports, load_dataset(ws, dataset_id).styles)
            with st.expander("Per query"):
                st.dataframe(per_query_comparison(held_reports), hide_index=True, width="stretch")


def retrieval_results(reports, styles: dict[str, str]) -> None:
    """The metrics chart with intervals, every metric, and with styles (an evidence set) the table per style."""
    table = comparison_table(reports)
    shown = table[table["metric"].isin(CHART_METRICS)]
    interval_bars(shown, "metric", "value", "model", xaxis={"categoryorder": "array", "categoryarray": list(CHART_METRICS)})
    with st.expander("All metrics"):
        st.dataframe(table.pivot_table(index="metric", columns="model", values="value"), width="stretch")
    if styles:
        st.markdown("**Per style**")
        st.caption("Hit rate (accuracy@k) and MRR@10 per question style; each model's gain over the base model "
                   "with a paired bootstrap 95% interval (the same questions resampled for both).")
        st.dataframe(style_table(reports, styles, base=DEFAULT_BASE_MODEL), hide_index=True, width="stretch",
                     column_config={m: st.column_config.NumberColumn(format="%.3f") for m in SLICE_METRICS})


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


def match_rates(comparison, title: str) -> None:
    """Match rate with intervals and latency per selector, as charts and a table."""
    selector_problems(comparison)
    rates = match_rate_table(comparison)
    left, right = st.columns([3, 2])
    with left:
        rates["metric"] = "match rate"
        interval_bars(rates, "metric", "match_rate", "selector", title=title)
    with right:
        figure = px.bar(rates, x="selector", y="mean_latency_ms", color="selector", title="Latency per query (ms)",
                        text_auto=".1f", log_y=True)
        figure.update_layout(showlegend=False, height=420, margin=dict(t=30))
        # One tick per power of ten: a log axis labels its minor ticks "2" and "5" otherwise.
        figure.update_yaxes(dtick=1, title="ms per query (log scale)")
        chart(figure)
    st.dataframe(rates.drop(columns="metric"), hide_index=True, width="stretch")
    with st.expander("Latency percentiles, invalid outputs, cost per 1,000 queries and agreement with the teacher"):
        st.caption("Invalid outputs (no tool call, plain text, unknown tool, several calls) count as misses. Cost: "
                   "USD for a hosted fine-tuned LLM (estimated tokens at its price), CPU-seconds for a local one.")
        models = finetuned_llms(ws)
        with errors_shown(stop=False):  # a damaged llm_prices.json is named, the rest of the page stays
            st.dataframe(llm_selector_rows(comparison, models, price_table(ws)), hide_index=True, width="stretch")
        if agreements := teacher_agreements(ws, comparison, models):
            st.caption("Agreement: how often a fine-tuned LLM picks its teacher's tool (the teacher LLM selector "
                       "when it ran too, else the teacher's calls saved with the model's data).")
            st.dataframe([row.to_dict() for row in agreements], hide_index=True, width="stretch")
    if len(comparison.reports) > 1:
        st.caption("**Paired test (McNemar)**: only the queries one selector routes right and the other wrong tell "
                   "them apart (exact binomial test under 25 of them, chi-square with continuity correction above).")
        st.dataframe(mcnemar_table(comparison), hide_index=True, width="stretch",
                     column_config={"p_value": st.column_config.NumberColumn(format="%.3g")})


def compare_selectors() -> None:
    st.caption("Which tool each selector routes a query to. Match rate with bootstrap 95% intervals; "
               "latency is per query.")
    chosen, secret_env, _ = selector_picker("compare", batch=True)
    imported = {d.id: d.name for d in ws.list_datasets("router") if d.id != record.id and d.params.get("imported")}
    held_out = st.multiselect("Also route every query of", list(imported), default=list(imported),
                              format_func=imported.get, help="Router datasets imported for evaluation only, such as "
                              "hand-written queries: generated validation queries follow the generator's wording, "
                              "so these show how the selectors do on free wording. Reported apart.")
    with errors_shown(stop=False):
        for estimate in llm_routing_estimates(ws, [(record.id, part)] + [(d, "all") for d in held_out], chosen):
            st.caption(literal(estimate), help="Estimated from the prompts' text before anything is sent; the "
                       "comparison records what was used.")
    if st.button("Compare selectors", type="primary", disabled=not chosen, icon=":material/play_arrow:"):
        try:
            status = jobs.start_comparison_job(ws, record.id, chosen, part, secret_env, held_out)
        except RagtuneError as exc:
            st.error(literal(exc))
        else:
            st.session_state[State.SELECTOR_RUN] = status.run_id
    run_panel([jobs.JobKind.COMPARE_SELECTORS], State.SELECTOR_RUN)

    comparison = latest_comparison(ws, record.id, part)
    if comparison is None:
        st.info("No comparison on this dataset yet: pick selectors and press Compare selectors.")
        return
    match_rates(comparison, "Match rate")
    for dataset_id in held_out:
        held_out_comparison = latest_comparison(ws, dataset_id, "all")
        if held_out_comparison is not None:
            st.subheader(f"Held out: {literal(imported[dataset_id])}")
            st.caption(f"All {len(held_out_comparison.queries)} queries of this imported set, never trained on.")
            match_rates(held_out_comparison, f"Match rate · {imported[dataset_id]}")

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


(compare_selectors if record.kind == "router" else compare_retrievers)()
