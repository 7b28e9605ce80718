"""Fine-tune: train an embedding model or a cross-encoder on a dataset, watch it learn, keep the result."""

from functools import partial
from pathlib import Path

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.components import chart, errors_shown, line_chart, pick, run_panel, when
from app_pages.state import State
from app_pages.training_settings import search_settings, training_settings
from ragtune_core.questions.pickers import training_first
from ragtune_core.runs import EventKind
from ragtune_core import jobs
from ragtune_core.jobs.results import TrainingRunResult
from ragtune_core.store import DEFAULT_BASE_MODEL, zip_model
from ragtune_core.store.files import own_files
from ragtune_core.timing import clock, duration
from ragtune_core.questions import EVALUATION_ONLY, load_dataset
from ragtune_core.training import CrossEncoderTrainConfig, EmbeddingTrainConfig, TrainingError, planned_schedule, preflight
from ragtune_core.training.duration import estimate_training
from ragtune_core.training.fit import how_it_stopped

ws = workspace()
st.title("Fine-tune")
st.caption("An embedding model learns to put each question next to its passage or tool: on a QA dataset "
           "its question encoder alone learns, against every passage of the documents it trains on, so "
           "passages keep the base model's embeddings and a built index stays valid; on a router dataset the "
           "whole model learns (MultipleNegativesRankingLoss). A cross-encoder learns to score (question, passage) pairs "
           "against hard negatives: a softmax over each question's candidates (ListNet). A QA reranker's score "
           "is then blended with the embedder's at the weight that validates best.")

with errors_shown():  # a damaged catalogue is named, not a traceback
    datasets = ws.list_datasets()
# Evaluation-only sets (hand-written evidence-phrase questions) are never trained on: not offered here.
held_out = [d.name for d in datasets if d.params.get(EVALUATION_ONLY)]
datasets = [d for d in datasets if not d.params.get(EVALUATION_ONLY)]
if not datasets:
    st.info("Create a dataset on the Questions page first."
            + (" Evaluation-only sets are never trained on." if held_out else ""))
    st.stop()

JOB_KINDS = {"embedding": jobs.JobKind.TRAIN_EMBEDDING, "cross_encoder": jobs.JobKind.TRAIN_CROSS_ENCODER}
OTHER = "Other (Hub id or folder)…"


def training_charts(events: list[dict]) -> None:
    """The schedule, the loss and the validation curves; in a search, the trials and the latest trial's curves."""
    trials = [e for e in events if e.get("event") == EventKind.TRIAL]
    if trials or any(e.get("event") == EventKind.SEARCH for e in events):
        search_chart(trials)
        latest = max((e["trial"] for e in events if "trial" in e), default=None)
        events = [e for e in events if e.get("trial") == latest and e.get("event") != EventKind.TRIAL]
    for event in events:
        if event.get("event") == EventKind.SCHEDULE:
            st.caption(f"Schedule: {event['reason']}; validation every {event['eval_steps']} steps.")
        elif event.get("event") == EventKind.BEST:
            kept = "the base model (no step beat it)" if event["step"] == 0 else f"step {event['step']}"
            stopped = how_it_stopped(event)
            st.caption(f"Kept {kept}: validation {event['metric']} {event['value']:.3f}"
                       f"{' · ' + stopped if stopped else ''}.")
    loss, metrics = st.columns(2)
    with loss:
        line_chart(events, EventKind.TRAIN_STEP, ["loss"], "Train loss")
    with metrics:
        evals = [{"event": EventKind.EVAL, "step": e["step"], **e["metrics"]}
                 for e in events if e.get("event") == EventKind.EVAL]
        line_chart(evals, EventKind.EVAL, ["ndcg@10", "mrr@10", "accuracy@1", "accuracy@5"], "Validation metrics")


