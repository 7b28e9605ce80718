"""Every chart a page shows goes through `chart`, which escapes the text of its labels, legends, titles
and hover boxes: Plotly renders tags in them (`<a href>` makes a link)."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import streamlit as st

from ragtune_core.reporting.chart_text import escape_chart_text
from ragtune_core.runs import EventKind


def chart(figure, key: str | None = None) -> None:
    """Show a Plotly figure, every page's only way to: its text is escaped first (`escape_chart_text`).
    `key` tells apart two charts of the same figure on one page."""
    st.plotly_chart(escape_chart_text(figure), width="stretch", key=key)


def line_chart(events: list[dict], event: str, fields: list[str], title: str, x: str = "step") -> None:
    rows = [{x: e[x], **{f: e.get(f) for f in fields}} for e in events if e.get("event") == event]
    if not rows:
        return
    frame = pd.DataFrame(rows).melt(id_vars=x, var_name="series", value_name="value").dropna()
    # a dash and a marker of its own per series: two series of equal values stay both in sight
    figure = px.line(
        frame, x=x, y="value", color="series", line_dash="series", symbol="series", title=title, markers=len(rows) < 30
    )
    figure.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10))
    chart(figure)


def llm_curves(events: list[dict]) -> None:
    """An LLM fine-tuning's loss and token accuracy, training and validation, as its run's events give them."""
    line_chart(events, EventKind.METRICS, ["train_loss", "valid_loss"], "Loss")
    line_chart(events, EventKind.METRICS, ["train_mean_token_accuracy", "valid_mean_token_accuracy"], "Token accuracy")
