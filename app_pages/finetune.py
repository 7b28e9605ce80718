"""Fine-tune: train an embedding model or a cross-encoder on a dataset, watch it learn, keep the result."""

import pandas as pd
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.finetune_charts import training_charts
from app_pages.finetune_form import start_training, training_form
from app_pages.kept_choices import kept
from app_pages.state import State
from app_pages.widgets.downloads import model_download
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.job_panel import run_panel
from app_pages.widgets.pickers import pick
from ragtune_core import jobs
from ragtune_core.evaluation.corpus_vectors import kept_files
from ragtune_core.jobs.results import training_history
from ragtune_core.questions import EVALUATION_ONLY, load_dataset
from ragtune_core.questions.pickers import training_first
from ragtune_core.training import TrainingError, planned_schedule
from ragtune_core.training.duration import estimate_training

ws = workspace()
st.title("Fine-tune")
st.caption(
    "An embedding model learns to put each question next to its passage or tool: on a QA dataset "
    "its question encoder alone learns, against every passage of the documents it trains on, so "
    "passages keep the base model's embeddings and a built index stays valid; on a router dataset the "
    "whole model learns (MultipleNegativesRankingLoss). A cross-encoder learns to score (question, passage) "
    "pairs against hard negatives: a softmax over each question's candidates (ListNet). Its score is then "
    "blended with its embedder's and with word match (BM25) at the shares that validate best; its own score "
    "keeps a share only as large as validation shows it beats noise."
)

with errors_shown():  # a damaged catalogue is named, not a traceback
    datasets = ws.list_datasets()
# Evaluation-only sets (hand-written evidence-phrase questions) are never trained on: not offered here.
held_out = [d.name for d in datasets if d.params.get(EVALUATION_ONLY)]
datasets = [d for d in datasets if not d.params.get(EVALUATION_ONLY)]
if not datasets:
    st.info(
        "Create a dataset on the Questions page first."
        + (" Evaluation-only sets are never trained on." if held_out else "")
    )
    st.stop()

JOB_KINDS = {"embedding": jobs.JobKind.TRAIN_EMBEDDING, "cross_encoder": jobs.JobKind.TRAIN_CROSS_ENCODER}


@st.cache_data(show_spinner="Measuring how fast this machine trains (once, a few seconds)…", max_entries=64)
def estimated_training(dataset, config, search, kept: frozenset[str]) -> str:
    """The training's estimate in words, kept for the same data, settings and kept corpus vectors
    (corpus_vectors.kept_files)."""
    return estimate_training(dataset, config, search).describe()


model_type = st.segmented_control(
    "Model",
    list(JOB_KINDS),
    default="embedding",
    key="model_type",
    format_func={"embedding": "Embedding model", "cross_encoder": "Cross-encoder"}.get,
)
record = pick("Dataset", training_first(datasets), key=kept(State.DATASET, [d.id for d in datasets]))
if held_out:
    st.caption(
        literal(
            f"Held out, never trained on: {', '.join(held_out)} (evaluation-only, hand-written questions "
            "scored by evidence phrases). After training, evaluate the model on them on the Compare page: "
            "they show what users' own questions get, apart from the generated validation."
        )
    )
config, name, search = training_form(record, model_type)
dataset = None
with errors_shown(stop=False):  # a damaged dataset file is named; runs and models below still show
    dataset = load_dataset(ws, record.id)
if (
    dataset is not None
    and dataset.split
    and not isinstance(config, TrainingError)
    and "" not in (config.base_model, getattr(config, "embedder", None))
):
    with errors_shown(stop=False):
        st.caption(
            f"Training length: {planned_schedule(dataset, config).reason}. Each validation run is a "
            "candidate: the best one is kept, and training stops early once they stop improving. "
            f"Estimated time on this machine: {estimated_training(dataset, config, search, kept_files())}."
        )

if st.button("Start training", type="primary", icon=":material/play_arrow:"):
    start_training(record, JOB_KINDS[model_type], config, name, search)

run_panel(JOB_KINDS.values(), State.TRAINING_RUN, chart=training_charts)

st.divider()
st.subheader("Run history")
models = ws.list_models()
with errors_shown(stop=False):
    history = pd.DataFrame(training_history(ws))
    if history.empty and models:  # trained with the CLI, which keeps no run here
        st.info("No training run started on this page yet; the models trained with the CLI are listed below.")
    elif history.empty:
        st.info("No training run yet.")
    else:
        st.dataframe(history, hide_index=True, width="stretch")

# Models trained from the CLI have no run here, so the download does not depend on the history.
model_download(models)
