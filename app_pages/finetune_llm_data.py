"""The LLM fine-tune page's chat data: built from a router dataset (its right tools, or a teacher LLM's
tool calls where they agree), and its pre-flight report before a run."""

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages.basics import literal
from app_pages.widgets.charts import chart
from app_pages.widgets.llm_settings import llm_settings
from app_pages.widgets.pickers import pick
from ragtune_core.errors import RagtuneError
from ragtune_core.llm import LLMConfig
from ragtune_core.questions import load_dataset
from ragtune_core.questions.pickers import training_first
from ragtune_core.store import Workspace
from ragtune_core.training.llm import PreflightReport, build_chat_data, list_chat_data, preview, save_chat_data


def chat_data_builder(ws: Workspace) -> None:
    """An expander (open while there is no chat data) that builds and saves chat data from a router dataset."""
    with st.expander("Build chat data from a router dataset", expanded=not list_chat_data(ws)):
        record = pick("Router dataset", training_first(ws.list_datasets("router")), key="ft-llm-dataset")
        if record is None:
            st.info("Create a router dataset on the Questions page first.")
            return
        labels = st.radio(
            "Labels",
            ["dataset", "teacher"],
            horizontal=True,
            format_func={
                "dataset": "the dataset's right tools",
                "teacher": "a teacher LLM's tool calls (kept where they agree)",
            }.get,
        )
        teacher = llm_settings("ft-llm-teacher") if labels == "teacher" else None
        name = st.text_input("Name", f"{record.name}-chat".replace(" ", "-"))
        if st.button("Build", icon=":material/construction:", disabled=labels == "teacher" and teacher is None):
            _build(ws, record.id, labels, teacher, name)


def _build(ws: Workspace, dataset_id: str, labels: str, teacher: LLMConfig | None, name: str) -> None:
    """Build and save the chat data; say how many lines were saved and which queries the teacher disagreed on."""
    try:
        with st.spinner("Building…"):
            data = build_chat_data(load_dataset(ws, dataset_id), labels, teacher, dataset_id=dataset_id)
            save_chat_data(ws, name, data)
    except RagtuneError as exc:
        st.error(literal(exc))
        return
    copies = f" ({data.renamed} of them renamed copies)" if data.renamed else ""
    st.success(f"{len(data.train)} training{copies} and {len(data.val)} validation lines saved as {literal(name)}.")
    if data.disagreements:
        st.warning(f"The teacher disagreed with the dataset on {len(data.disagreements)} queries, left out:")
        st.dataframe(data.disagreements, hide_index=True, width="stretch")


def show_preflight(report: PreflightReport, train: list[dict]) -> None:
    """The pre-flight report: lines, epochs, billed tokens, cost and local time; its errors and warnings, the
    lines' token lengths, and the first training line as the model sees it."""
    cols = st.columns(5)
    cols[0].metric("Training lines", report.n_train, help=f"{report.n_val} validation lines")
    cols[1].metric("Epochs", report.epochs, help="Hosted: the provider's auto when Epochs is 0 (OpenAI's rule).")
    cols[2].metric("Billed tokens", f"{report.billed_tokens:,}")
    cols[3].metric(
        "Cost",
        "—" if report.cost_usd is None else f"${report.cost_usd:.2f}",
        help="Hosted: training tokens × price per 1M (no price known for this model: —).",
    )
    cols[4].metric(
        "Local time",
        f"{report.local_seconds / 60:.0f} min",
        help=f"{report.local_epochs} epochs (a local run's own auto when Epochs is 0), at about "
        "140 tokens/s on 2 CPU cores.",
    )
    for error in report.errors:
        st.error(literal(error))
    for warning in report.warnings:
        st.warning(literal(warning))
    if report.problems:
        st.dataframe(report.problems, hide_index=True, width="stretch")
    if report.lengths:
        figure = px.histogram(pd.DataFrame({"tokens": report.lengths}), x="tokens", nbins=20, title="Tokens per line")
        figure.update_layout(height=260, margin=dict(t=40, b=10))
        chart(figure)
        shown = preview(train[0])
        st.markdown(
            "**One line as the model sees it** (generic chat layout; the highlighted span is what it is trained on)"
        )
        st.code(shown.prompt, language=None, wrap_lines=True)
        st.success(literal(shown.trained), icon=":material/school:")
