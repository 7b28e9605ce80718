"""Fine-tune page, the training settings: the models to start from, the new model's name and its settings;
then every check a training needs before it starts in a worker. No st.form: the estimate under the settings
follows each change before Start training is pressed (in a form it showed the settings of the last start)."""

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.state import State
from app_pages.training_settings import model_choice, search_settings, training_settings
from app_pages.widgets.errors import errors_shown
from ragtune_core import jobs
from ragtune_core.store import DatasetRecord
from ragtune_core.training import (
    CrossEncoderTrainConfig,
    EmbeddingTrainConfig,
    ModelNameError,
    TrainingError,
    preflight,
)


def training_form(record: DatasetRecord, model_type: str):
    """The settings; returns (the config, or the TrainingError its settings raised; the name; the search
    settings)."""
    ws = workspace()
    embedders = [m.name for m in ws.list_models("embedding")]
    with st.container(border=True):
        if model_type == "cross_encoder":
            models, base = _cross_encoder_models(record, embedders), _cross_encoder_start()
            config_class = CrossEncoderTrainConfig
        else:
            base, models, config_class = model_choice("Base model", embedders, "emb-base"), {}, EmbeddingTrainConfig
        name = st.text_input(
            "Name of the fine-tuned model",
            value=f"{record.name}-{'reranker' if model_type == 'cross_encoder' else 'minilm'}",
        )
        try:
            config = training_settings(config_class, base, qa=record.kind == "qa", **models)
            search = search_settings(model_type)
        except TrainingError as exc:
            config, search = exc, None
    return config, name, search


def _cross_encoder_models(record: DatasetRecord, embedders: list[str]) -> dict:
    """The embedder that ranks the hard negatives: the newest one fine-tuned on this dataset ranks them best."""
    tuned = workspace().newest_model_trained_on(record.id, "embedding")
    return {
        "embedder": model_choice(
            "Embedder for hard negatives",
            embedders,
            f"ce-embedder-{record.id}",
            preferred=tuned.name if tuned else None,
            help="Ranks each question's hard negatives. Chosen for you: the newest "
            "embedding model fine-tuned on this dataset, if there is one.",
        )
    }


def _cross_encoder_start() -> str | None:
    return model_choice(
        "Start from",
        [m.name for m in workspace().list_models("cross_encoder")],
        "ce-base",
        default="the embedder's weights, new score head",
        help="An encoder fine-tuned on the same data already tells right from wrong, so the "
        "cross-encoder starts from the embedder's and learns a new score head; or pick a "
        "trained reranker to go on from.",
    )


def start_training(record: DatasetRecord, job_kind: str, config, name: str, search) -> None:
    """Check everything a training needs, then start it in a worker; problems are shown, not raised."""
    if isinstance(config, TrainingError):
        st.error(literal(config))
    elif "" in (config.base_model, getattr(config, "embedder", None)):
        st.error("Type a Hub id or a folder for the model marked 'Other'.")
    else:
        ws = workspace()
        try:
            name, _ = preflight(ws, record.id, name, config)
        except ModelNameError as exc:
            st.error(f"{literal(exc)}. Pick another name.")
            return
        except TrainingError as exc:  # the dataset: its split, its parts
            st.error(f"{literal(exc)}. Fix the dataset on the Questions page.")
            return
        with errors_shown(stop=False):  # e.g. a training started meanwhile holds the name
            params = jobs.training_job_params(record.id, name, config, search)
            status = jobs.start_job(ws, job_kind, params, name=name, dataset_id=record.id)
            st.session_state[State.TRAINING_RUN] = status.run_id
