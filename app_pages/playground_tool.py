"""Playground page, run the tool: the picked tool on its document, a summary or its top passages (and an
answer grounded on them when an LLM is configured)."""

import pandas as pd
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.state import State
from app_pages.widgets.waits import waited
from ragtune_core.corpus import Document, load_chunks, load_documents
from ragtune_core.errors import RagtuneError
from ragtune_core.questions.router import SUMMARY, VECTOR, Tool
from ragtune_core.routing import extractive_summary, grounded_answer, llm_summary, retrieve
from ragtune_core.store import DatasetRecord, load_embedder


def run_tool(output, record: DatasetRecord, tool: Tool, query: str, specs: list, llm_config) -> None:
    """In `output`: the tool, then what running it gives, or why it cannot run here."""
    output.markdown(f"**{literal(tool.name)}** · {literal(tool.description)}")
    if tool.kind not in (VECTOR, SUMMARY):
        why = (
            "the dataset names no kind for it (imported without RAGTune's tools), so RAGTune cannot tell whether "
            "it retrieves passages or summarises"
            if not tool.kind
            else "it is a user-defined tool"
        )
        output.info(f"{literal(tool.name)} cannot be run here: {why}. The routing above is the result.")
        return
    if record.corpus_id is None or tool.document_id is None:
        output.info("This tool has no document in a workspace corpus, so there is nothing here to run it on.")
        return
    documents = {d.doc_id: d for d in load_documents(workspace(), record.corpus_id)}
    document = documents.get(tool.document_id)
    if document is None:
        output.warning("The tool's document is no longer in its corpus.")
        return
    embedder_spec = next((s for s in specs if s.kind == "embedding"), None)
    run = (record.id, query, tool.id, embedder_spec, llm_config and llm_config.model)
    with output:
        embedder_path = embedder_spec.path if embedder_spec else None
        embedder = waited("Loading the embedding model…", lambda: load_embedder(embedder_path))
        if tool.kind == SUMMARY:
            _summary(run, embedder, document, llm_config)
        else:
            _passages(run, embedder, record, document, query, llm_config)


def _remembered(run: tuple, compute):
    """compute()'s output, kept for `run` (what it was computed from): a rerun or a return to the page
    shows it at once rather than waiting for it again."""
    last = st.session_state.get(State.TOOL_OUTPUT)
    if last and last[0] == run:
        return last[1]
    result = compute()
    st.session_state[State.TOOL_OUTPUT] = (run, result)
    return result


def _summary(run: tuple, embedder, document: Document, llm_config) -> None:
    try:
        summary = waited(
            "Summarising the document…" + (" (an LLM can take a minute)" if llm_config else ""),
            lambda: _remembered(
                run,
                lambda: llm_summary(llm_config, document) if llm_config else extractive_summary(embedder, document),
            ),
        )
    except RagtuneError as exc:
        st.error(literal(exc))
        return
    label = (
        "Summary (LLM)"
        if summary.method == "llm"
        else "Extractive summary (no LLM configured: the sentences closest to the document's gist)"
    )
    st.markdown(f"**{label}**")
    st.markdown(literal(summary.text))


def _passages(run: tuple, embedder, record: DatasetRecord, document: Document, query: str, llm_config) -> None:
    chunks = [c for c in load_chunks(workspace(), record.corpus_id) if c.doc_id == document.doc_id]
    sources = retrieve(embedder, chunks, query, top_k=5)
    st.markdown(f"**Top passages of {literal(document.title)}**")
    st.dataframe(
        pd.DataFrame(
            [
                {"score": round(s.score, 3), "page": s.chunk.page, "section": s.chunk.section, "text": s.chunk.text}
                for s in sources
            ]
        ).dropna(axis=1, how="all"),  # a text file has no pages or sections
        hide_index=True,
        width="stretch",
        column_config={"text": st.column_config.TextColumn(width="large")},
    )
    if not llm_config:
        st.caption("Configure an LLM (the toggle above) for an answer grounded on these passages.")
        return
    try:
        answer = waited("Answering…", lambda: _remembered(run, lambda: grounded_answer(llm_config, query, sources)))
        st.markdown("**Answer**")
        st.markdown(literal(answer))
    except RagtuneError as exc:
        st.error(literal(exc))
