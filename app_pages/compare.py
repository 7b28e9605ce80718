"""Compare: retrievers (base vs fine-tuned, with or without a reranker) and tool selectors, with
bootstrap 95% confidence intervals, and the queries behind the numbers."""

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.compare_results import pick_comparison, show_comparison, show_held_out, show_trend
from app_pages.compare_retrievers import compare_retrievers
from app_pages.compare_router import (
    estimated_comparison,
    selector_details,
    selector_problems,
    show_confusion,
    show_mcnemar,
)
from app_pages.kept_choices import kept
from app_pages.split_parts import part_picker
from app_pages.state import State
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.job_panel import run_panel
from app_pages.widgets.pickers import pick, selector_picker
from ragtune_core import jobs
from ragtune_core.errors import RagtuneError
from ragtune_core.evaluation import unreadable_reports
from ragtune_core.questions import load_dataset
from ragtune_core.reporting import ROUTER
from ragtune_core.reporting.history import unreadable_entries
from ragtune_core.routing import llm_routing_estimates, unreadable_comparisons

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
    sets = [(record.id, part)] + [(d, "all") for d in held_out]
    with errors_shown(stop=False):
        if chosen:
            saved = len(list(ws.dir("router_evaluations").glob("*.json")))
            estimate = estimated_comparison(sets, [spec.to_dict() for spec in chosen], saved)
            st.caption(f"Estimated time on this machine: {literal(estimate)}.")
        for cost in llm_routing_estimates(ws, sets, chosen):
            st.caption(
                literal(cost),
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


if record.kind == "router":
    compare_selectors()
else:
    compare_retrievers(record, dataset, datasets, part)