def search_chart(trials: list[dict]) -> None:
    """Each finished trial's validation score, the best one named with its settings."""
    done = [t for t in trials if t["value"] is not None]
    if done:
        best = max(done, key=lambda t: t["value"])
        settings = ", ".join(f"{name.replace('_', ' ')} {value:.3g}" for name, value in best["params"].items())
        st.caption(f"Hyperparameter search: {len(trials)} trial(s) finished, best so far trial {best['number']} "
                   f"({best['value']:.3f}; {settings}). Trials stopped as trailing are not shown.")
        rows = pd.DataFrame([{"trial": t["number"], "validation": t["value"], **t["params"]} for t in done])
        rows["best so far"] = rows["validation"].cummax()
        figure = px.scatter(rows, x="trial", y="validation", hover_data=list(best["params"]),
                            title="Search trials: validation score of the model each kept")
        figure.add_scatter(x=rows["trial"], y=rows["best so far"], mode="lines", line_shape="hv", name="best so far")
        figure.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), xaxis_dtick=1)
        chart(figure)
    else:
        st.caption(f"Hyperparameter search: {len(trials)} trial(s) finished, none complete yet.")


@st.cache_data(show_spinner="Measuring how fast this machine trains (once, a few seconds)…", max_entries=64)
def estimated_training(dataset, config, search) -> str:
    """The training's estimate in words, kept for the same data and settings."""
    return estimate_training(dataset, config, search).estimate.describe()


def model_choice(label: str, names: list[str], key: str, default: str = DEFAULT_BASE_MODEL,
                 preferred: str | None = None, help: str | None = None) -> str | None:
    """A model picked from the default (shown as `default`), workspace models, or typed; None = the default.
    `preferred` (one of `names`) is chosen until the user picks another."""
    options = [default, *names, OTHER]
    choice = st.selectbox(label, options, index=options.index(preferred) if preferred in names else 0, key=key,
                          help=help)
    if choice == OTHER:
        return st.text_input(f"{label}: Hub id (hf:owner/name) or local folder", placeholder="hf:BAAI/bge-small-en-v1.5", key=f"{key}-other",
                             help="Hub models need internet access.").strip() or ""
    if choice == default:
        return None
    return ws.resolve("models", choice).path


model_type = st.segmented_control("Model", list(JOB_KINDS), default="embedding", key="model_type",
                                  format_func={"embedding": "Embedding model", "cross_encoder": "Cross-encoder"}.get)
embedders = [m.name for m in ws.list_models("embedding")]
record = pick("Dataset", training_first(datasets), key=State.DATASET)
if held_out:
    st.caption(literal(f"Held out, never trained on: {', '.join(held_out)} (evaluation-only, hand-written questions "
                       "scored by evidence phrases). After training, evaluate the model on them on the Compare page: "
                       "they show what users' own questions get, apart from the generated validation."))
with st.form("train"):
    if model_type == "cross_encoder":
        # The newest embedder fine-tuned on this dataset ranks its hard negatives best and gives the start.
        tuned = ws.newest_model_trained_on(record.id, "embedding")
        models = {"embedder": model_choice("Embedder for hard negatives", embedders, f"ce-embedder-{record.id}",
                                           preferred=tuned.name if tuned else None,
                                           help="Ranks each question's hard negatives. Chosen for you: the newest "
                                                "embedding model fine-tuned on this dataset, if there is one.")}
        base = model_choice("Start from", [m.name for m in ws.list_models("cross_encoder")], "ce-base",
                            default="the embedder's weights, new score head",
                            help="An encoder fine-tuned on the same data already tells right from wrong, so the "
                                 "cross-encoder starts from the embedder's and learns a new score head; or pick a "
                                 "trained reranker to go on from.")
        config_class = CrossEncoderTrainConfig
    else:
        base, models, config_class = model_choice("Base model", embedders, "emb-base"), {}, EmbeddingTrainConfig
    name = st.text_input("Name of the fine-tuned model",
                         value=f"{record.name}-{'reranker' if model_type == 'cross_encoder' else 'minilm'}")
    try:
        config = training_settings(config_class, base, qa=record.kind == "qa", **models)
        search = search_settings(model_type)
    except TrainingError as exc:
        config, search = exc, None
    submitted = st.form_submit_button("Start training", type="primary", icon=":material/play_arrow:")
