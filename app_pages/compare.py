"""Compare: retrievers (base vs fine-tuned, with or without a reranker) and tool selectors, with
bootstrap 95% confidence intervals, and the queries behind the numbers."""

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.compare_results import pick_comparison, show_comparison, show_held_out, show_trend, style_gains
from app_pages.compare_router import selector_details, selector_problems, show_confusion, show_mcnemar
from app_pages.kept_choices import kept, kept_selection
from app_pages.split_parts import part_picker
from app_pages.state import State
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.job_panel import run_panel
from app_pages.widgets.pickers import models_by_name, pick, selector_picker
from ragtune_core import jobs
from ragtune_core.errors import RagtuneError
from ragtune_core.evaluation import RERANK_TOP_K, per_query_comparison, unreadable_reports
from ragtune_core.evaluation.duration import estimate_evaluation
from ragtune_core.questions import EVALUATION_ONLY, load_dataset
from ragtune_core.questions.pickers import models_for_dataset
from ragtune_core.reporting import RETRIEVAL, ROUTER
from ragtune_core.reporting.history import unreadable_entries
from ragtune_core.routing import llm_routing_estimates, unreadable_comparisons
from ragtune_core.store import DEFAULT_BASE_MODEL

ws = workspace()
st.title("Compare")

datasets = ws.list_datasets()
if not datasets:
    st.info("Create a dataset on the Questions page first.")
    st.stop()

record = pick(
    "Dataset",
    datasets,
    key=kept(State.DATASET, [d.id for d in datasets]),
    help="A router dataset compares tool selectors; a question/passage dataset compares retrievers.",
)
dataset = load_dataset(ws, record.id)
part = part_picker(dataset, "compare-part")
damaged = unreadable_reports(ws) + unreadable_comparisons(ws) + unreadable_entries(ws)
if damaged:
    st.warning(
        "Saved results that cannot be read are left out: " + "; ".join(literal(d) for d in damaged),
        icon=":material/broken_image:",
    )
embedders = models_by_name("embedding")
cross_encoders = models_by_name("cross_encoder")


@st.cache_data(show_spinner="Measuring how fast this machine encodes (once, a few seconds)…", max_entries=64)
def estimated_evaluation(dataset_id: str, part: str, models: list, rerankers: list, held_out: list[str]) -> str:
    """The evaluation's estimate in words: the dataset's part, then every question of each held-out set."""
    sets = [(d, load_dataset(ws, d), "all" if d in held_out else part) for d in [dataset_id, *held_out]]
    return estimate_evaluation(sets, models, rerankers, RERANK_TOP_K).describe()


