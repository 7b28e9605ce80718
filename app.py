"""RAGTune: tune the retrieval layer of a RAG app, page by page. Run with `streamlit run app.py`."""

import streamlit as st

from pages.common import job_indicator, workspace
from ragtune_core.models import prefer_offline

prefer_offline()
st.set_page_config(page_title="RAGTune", page_icon=":material/tune:", layout="wide")

# A page's URL differs from its file name on purpose: until app.py has called st.navigation once,
# Streamlit treats pages/ as a legacy multipage folder, and a first request for /corpus would run
# pages/corpus.py on its own, without this navigation. With no such file, it runs app.py instead.
PAGES = [
    st.Page("pages/corpus_page.py", url_path="corpus", title="1 · Corpus", icon=":material/description:", default=True),
    st.Page("pages/questions_page.py", url_path="questions", title="2 · Questions", icon=":material/quiz:"),
    st.Page("pages/finetune_page.py", url_path="finetune", title="3 · Fine-tune", icon=":material/model_training:"),
    st.Page("pages/compare_page.py", url_path="compare", title="4 · Compare", icon=":material/leaderboard:"),
    st.Page("pages/playground_page.py", url_path="playground", title="5 · Playground", icon=":material/alt_route:"),
]

navigation = st.navigation(PAGES)
with st.sidebar:
    st.caption(f"Workspace: `{workspace().root}`")
    job_indicator()
navigation.run()
