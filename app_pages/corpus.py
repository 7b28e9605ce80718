"""Corpus: load documents (PDF, Wikipedia/MediaWiki, text), chunk them, save them as a corpus."""

import pandas as pd
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.state import State
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.job_panel import run_panel
from app_pages.widgets.pickers import pick
from ragtune_core import jobs
from ragtune_core.corpus import (
    WIKIPEDIA_API,
    IngestResult,
    chunk_documents,
    default_chunk_size,
    load_chunks,
    load_documents,
    load_fetched,
    load_files,
    load_text,
    save_corpus,
    share_beyond,
    wiki_fetch_params,
)
from ragtune_core.errors import RagtuneError
from ragtune_core.jobs import JobKind
from ragtune_core.runs import JobState
from ragtune_core.store import DEFAULT_BASE_MODEL, load_tokenizer, max_seq_length
from ragtune_core.timing import when

ws = workspace()
st.title("Corpus")
st.caption("Bring the documents your RAG app answers from. They are chunked as your retriever will see them.")

staged: dict = st.session_state.setdefault(State.STAGED_DOCUMENTS, {})


def stage(result: IngestResult) -> None:
    for doc in result.documents:
        staged[doc.doc_id] = doc
    for error in result.errors:
        st.error(f"**{literal(error.name)}**: {literal(error.message)}", icon=":material/error:")
    if result.documents:
        st.success(f"Added {len(result.documents)} document(s): " + literal(", ".join(d.title for d in result.documents)))


def start_fetch(titles: list[str], endpoint: str) -> None:
    """Starts fetching `titles` in a background job (a slow wiki takes seconds a title); the job panel
    below follows it."""
    if not titles:
        st.warning("Type at least one page title.")
        return
    with errors_shown(stop=False):  # an endpoint that is no URL, or that the allow-list refuses, is said here
        status = jobs.start_job(ws, JobKind.FETCH_WIKI_PAGES, wiki_fetch_params(endpoint, titles),
                                name=f"fetch {len(titles)} wiki page(s)")
        st.session_state[State.FETCH_RUN] = status.run_id


def stage_when_fetched(run_id: str | None) -> None:
    """Stages the documents of the fetch run shown, once, when it has succeeded."""
    if run_id is None or st.session_state.get(State.FETCH_STAGED) == run_id:
        return
    st.session_state[State.FETCH_RUN] = run_id  # a run re-attached after a reload is followed to its end
    with errors_shown(stop=False):
        if jobs.read_status(ws, run_id).state == JobState.SUCCEEDED:
            stage(load_fetched(ws.run_dir(run_id)))
            st.session_state[State.FETCH_STAGED] = run_id


pdf_tab, wiki_tab, text_tab = st.tabs(["PDF / text files", "Wikipedia / MediaWiki", "Paste text"])
with pdf_tab:
    with st.form("upload", clear_on_submit=True):
        files = st.file_uploader("PDF, .txt or .md files", type=["pdf", "txt", "md", "markdown"],
                                 accept_multiple_files=True)
        if st.form_submit_button("Add files", icon=":material/upload_file:") and files:
            with st.spinner("Reading files…"):
                stage(load_files([(f.name, f.getvalue()) for f in files]))
with wiki_tab:
    with st.form("wiki"):
        titles = st.text_area("Page titles, one per line", placeholder="Toronto\nSeattle")
        endpoint = st.text_input("MediaWiki API endpoint", value=WIKIPEDIA_API,
                                 help="Any MediaWiki site works: its api.php address.")
        if st.form_submit_button("Fetch pages", icon=":material/travel_explore:"):
            start_fetch([t.strip() for t in titles.splitlines() if t.strip()], endpoint.strip())
    stage_when_fetched(run_panel([JobKind.FETCH_WIKI_PAGES], State.FETCH_RUN))
with text_tab:
    with st.form("paste", clear_on_submit=True):
        title = st.text_input("Title")
        text = st.text_area("Text", height=200)
        if st.form_submit_button("Add text", icon=":material/post_add:"):
            if not title.strip():
                st.warning("Give the text a title.")
            else:
                stage(load_text(title.strip(), text))