def compare_retrievers() -> None:
    st.caption(
        (
            "How well each model retrieves a passage holding the question's evidence phrase (hand-written "
            "questions, never trained on). "
            if dataset.evaluation_only
            else "How well each model retrieves the passage a question was written from. "
        )
        + "Bars show bootstrap 95% intervals."
    )
    suited = [m.name for m in models_for_dataset(record, ws.list_models("embedding"), datasets)]
    chosen = st.multiselect(
        "Embedding models",
        list(embedders),
        key=kept_selection("compare-embedders", embedders, [DEFAULT_BASE_MODEL, *suited][:4]),
    )
    rerankers = (
        st.multiselect(
            "Rerank the first model's top 20 with",
            list(cross_encoders),
            help="Cross-encoders trained on the Fine-tune page. A reranker trained on a QA "
            "dataset blends its score with the embedder's at the weight its training "
            "picked.",
        )
        if cross_encoders
        else []
    )
    evidence_sets = (
        {}
        if dataset.evaluation_only
        else {d.id: d.name for d in ws.list_datasets("qa") if d.params.get(EVALUATION_ONLY) and d.id != record.id}
    )
    held_out = (
        st.multiselect(
            "Also evaluate every question of",
            list(evidence_sets),
            default=list(evidence_sets),
            format_func=evidence_sets.get,
            help="Evidence-phrase sets imported on the Questions "
            "page, such as questions people wrote: generated validation questions follow the "
            "generator's wording, so these show what users get. Reported apart, per style.",
        )
        if evidence_sets
        else []
    )
    if chosen:
        with errors_shown(stop=False):
            estimate = estimated_evaluation(
                record.id, part, [embedders[c] for c in chosen], [cross_encoders[r] for r in rerankers], held_out
            )
            st.caption(f"Estimated time on this machine: {estimate}.")
    if st.button("Evaluate", type="primary", disabled=not chosen, icon=":material/play_arrow:"):
        params = {
            "dataset_id": record.id,
            "part": part,
            "models": [{"label": c, "path": embedders[c]} for c in chosen],
            "rerankers": [{"label": r, "path": cross_encoders[r]} for r in rerankers],
            "held_out": held_out,
        }
        status = jobs.start_job(
            ws, jobs.JobKind.EVALUATE, params, name=f"evaluate · {record.name}", dataset_id=record.id
        )
        st.session_state[State.EVALUATION_RUN] = status.run_id
    run_panel([jobs.JobKind.EVALUATE], State.EVALUATION_RUN)

    entry = pick_comparison(ws, record.id, part, RETRIEVAL, key="retrieval_comparison")
    if entry is None:
        st.info("No evaluation of this dataset yet: pick models and press Evaluate.")
        return
    view = show_comparison(ws, entry, dataset)
    if not view.reports:
        return
    style_gains(view.reports, dataset.styles)
    st.subheader("Per query")
    st.caption(
        "Rank of the expected passage per model (empty: not in the top 100). "
        "Sort a column to find where fine-tuning helped or hurt."
    )
    st.dataframe(per_query_comparison(view.reports), hide_index=True, width="stretch")
    show_held_out(
        ws,
        {d: evidence_sets[d] for d in held_out},
        RETRIEVAL,
        "All {n} questions of this evidence-phrase "
        "set, never trained on: a passage is right when it holds the question's evidence phrase.",
    )
    show_trend(ws, record.id, part, RETRIEVAL)


def compare_selectors() -> None:
    st.caption(
        "Which tool each selector routes a query to. Match rate with bootstrap 95% intervals; latency is per query."
    )
    chosen, secret_env, _ = selector_picker("compare", batch=True)
    imported = {d.id: d.name for d in ws.list_datasets("router") if d.id != record.id and d.params.get("imported")}
    held_out = st.multiselect(
        "Also route every query of",
        list(imported),
        default=list(imported),
        format_func=imported.get,
        help="Router datasets imported for evaluation only, such as "
        "hand-written queries: generated validation queries follow the generator's wording, "
        "so these show how the selectors do on free wording. Reported apart.",
    )
    with errors_shown(stop=False):
        for estimate in llm_routing_estimates(ws, [(record.id, part)] + [(d, "all") for d in held_out], chosen):
            st.caption(
                literal(estimate),
                help="Estimated from the prompts' text before anything is sent; the comparison records what was used.",
            )
    if st.button("Compare selectors", type="primary", disabled=not chosen, icon=":material/play_arrow:"):
        try:
            status = jobs.start_comparison_job(ws, record.id, chosen, part, secret_env, held_out)
        except RagtuneError as exc:
            st.error(literal(exc))
        else:
            st.session_state[State.SELECTOR_RUN] = status.run_id
    run_panel([jobs.JobKind.COMPARE_SELECTORS], State.SELECTOR_RUN)

    entry = pick_comparison(ws, record.id, part, ROUTER, key="router_comparison")
    if entry is None:
        st.info("No comparison on this dataset yet: pick selectors and press Compare selectors.")
        return
    view = show_comparison(ws, entry, dataset)
    comparison = view.router
    if comparison is None:
        return
    selector_problems(comparison)
    selector_details(comparison)
    show_mcnemar(view)
    show_held_out(
        ws, {d: imported[d] for d in held_out}, ROUTER, "All {n} queries of this imported set, never trained on."
    )
    show_trend(ws, record.id, part, ROUTER)

    show_confusion(comparison)


(compare_selectors if record.kind == "router" else compare_retrievers)()
