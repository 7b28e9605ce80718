"""Questions page, retrain and compare: a model of an earlier version trained again, with the same settings,
on the version shown; then both evaluated on its validation questions: what the round changed."""

import pandas as pd
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.state import State
from app_pages.widgets.charts import llm_curves
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.job_panel import run_panel
from ragtune_core.jobs import JobKind
from ragtune_core.jobs.rounds import (
    RETRAINABLE,
    earlier_models,
    hosted_endpoint,
    round_gains,
    round_of,
    start_retrain,
    start_round_evaluation,
)
from ragtune_core.questions.versions import versions_of
from ragtune_core.store import DatasetRecord

KIND_NAMES = {"embedding": "embedding model", "cross_encoder": "cross-encoder", "llm": "fine-tuned LLM"}


def round_panel(record: DatasetRecord) -> None:
    ws = workspace()
    if versions_of(ws, record.id)[0].id == record.id:
        return  # a first version: no earlier model to train again
    st.subheader("Retrain and compare")
    models = {m.name: m for m in earlier_models(ws, record.id)}
    if not models:
        st.info(f"No model to retrain: a round retrains {RETRAINABLE} on an earlier version of this dataset.")
        return
    old = models[
        st.selectbox(
            "Model of an earlier version",
            list(models),
            format_func=lambda name: f"{name} ({KIND_NAMES[models[name].kind]})",
            key=f"round-model-{record.id}",
        )
    ]
    this_round = round_of(ws, old, record.id)
    st.caption(
        literal(
            f"The same training as {old.name}, on this version; then both models on this version's validation "
            f"questions ({this_round.comparison.measures}): each gain with its 95% bootstrap interval. "
            f"A round retrains {RETRAINABLE}."
        )
    )
    name = st.text_input("New model", f"{old.name} · {record.name}", key=f"round-name-{record.id}-{old.id}")
    with errors_shown():  # a hosted LLM's damaged description
        api_key = _endpoint_key(old)
    new = next((m for m in ws.list_models(old.kind) if m.name == name and m.dataset_id == record.id), None)
    if new is None and st.button("Retrain on this version", type="primary", icon=":material/replay:"):
        with errors_shown(stop=False):  # e.g. the name is taken
            st.session_state[State.TRAINING_RUN] = start_retrain(ws, old, record.id, name, api_key).run_id
    training = this_round.training.job
    chart = llm_curves if training == JobKind.TRAIN_LLM else None
    run_panel([training], State.TRAINING_RUN, chart=chart)  # stays once trained: its closing line, its verdict
    if new is None:
        return
    gains = round_gains(ws, record.id, old, new)
    if gains is None and st.button("Compare the round", type="primary", icon=":material/compare_arrows:"):
        with errors_shown(stop=False):
            st.session_state[State.EVALUATION_RUN] = start_round_evaluation(ws, record.id, old, new, api_key).run_id
    run_panel([this_round.comparison.job], State.EVALUATION_RUN)
    if gains is not None:
        _gains_table(old.name, new.name, gains)


def _endpoint_key(old) -> str | None:
    """A hosted fine-tuned LLM's endpoint key, typed in and kept in this browser session only, as the Fine-tune
    LLM page takes it; None: the server's key, which goes only to its own endpoint (or none: a local model)."""
    endpoint = hosted_endpoint(old)
    if endpoint is None:
        return None
    return (
        st.text_input(
            f"API key of {literal(endpoint)}",
            type="password",
            key=f"round-api-key-{old.id}",
            placeholder="empty: the server's key, if this is its endpoint",
            help="Kept in this browser session only; never saved. The retrain and the comparison run there.",
        )
        or None
    )


def _gains_table(old: str, new: str, gains: list) -> None:
    st.markdown(
        literal(
            f"What the round changed: {new} over {old}, on {gains[0].queries} validation questions of this version."
        )
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "metric": g.metric,
                    old: g.base,
                    new: g.other,
                    "gain": g.gain,
                    "95% interval": f"{g.ci_low:+.3f} … {g.ci_high:+.3f}",
                    "verdict": _verdict(g.ci_low, g.ci_high),
                }
                for g in gains
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={
            old: st.column_config.NumberColumn(format="%.3f"),
            new: st.column_config.NumberColumn(format="%.3f"),
            "gain": st.column_config.NumberColumn(format="%+.3f"),
        },
    )


def _verdict(low: float, high: float) -> str:
    return "better" if low > 0 else "worse" if high < 0 else "within noise"
