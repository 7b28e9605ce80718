"""Fine-tune: train an embedding model on a dataset's questions, watch it learn, keep the result."""

from dataclasses import asdict
from pathlib import Path

import pandas as pd
import streamlit as st

from pages.common import format_seconds, job_panel, line_chart, pick, when, workspace
from ragtune_core import jobs
from ragtune_core.models import DEFAULT_BASE_MODEL
from ragtune_core.training import EmbeddingTrainConfig, zip_model

ws = workspace()
st.title("Fine-tune")
st.caption("Fine-tune a sentence-transformers embedding model with MultipleNegativesRankingLoss on your questions.")

datasets = [d for d in ws.list_datasets("qa")]
if not datasets:
    st.info("Create a dataset on the Questions page first.")
    st.stop()


def training_charts(events: list[dict]) -> None:
    loss, metrics = st.columns(2)
    with loss:
        line_chart(events, "train_step", ["loss"], "Train loss")
    with metrics:
        evals = [{"event": "eval", "step": e["step"], **e["metrics"]} for e in events if e.get("event") == "eval"]
        line_chart(evals, "eval", ["ndcg@10", "mrr@10", "accuracy@1", "accuracy@5"], "Validation metrics")


with st.form("train"):
    record = pick("Dataset", datasets, key="dataset_id")
    bases = [DEFAULT_BASE_MODEL] + [m.name for m in ws.list_models("embedding")]
    base_choice = st.selectbox("Base model", bases + ["Other (Hub id or folder)…"])
    other = st.text_input("Hub id or local folder", placeholder="BAAI/bge-small-en-v1.5",
                          help="Used when the base model is 'Other'. Hub models need internet access.")
    name = st.text_input("Name of the fine-tuned model", value=f"{record.name}-minilm")
    c1, c2, c3, c4 = st.columns(4)
    defaults = EmbeddingTrainConfig()
    epochs = c1.number_input("Epochs", 1, 50, defaults.epochs)
    batch_size = c2.number_input("Batch size", 2, 512, defaults.batch_size)
    learning_rate = c3.number_input("Learning rate", 1e-7, 1e-2, defaults.learning_rate, format="%.1e")
    max_seq_length = c4.number_input("Max sequence length", 16, 8192, defaults.max_seq_length)
    submitted = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")

if submitted:
    base = other.strip() if base_choice.startswith("Other") else base_choice
    if base in {m.name for m in ws.list_models("embedding")}:
        base = ws.resolve("models", base).path
    config = EmbeddingTrainConfig(base_model=None if base == DEFAULT_BASE_MODEL else base, epochs=int(epochs),
                                  batch_size=int(batch_size), learning_rate=float(learning_rate),
                                  max_seq_length=int(max_seq_length))
    problems = []
    try:
        config.validate()
    except ValueError as exc:
        problems.append(str(exc))
    if not base:
        problems.append("Type a Hub id or a folder for the base model.")
    if not name.strip() or ws.model_name_taken(name.strip()):
        problems.append(f"Pick another model name: {name.strip()!r} is empty or already used.")
    if not ws.load_dataset(record.id).split:
        problems.append(f"Dataset {record.name!r} has no train/validation split; split it on the Questions page.")
    for problem in problems:
        st.error(problem)
    if not problems:
        status = jobs.start_job(ws, "train_embedding", {"dataset_id": record.id, "model_name": name.strip(),
                                                        "config": asdict(config)},
                                name=name.strip(), dataset_id=record.id)
        st.session_state["training_run"] = status.run_id

runs = ws.list_runs("train_embedding")
active = [r for r in runs if r.state in jobs.ACTIVE_STATES]
watched = st.session_state.get("training_run") or (active[0].id if active else None)
if watched:
    job_panel(watched, chart=training_charts)

st.divider()
st.subheader("Run history")
if not runs:
    st.info("No training run yet.")
    st.stop()
names = {d.id: d.name for d in ws.list_datasets()}
history = []
for run in runs:
    after = run.result.get("metrics_after", {})
    history.append({
        "model": run.name, "state": run.state, "dataset": names.get(run.dataset_id, run.dataset_id),
        "epochs": run.params["config"]["epochs"], "batch": run.params["config"]["batch_size"],
        "lr": run.params["config"]["learning_rate"], "started": when(run.created),
        "duration": format_seconds(run.finished - run.created) if run.finished else "",
        "ndcg@10": after.get("ndcg@10"), "mrr@10": after.get("mrr@10"), "hit@5": after.get("accuracy@5"),
    })
st.dataframe(pd.DataFrame(history), hide_index=True, width="stretch")

models = ws.list_models("embedding")
if models:
    model = pick("Download a model", models, key="download_model")
    if st.button("Prepare zip", icon=":material/folder_zip:"):
        st.session_state["model_zip"] = (model.id, zip_model(Path(model.path)))
    prepared = st.session_state.get("model_zip")
    if prepared and prepared[0] == model.id:
        st.download_button(f"Download {model.name}.zip", prepared[1], file_name=f"{Path(model.path).name}.zip",
                           mime="application/zip", icon=":material/download:")
