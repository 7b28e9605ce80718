"""Corpus: load documents (PDF, Wikipedia/MediaWiki, text), chunk them, save them as a corpus."""

import pandas as pd
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.corpus_sources import add_documents
from app_pages.state import State
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.flash import flash, show_flashed
from app_pages.widgets.pickers import pick
from app_pages.widgets.waits import waited
from ragtune_core.corpus import build_corpus, default_chunk_size, load_chunks, load_documents
from ragtune_core.errors import RagtuneError
from ragtune_core.questions import pending_draft
from ragtune_core.store import DEFAULT_BASE_MODEL
from ragtune_core.timing import when

ws = workspace()
st.title("Corpus")
st.caption("Bring the documents your RAG app answers from. They are chunked as your retriever will see them.")

staged: dict = st.session_state.setdefault(State.STAGED_DOCUMENTS, {})
add_documents(staged)
show_flashed()  # what "Chunk and save" saved, once its staged documents are gone

if staged:
    st.subheader(f"Staged documents ({len(staged)})")
    table = pd.DataFrame([{"title": d.title, "source": d.source, "characters": len(d.text)} for d in staged.values()])
    st.dataframe(table, hide_index=True, width="stretch")
    with st.form("chunk"):
        name = st.text_input("Corpus name", value="my corpus")
        model = st.text_input(
            "Tokenizer (model)",
            value=DEFAULT_BASE_MODEL,
            help="Chunk sizes are counted in this model's tokens. A local folder or a Hub id marked hf:owner/name.",
        )
        left, right = st.columns(2)
        chunk_size = left.number_input(
            "Chunk size (tokens)",
            16,
            8192,
            default_chunk_size(),
            step=32,
            help="Default: what the bundled model reads (256 tokens) less room for a "
            "question, so no passage is cut off in training or retrieval.",
        )
        overlap = right.number_input("Overlap (tokens)", 0, 4096, 20, step=10)
        save, clear = st.columns([1, 5])
        if save.form_submit_button("Chunk and save", type="primary"):
            try:
                built = waited(
                    "Loading the tokenizer, chunking and saving…",
                    lambda: build_corpus(
                        ws,
                        name,
                        list(staged.values()),
                        None if model == DEFAULT_BASE_MODEL else model,
                        int(chunk_size),
                        int(overlap),
                    ),
                )
            except RagtuneError as exc:
                st.error(literal(exc))
            else:
                staged.clear()
                st.session_state[State.CORPUS] = built.record.id
                flash(
                    f"Saved corpus **{literal(built.record.name)}**: {built.record.n_documents} documents, "
                    f"{built.record.n_chunks} chunks."
                )
                if built.share_cut_off:
                    flash(
                        f"This model reads {built.model_limit} tokens of a passage: {built.share_cut_off:.0%} "
                        "of the corpus's tokens lie beyond and are never seen in training or retrieval. "
                        "Smaller chunks keep them.",
                        warning=True,
                    )
                st.rerun()
        if clear.form_submit_button("Clear staged documents"):
            staged.clear()
            st.rerun()

st.divider()
st.subheader("Corpora")
corpora = ws.list_corpora()
if not corpora:
    st.info("No corpus yet: add documents above.")
    st.stop()

st.dataframe(
    pd.DataFrame(
        [
            {
                "name": c.name,
                "documents": c.n_documents,
                "chunks": c.n_chunks,
                "chunk size": c.params.get("chunk_size"),
                "created": when(c.created),
            }
            for c in corpora
        ]
    ),
    hide_index=True,
    width="stretch",
)
corpus = pick("Read a corpus", corpora, key=State.CORPUS)


def show_chunks(corpus) -> None:
    """The chosen corpus's chunks, document by document."""
    documents = load_documents(ws, corpus.id)
    chunks = load_chunks(ws, corpus.id)
    counts = pd.Series([c.doc_id for c in chunks]).value_counts()
    titles = {d.doc_id: d.title for d in documents}
    doc_id = st.selectbox("Document", list(titles), format_func=lambda d: f"{titles[d]} ({counts.get(d, 0)} chunks)")
    st.dataframe(
        pd.DataFrame(
            [
                {"chunk": c.chunk_id, "page": c.page, "section": c.section, "text": c.text}
                for c in chunks
                if c.doc_id == doc_id
            ]
        ).dropna(axis=1, how="all"),  # a text file has no pages or sections
        hide_index=True,
        width="stretch",
        column_config={"text": st.column_config.TextColumn(width="large")},
    )


with errors_shown(stop=False):  # a damaged file is named, and the corpus can still be deleted
    show_chunks(corpus)
with st.popover("Delete this corpus", icon=":material/delete:"):
    needed_by = ws.corpus_dependants(corpus.id, pending_draft)
    if needed_by:
        st.warning(
            f"**{literal(corpus.name)}** cannot be deleted while it is needed by: "
            + "; ".join(literal(d) for d in needed_by)
            + "."
        )
    else:
        st.markdown(
            f"Delete **{literal(corpus.name)}** and its chunks? Question datasets made from it keep their passages."
        )
    if st.button("Delete", type="primary", disabled=bool(needed_by)):
        with errors_shown():  # something started using it since: the refusal names it
            ws.delete_corpus(corpus.id, pending_draft)
        st.session_state.pop(State.CORPUS, None)
        st.rerun()