dataset = None
with errors_shown(stop=False):  # a damaged dataset file is named; runs and models below still show
    dataset = load_dataset(ws, record.id)
if dataset is not None and dataset.split and not isinstance(config, TrainingError) and "" not in (
        config.base_model, getattr(config, "embedder", None)):
    with errors_shown(stop=False):
        st.caption(f"Training length: {planned_schedule(dataset, config).reason}. Each validation run is a "
                   "candidate: the best one is kept, and training stops early once they stop improving. "
                   f"Estimated time on this machine: {estimated_training(dataset, config, search)}.")


def start_training(config, name: str, search) -> None:
    """Check everything a training needs, then start it in a worker; problems are shown, not raised."""
    if isinstance(config, TrainingError):
        st.error(literal(config))
    elif "" in (config.base_model, getattr(config, "embedder", None)):
        st.error("Type a Hub id or a folder for the model marked 'Other'.")
    else:
        try:
            name, dataset = preflight(ws, record.id, name, config)
        except TrainingError as exc:
            st.error(f"{literal(exc)}. Fix it on the Questions page or pick another name.")
            return
        with errors_shown(stop=False):  # e.g. a training started meanwhile holds the name
            params = jobs.training_job_params(record.id, name, config, search)
            status = jobs.start_job(ws, JOB_KINDS[model_type], params, name=name, dataset_id=record.id)
            st.session_state[State.TRAINING_RUN] = status.run_id


if submitted:
    start_training(config, name, search)

run_panel(JOB_KINDS.values(), State.TRAINING_RUN, chart=training_charts)


def run_history() -> pd.DataFrame:
    """One row per training run, newest first: its settings and the validation metrics it reached."""
    runs = sorted((r for kind in JOB_KINDS.values() for r in ws.list_runs(kind)), key=lambda r: r.created, reverse=True)
    names = {d.id: d.name for d in datasets}
    history = []
    for run in runs:
        result = TrainingRunResult.of_run(run)  # None: nothing registered (yet)
        after = result.metrics_after if result else {}
        history.append({
            "model": run.name, "type": "cross-encoder" if run.kind == JOB_KINDS["cross_encoder"] else "embedding",
            "state": run.state, "dataset": names.get(run.dataset_id, run.dataset_id),
            "schedule": result.schedule if result else "", "kept step": result.best_step if result else None,
            "steps run": result.steps if result else None,
            "search trials": (len(result.trials) or None) if result else None,
            "started": when(run.created),
            "estimated": "" if result is None or result.estimated_seconds is None else duration(result.estimated_seconds),
            "duration": clock(run.finished - run.created) if run.finished else "",
            "ndcg@10": after.get("ndcg@10"), "mrr@10": after.get("mrr@10"), "accuracy@1": after.get("accuracy@1"),
        })
    return pd.DataFrame(history)


st.divider()
st.subheader("Run history")
with errors_shown(stop=False):
    history = run_history()
    if history.empty:
        st.info("No training run yet.")
    else:
        st.dataframe(history, hide_index=True, width="stretch")

# Models trained from the CLI have no run here, so the download does not depend on the history.
models = ws.list_models()
if models:
    model = pick("Download a model", models, key="download_model")
    with errors_shown(stop=False):  # a folder holding links is refused here, before its button is offered
        own_files(Path(model.path), f"the model folder of {model.name}")
        # A callable: the zip is built from disk when clicked, not on every run, and never kept in the session.
        st.download_button(f"Download {literal(model.name)}.zip", partial(zip_model, Path(model.path)),
                           file_name=f"{Path(model.path).name}.zip", mime="application/zip",
                           icon=":material/download:")
