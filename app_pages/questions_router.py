"""Questions page, router datasets: pick documents, edit the tools, generate labelled queries."""

import pandas as pd
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.widgets.llm_prices import batch_choice
from app_pages.widgets.question_generator import generate_button, generator_settings
from ragtune_core.corpus import load_documents
from ragtune_core.errors import RagtuneError
from ragtune_core.jobs import JobKind
from ragtune_core.questions.router import (
    DEFAULT_QUESTIONS_PER_DOCUMENT,
    DEFAULT_ROUTER_QA_PROMPT,
    DEFAULT_SUMMARY_PROMPT,
    DEFAULT_SUMMARY_QUESTION,
    DEFAULT_SUMMARY_VARIATIONS,
    MAX_QUESTIONS_PER_DOCUMENT,
    MAX_SUMMARY_VARIATIONS,
    SUMMARY,
    VECTOR,
    RouterPrompts,
    RouterRequest,
    make_tools,
    tools_from_dicts,
    tools_to_dicts,
)


def router_form(corpus) -> None:
    documents = load_documents(workspace(), corpus.id)
    titles = {d.doc_id: d.title for d in documents}
    chosen = st.multiselect("Documents", list(titles), default=list(titles), format_func=titles.get)
    st.caption(
        "Tools: each document gets a vector tool (specific facts) and a summary tool. Edit names and "
        "descriptions, add your own tools, or delete rows: the selectors choose among exactly these."
    )
    defaults = pd.DataFrame(tools_to_dicts(make_tools([d for d in documents if d.doc_id in chosen])))
    edited = st.data_editor(
        defaults,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        key=f"tools-{corpus.id}-{'-'.join(chosen)}",
        column_config={
            "description": st.column_config.TextColumn(width="large"),
            "document_id": st.column_config.SelectboxColumn("document", options=chosen),
            "kind": st.column_config.SelectboxColumn(options=[VECTOR, SUMMARY, "custom"]),
        },
    )
    left, right = st.columns(2)
    per_document = left.number_input(
        "Specific questions per document", 1, MAX_QUESTIONS_PER_DOCUMENT, DEFAULT_QUESTIONS_PER_DOCUMENT
    )
    variations = right.number_input(
        "Summary requests per document", 0, MAX_SUMMARY_VARIATIONS, DEFAULT_SUMMARY_VARIATIONS
    )
    generator, config = generator_settings(len(chosen), int(per_document) + int(variations), "rgen")
    prompts = RouterPrompts()
    if generator == "llm":
        prompts = RouterPrompts(
            questions=st.text_area("Prompt for specific questions", value=DEFAULT_ROUTER_QA_PROMPT, height=160),
            summary=st.text_area("Prompt for summary requests", value=DEFAULT_SUMMARY_PROMPT, height=160),
            summary_question=st.text_input("Base summary request", value=DEFAULT_SUMMARY_QUESTION),
        )
        if config is None:
            return
        config = batch_choice(config, "rgen")
    try:
        tools = tools_from_dicts(edited.where(edited.notna(), None).to_dict("records"))
        request = RouterRequest(
            corpus.id, chosen, tools, int(per_document), int(variations), generator, config, prompts
        )
    except RagtuneError as exc:
        st.error(literal(exc))
        return
    if not chosen:
        st.warning("Pick at least one document.")
        return
    generate_button(JobKind.GENERATE_ROUTER_QUESTIONS, request.to_params(), f"router questions · {corpus.name}", config)
