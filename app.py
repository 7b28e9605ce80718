"""RAGTune: tune the retrieval layer of a RAG app, page by page. Run with `streamlit run app.py`."""

import streamlit as st

from app_pages.widgets.errors import errors_shown
from app_pages.widgets.sidebar import workspace_sidebar
from ragtune_core.store import prefer_offline

prefer_offline()
st.set_page_config(page_title="RAGTune", page_icon=":material/tune:", layout="wide")

# Not in pages/: Streamlit runs a pages/ folder as a legacy multipage app until st.navigation has
# run once, which breaks the first deep link after a restart (see docs/architecture.md, "Layout").
PAGES = [
    st.Page("app_pages/corpus.py", title="1 · Corpus", icon=":material/description:"),
    st.Page("app_pages/questions.py", title="2 · Questions", icon=":material/quiz:"),
    st.Page("app_pages/finetune.py", title="3 · Fine-tune", icon=":material/model_training:"),
    st.Page("app_pages/finetune_llm.py", title="3b · Fine-tune an LLM", icon=":material/smart_toy:"),
    st.Page("app_pages/compare.py", title="4 · Compare", icon=":material/leaderboard:"),
    st.Page("app_pages/playground.py", title="5 · Playground", icon=":material/alt_route:"),
]


def first_step() -> None:
    """The root address opens the first page at its own address: Streamlit serves its default page
    only at "/", so a default Corpus page would answer "Page not found" at /corpus (a bookmark)."""
    st.switch_page(PAGES[0])


START = st.Page(first_step, title="RAGTune", url_path="start", default=True, visibility="hidden")

navigation = st.navigation([START, *PAGES])
with errors_shown():  # a damaged catalogue, or what a page did not catch itself: a message, never a traceback
    workspace_sidebar()
    navigation.run()
