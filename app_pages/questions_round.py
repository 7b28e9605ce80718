"""Questions page, retrain and compare: a model of an earlier version trained again, with the same settings,
on the version shown; then both evaluated on its validation questions: what the round changed."""

import pandas as pd
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.state import State
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.job_panel import run_panel
from ragtune_core.jobs import JobKind
from ragtune_core.jobs.rounds import earlier_models, round_gains, start_retrain, start_round_evaluation
from ragtune_core.store import DatasetRecord


def round_panel(record: DatasetRecord) -> None:
    ws = workspace()
    models = {m.name: m for m in earlier_models(ws, record.id)}
    if not models:
        return
    st.subheader("Retrain and compare")
    st.caption(
        "The same training as a model of an earlier version, on this version; then both models on this "
        "version's validation questions, each gain with its 95% bootstrap interval."
    )
    old = models[st.selectbox("Model of an earlier version", list(models), key=f"round-model-{record.id}")]
    name = st.text_input("New model", f"{old.name} · {record.name}", key=f"round-name-{record.id}-{old.id}")
    new = next((m for m in ws.list_models("embedding") if m.name == name and m.dataset_id == record.id), None)
    if new is None:
        if st.button("Retrain on this version", type="primary", icon=":material/replay:"):
            with errors_shown(stop=False):  # e.g. the name is taken
                st.session_state[State.TRAINING_RUN] = start_retrain(ws, old, record.id, name).run_id
        run_panel([JobKind.TRAIN_EMBEDDING], State.TRAINING_RUN)
        return
    gains = round_gains(ws, record.id, old.name, new.name)
    if gains is None:
        if st.button("Compare the round", type="primary", icon=":material/compare_arrows:"):
            with errors_shown(stop=False):
                st.session_state[State.EVALUATION_RUN] = start_round_evaluation(ws, record.id, old, new).run_id
        run_panel([JobKind.EVALUATE], State.EVALUATION_RUN)
        return
    st.markdown(
        literal(
            f"What the round changed: {new.name} over {old.name}, on {gains[0].queries} validation "
            "questions of this version."
        )
    )
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "metric": g.metric,
                    old.name: g.base,
                    new.name: g.other,
                    "gain": g.gain,
                    "95% interval": f"{g.ci_low:+.3f} … {g.ci_high:+.3f}",
                    "verdict": _verdict(g.ci_low, g.ci_high),
                }
                for g in gains
            ]
        ),
        hide_index=True,
        width="stretch",
    )


def _verdict(low: float, high: float) -> str:
    return "better" if low > 0 else "worse" if high < 0 else "within noise"
