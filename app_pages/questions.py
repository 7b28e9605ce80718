"""Questions: generate synthetic questions per chunk, curate them, save a split dataset."""

import pandas as pd
import streamlit as st

from app_pages.basics import workspace
from app_pages.kept_choices import kept
from app_pages.questions_dataset import dataset_summary, delete_popover, download_buttons, split_popover
from app_pages.questions_import import import_popover
from app_pages.questions_qa import qa_form
from app_pages.questions_queue import curation_panel
from app_pages.questions_review import review_drafts
from app_pages.questions_round import round_panel
from app_pages.questions_router import router_form
from app_pages.state import State
from app_pages.widgets.job_panel import run_panel
from app_pages.widgets.pickers import pick
from ragtune_core.jobs import JobKind
from ragtune_core.questions import EVALUATION_ONLY, load_dataset
from ragtune_core.timing import when

ws = workspace()
st.title("Questions")
st.caption(
    "Synthetic questions about your corpus, each with its answer (a passage, or for a router the tool that should "
    "take it): the training and test data of your retriever or router. Review, edit and split them here."
)

corpora = ws.list_corpora()
if not corpora:
    st.info("Create a corpus on the Corpus page first.")
    st.stop()

# --- generate -------------------------------------------------------------------------------
KINDS = {"qa": "Question → passage pairs", "router": "Router: question → tool"}
GENERATION_KINDS = (JobKind.GENERATE_QUESTIONS, JobKind.GENERATE_ROUTER_QUESTIONS)

with st.expander("Generate questions", expanded=True):
    corpus = pick("Corpus", corpora, key=kept(State.CORPUS, [c.id for c in corpora]))
    kind = st.segmented_control("Dataset", list(KINDS), format_func=KINDS.get, default="qa", key="dataset_kind")
    (router_form if kind == "router" else qa_form)(corpus)
run_panel(GENERATION_KINDS, State.GENERATION_RUN)

# --- curate ---------------------------------------------------------------------------------
st.subheader("Review and accept")
review_drafts(GENERATION_KINDS)

# --- datasets -------------------------------------------------------------------------------
st.divider()
st.subheader("Datasets")
import_popover(corpora)

datasets = ws.list_datasets()
if not datasets:
    st.info("No dataset yet.")
    st.stop()
st.dataframe(
    pd.DataFrame(
        [
            {
                "name": d.name,
                "kind": d.kind,
                "questions": d.n_queries,
                "split by": d.params.get("split_by", ""),
                "use": "evaluation only" if d.params.get(EVALUATION_ONLY) else "",
                "created": when(d.created),
            }
            for d in datasets
        ]
    ),
    hide_index=True,
    width="stretch",
)
record = pick("Dataset", datasets, key=kept(State.DATASET, [d.id for d in datasets]))
dataset = load_dataset(ws, record.id)
dataset_summary(record, dataset)
split_popover(record, dataset)
delete_popover(record)
download_buttons(record, dataset)

curation_panel(record, dataset)
round_panel(record)
