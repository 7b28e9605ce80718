"""RAGTune: tune the retrieval layer of a RAG app, page by page. Run with `streamlit run app.py`."""

import streamlit as st

from pages.common import job_indicator, workspace
from ragtune_core.models import prefer_offline

prefer_offline()
st.set_page_config(page_title="RAGTune", page_icon=":material/tune:", layout="wide")

PAGES = [
    st.Page("pages/corpus.py", title="1 · Corpus", icon=":material/description:", default=True),
    st.Page("pages/questions.py", title="2 · Questions", icon=":material/quiz:"),
    st.Page("pages/finetune.py", title="3 · Fine-tune", icon=":material/model_training:"),
    st.Page("pages/compare.py", title="4 · Compare", icon=":material/leaderboard:"),
    st.Page("pages/playground.py", title="5 · Playground", icon=":material/alt_route:"),
]

navigation = st.navigation(PAGES)
with st.sidebar:
    st.caption(f"Workspace: `{workspace().root}`")
    job_indicator()
navigation.run()
