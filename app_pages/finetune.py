"""Fine-tune: train an embedding model or a cross-encoder on a dataset, watch it learn, keep the result."""

from dataclasses import asdict
from functools import partial
from pathlib import Path

import pandas as pd
import streamlit as st

from app_pages.components import format_seconds, line_chart, pick, run_panel, when, workspace
from app_pages.state import State
from ragtune_core import jobs
from ragtune_core.questions import load_dataset
from ragtune_core.store import DEFAULT_BASE_MODEL, zip_model
from ragtune_core.training import CrossEncoderTrainConfig, EmbeddingTrainConfig

ws = workspace()
st.title("Fine-tune")
st.caption("An embedding model learns to put each question next to its passage or tool "
           "(MultipleNegativesRankingLoss); a cross-encoder learns to score (question, passage) pairs "
           "against hard negatives (binary cross-entropy).")

datasets = ws.list_datasets()
if not datasets:
    st.info("Create a dataset on the Questions page first.")
    st.stop()

JOB_KINDS = {"embedding": jobs.JobKind.TRAIN_EMBEDDING, "cross_encoder": jobs.JobKind.TRAIN_CROSS_ENCODER}
OTHER = "Other (Hub id or folder)…"


def training_charts(events: list[dict]) -> None:
    loss, metrics = st.columns(2)
    with loss:
        line_chart(events, "train_step", ["loss"], "Train loss")
    with metrics:
        evals = [{"event": "eval", "step": e["step"], **e["metrics"]} for e in events if e.get("event") == "eval"]
        line_chart(evals, "eval", ["ndcg@10", "mrr@10", "accuracy@1", "accuracy@5"], "Validation metrics")


def model_choice(label: str, names: list[str], key: str) -> str | None:
    """A model picked from the bundled default, workspace models, or typed; None = bundled default."""
    choice = st.selectbox(label, [DEFAULT_BASE_MODEL, *names, OTHER], key=key)
    if choice == OTHER:
        return st.text_input(f"{label}: Hub id or local folder", placeholder="BAAI/bge-small-en-v1.5", key=f"{key}-other",
                             help="Hub models need internet access.").strip() or ""
    if choice == DEFAULT_BASE_MODEL:
        return None
    return ws.resolve("models", choice).path


model_type = st.segmented_control("Model", list(JOB_KINDS), default="embedding", key="model_type",
                                  format_func={"embedding": "Embedding model", "cross_encoder": "Cross-encoder"}.get)
embedders = [m.name for m in ws.list_models("embedding")]
with st.form("train"):
    record = pick("Dataset", datasets, key=State.DATASET)
    if model_type == "cross_encoder":
        base = model_choice("Base model", [m.name for m in ws.list_models("cross_encoder")], "ce-base")
        embedder = model_choice("Embedder for hard negatives", embedders, "ce-embedder")
        defaults = CrossEncoderTrainConfig()
    else:
        base = model_choice("Base model", embedders, "emb-base")
        defaults = EmbeddingTrainConfig()
    name = st.text_input("Name of the fine-tuned model",
                         value=f"{record.name}-{'reranker' if model_type == 'cross_encoder' else 'minilm'}")
    c1, c2, c3, c4 = st.columns(4)
    epochs = c1.number_input("Epochs", 1, 50, defaults.epochs)
    batch_size = c2.number_input("Batch size", 2, 512, defaults.batch_size)
    learning_rate = c3.number_input("Learning rate", 1e-7, 1e-2, defaults.learning_rate, format="%.1e")
    if model_type == "cross_encoder":
        max_length = c4.number_input("Max length (tokens)", 16, 8192, defaults.max_length)
        hard_negatives = st.number_input("Hard negatives per question", 1, 50, defaults.hard_negatives)
        config = CrossEncoderTrainConfig(base_model=base, epochs=int(epochs), batch_size=int(batch_size),
                                         learning_rate=float(learning_rate), max_length=int(max_length),
                                         hard_negatives=int(hard_negatives), embedder=embedder)
    else:
        max_seq_length = c4.number_input("Max sequence length", 16, 8192, defaults.max_seq_length)
        config = EmbeddingTrainConfig(base_model=base, epochs=int(epochs), batch_size=int(batch_size),
                                      learning_rate=float(learning_rate), max_seq_length=int(max_seq_length))
    submitted = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")


def problems_with(config, name: str) -> list[str]:
    problems = []
    try:
        config.validate()
    except ValueError as exc:
        problems.append(str(exc))
    if "" in (config.base_model, getattr(config, "embedder", None)):
        problems.append("Type a Hub id or a folder for the model marked 'Other'.")
    if not name or ws.model_name_taken(name):
        problems.append(f"Pick another model name: {name!r} is empty or already used.")
    if not load_dataset(ws, record.id).split:
        problems.append(f"Dataset {record.name!r} has no train/validation split; split it on the Questions page.")
    return problems


if submitted:
    problems = problems_with(config, name.strip())
    for problem in problems:
        st.error(problem)
    if not problems:
        status = jobs.start_job(ws, JOB_KINDS[model_type], {"dataset_id": record.id, "model_name": name.strip(),
                                                            "config": asdict(config)},
                                name=name.strip(), dataset_id=record.id)
        st.session_state[State.TRAINING_RUN] = status.run_id

run_panel(JOB_KINDS.values(), State.TRAINING_RUN, chart=training_charts)


def run_history() -> pd.DataFrame:
    """One row per training run, newest first: its settings and the validation metrics it reached."""
    runs = sorted((r for kind in JOB_KINDS.values() for r in ws.list_runs(kind)), key=lambda r: r.created, reverse=True)
    names = {d.id: d.name for d in datasets}
    history = []
    for run in runs:
        after = run.result.get("metrics_after", {})
        history.append({
            "model": run.name, "type": "cross-encoder" if run.kind == JOB_KINDS["cross_encoder"] else "embedding",
            "state": run.state, "dataset": names.get(run.dataset_id, run.dataset_id),
            "epochs": run.params["config"]["epochs"], "batch": run.params["config"]["batch_size"],
            "lr": run.params["config"]["learning_rate"], "started": when(run.created),
            "duration": format_seconds(run.finished - run.created) if run.finished else "",
            "ndcg@10": after.get("ndcg@10"), "mrr@10": after.get("mrr@10"), "accuracy@1": after.get("accuracy@1"),
        })
    return pd.DataFrame(history)


st.divider()
st.subheader("Run history")
history = run_history()
if history.empty:
    st.info("No training run yet.")
else:
    st.dataframe(history, hide_index=True, width="stretch")

# Models trained from the CLI have no run here, so the download does not depend on the history.
models = ws.list_models()
if models:
    model = pick("Download a model", models, key="download_model")
    # A callable: the zip is built from disk when clicked, not on every run, and never kept in the session.
    st.download_button(f"Download {model.name}.zip", partial(zip_model, Path(model.path)),
                       file_name=f"{Path(model.path).name}.zip", mime="application/zip", icon=":material/download:")
