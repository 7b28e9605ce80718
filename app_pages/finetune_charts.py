"""The Fine-tune page's live charts of a training: its schedule, loss and validation curves, and a
hyperparameter search's trials."""

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages.widgets.charts import chart, line_chart
from ragtune_core.runs import EventKind
from ragtune_core.training.fit import how_it_stopped


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
            st.caption(
                f"Kept {kept}: validation {event['metric']} {event['value']:.3f}{' · ' + stopped if stopped else ''}."
            )
    loss, metrics = st.columns(2)
    with loss:
        line_chart(events, EventKind.TRAIN_STEP, ["loss"], "Train loss")
    with metrics:
        evals = [
            {"event": EventKind.EVAL, "step": e["step"], **e["metrics"]}
            for e in events
            if e.get("event") == EventKind.EVAL
        ]
        line_chart(evals, EventKind.EVAL, ["ndcg@10", "mrr@10", "accuracy@1", "accuracy@5"], "Validation metrics")


def search_chart(trials: list[dict]) -> None:
    """Each finished trial's validation score, the best one named with its settings."""
    done = [t for t in trials if t["value"] is not None]
    if done:
        best = max(done, key=lambda t: t["value"])
        settings = ", ".join(f"{name.replace('_', ' ')} {value:.3g}" for name, value in best["params"].items())
        st.caption(
            f"Hyperparameter search: {len(trials)} trial(s) finished, best so far trial {best['number']} "
            f"({best['value']:.3f}; {settings}). Trials stopped as trailing are not shown."
        )
        rows = pd.DataFrame([{"trial": t["number"], "validation": t["value"], **t["params"]} for t in done])
        rows["best so far"] = rows["validation"].cummax()
        figure = px.scatter(
            rows,
            x="trial",
            y="validation",
            hover_data=list(best["params"]),
            title="Search trials: validation score of the model each kept",
        )
        figure.add_scatter(x=rows["trial"], y=rows["best so far"], mode="lines", line_shape="hv", name="best so far")
        figure.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), xaxis_dtick=1)
        chart(figure)
    else:
        st.caption(f"Hyperparameter search: {len(trials)} trial(s) finished, none complete yet.")