if staged:
    st.subheader(f"Staged documents ({len(staged)})")
    table = pd.DataFrame([{"title": d.title, "source": d.source, "characters": len(d.text)} for d in staged.values()])
    st.dataframe(table, hide_index=True, width="stretch")
    with st.form("chunk"):
        name = st.text_input("Corpus name", value="my corpus")
        model = st.text_input("Tokenizer (model)", value=DEFAULT_BASE_MODEL,
                              help="Chunk sizes are counted in this model's tokens. A local folder or a Hub id "
                                   "marked hf:owner/name.")
        left, right = st.columns(2)
        chunk_size = left.number_input("Chunk size (tokens)", 16, 8192, default_chunk_size(), step=32,
                                       help="Default: what the bundled model reads (256 tokens) less room for a "
                                            "question, so no passage is cut off in training or retrieval.")
        overlap = right.number_input("Overlap (tokens)", 0, 4096, 20, step=10)
        save, clear = st.columns([1, 5])
        if save.form_submit_button("Chunk and save", type="primary"):
            try:
                tokenizer = load_tokenizer(None if model == DEFAULT_BASE_MODEL else model)
                limit = max_seq_length(None if model == DEFAULT_BASE_MODEL else model)
                chunks = chunk_documents(list(staged.values()), tokenizer, int(chunk_size), int(overlap))
                record = save_corpus(ws, name, list(staged.values()), chunks,
                                        {"chunk_size": int(chunk_size), "overlap": int(overlap), "tokenizer": model})
            except RagtuneError as exc:
                st.error(literal(exc))
            else:
                staged.clear()
                st.session_state[State.CORPUS] = record.id
                st.success(f"Saved corpus **{literal(record.name)}**: {record.n_documents} documents, "
                           f"{record.n_chunks} chunks.")
                lost = share_beyond(chunks, tokenizer, limit) if limit else 0.0
                if lost:
                    st.warning(f"This model reads {limit} tokens of a passage: {lost:.0%} of the corpus's tokens lie "
                               "beyond and are never seen in training or retrieval. Smaller chunks keep them.")
        if clear.form_submit_button("Clear staged documents"):
            staged.clear()
            st.rerun()

st.divider()
st.subheader("Corpora")
corpora = ws.list_corpora()
if not corpora:
    st.info("No corpus yet: add documents above.")
    st.stop()

st.dataframe(pd.DataFrame([{"name": c.name, "documents": c.n_documents, "chunks": c.n_chunks,
                            "chunk size": c.params.get("chunk_size"), "created": when(c.created)} for c in corpora]),
             hide_index=True, width="stretch")
corpus = pick("Read a corpus", corpora, key=State.CORPUS)


def show_chunks(corpus) -> None:
    """The chosen corpus's chunks, document by document."""
    documents = load_documents(ws, corpus.id)
    chunks = load_chunks(ws, corpus.id)
    counts = pd.Series([c.doc_id for c in chunks]).value_counts()
    titles = {d.doc_id: d.title for d in documents}
    doc_id = st.selectbox("Document", list(titles), format_func=lambda d: f"{titles[d]} ({counts.get(d, 0)} chunks)")
    st.dataframe(pd.DataFrame([{"chunk": c.chunk_id, "page": c.page, "section": c.section, "text": c.text}
                               for c in chunks if c.doc_id == doc_id]),
                 hide_index=True, width="stretch", column_config={"text": st.column_config.TextColumn(width="large")})


with errors_shown(stop=False):  # a damaged file is named, and the corpus can still be deleted
    show_chunks(corpus)
with st.popover("Delete this corpus", icon=":material/delete:"):
    needed_by = ws.corpus_dependants(corpus.id)
    if needed_by:
        st.warning(f"**{literal(corpus.name)}** cannot be deleted while it is needed by: "
                   + "; ".join(literal(d) for d in needed_by) + ".")
    else:
        st.markdown(f"Delete **{literal(corpus.name)}** and its chunks? Question datasets made from it keep their "
                    "passages.")
    if st.button("Delete", type="primary", disabled=bool(needed_by)):
        with errors_shown():  # something started using it since: the refusal names it
            ws.delete_corpus(corpus.id)
        st.session_state.pop(State.CORPUS, None)
        st.rerun()
