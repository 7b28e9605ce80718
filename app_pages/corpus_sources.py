"""The Corpus page's sources of documents: PDF and text files, wiki pages (fetched in a job), pasted text.
Each adds what it loaded to the staged documents, which the page then chunks and saves."""

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.state import State
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.job_panel import run_panel
from app_pages.widgets.waits import waited
from ragtune_core import jobs
from ragtune_core.corpus import WIKIPEDIA_API, IngestResult, load_fetched, load_files, load_text, wiki_fetch_params
from ragtune_core.jobs import JobKind
from ragtune_core.runs import JobState


def add_documents(staged: dict) -> None:
    """A tab per source; what each loads is added to `staged` (documents by id)."""
    pdf_tab, wiki_tab, text_tab = st.tabs(["PDF / text files", "Wikipedia / MediaWiki", "Paste text"])
    with pdf_tab:
        with st.form("upload", clear_on_submit=True):
            files = st.file_uploader(
                "PDF, .txt or .md files", type=["pdf", "txt", "md", "markdown"], accept_multiple_files=True
            )
            if st.form_submit_button("Add files", icon=":material/upload_file:") and files:
                with st.spinner("Reading files…"):
                    _stage(staged, load_files([(f.name, f.getvalue()) for f in files]))
    with wiki_tab:
        with st.form("wiki"):
            titles = st.text_area("Page titles, one per line", placeholder="Toronto\nSeattle")
            endpoint = st.text_input(
                "MediaWiki API endpoint", value=WIKIPEDIA_API, help="Any MediaWiki site works: its api.php address."
            )
            if st.form_submit_button("Fetch pages", icon=":material/travel_explore:"):
                _start_fetch([t.strip() for t in titles.splitlines() if t.strip()], endpoint.strip())
        _stage_when_fetched(staged, run_panel([JobKind.FETCH_WIKI_PAGES], State.FETCH_RUN))
    with text_tab:
        with st.form("paste", clear_on_submit=True):
            title = st.text_input("Title")
            text = st.text_area("Text", height=200)
            if st.form_submit_button("Add text", icon=":material/post_add:"):
                if not title.strip():
                    st.warning("Give the text a title.")
                else:
                    _stage(staged, load_text(title.strip(), text))


def _stage(staged: dict, result: IngestResult) -> None:
    """Adds the loaded documents to `staged`; says which were added and which could not be read."""
    for doc in result.documents:
        staged[doc.doc_id] = doc
    for error in result.errors:
        st.error(f"**{literal(error.name)}**: {literal(error.message)}", icon=":material/error:")
    if result.documents:
        titles = ", ".join(d.title for d in result.documents)
        st.success(f"Added {len(result.documents)} document(s): " + literal(titles))


def _start_fetch(titles: list[str], endpoint: str) -> None:
    """Starts fetching `titles` in a background job (a slow wiki takes seconds a title); the job panel
    below follows it."""
    if not titles:
        st.warning("Type at least one page title.")
        return
    with errors_shown(stop=False):  # an endpoint that is no URL, or that the allow-list refuses, is said here
        status = jobs.start_job(
            workspace(),
            JobKind.FETCH_WIKI_PAGES,
            wiki_fetch_params(endpoint, titles),
            name=f"fetch {len(titles)} wiki page(s)",
        )
        st.session_state[State.FETCH_RUN] = status.run_id


def _stage_when_fetched(staged: dict, run_id: str | None) -> None:
    """Stages the documents of the fetch run shown, once, when it has succeeded."""
    if run_id is None or st.session_state.get(State.FETCH_STAGED) == run_id:
        return
    with errors_shown(stop=False):
        if jobs.read_status(workspace(), run_id).state == JobState.SUCCEEDED:
            _stage(staged, waited("Reading the fetched pages…", lambda: load_fetched(workspace().run_dir(run_id))))
            st.session_state[State.FETCH_STAGED] = run_id
