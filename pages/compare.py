"""Compare: base vs fine-tuned retrievers on a dataset's validation split, with confidence intervals."""

import plotly.express as px
import streamlit as st

from pages.common import job_panel, pick, workspace
from ragtune_core import jobs
from ragtune_core.evaluation import CHART_METRICS, comparison_table, latest_reports, per_query_comparison
from ragtune_core.models import DEFAULT_BASE_MODEL

ws = workspace()
st.title("Compare")
st.caption("How well each model retrieves the passage a question was written from. Bars show bootstrap 95% intervals.")

datasets = ws.list_datasets("qa")
if not datasets:
    st.info("Create a dataset on the Questions page first.")
    st.stop()

record = pick("Dataset", datasets, key="dataset_id")
has_split = bool(ws.load_dataset(record.id).split)
part = st.radio("Queries", ["val", "train", "all"] if has_split else ["all"], horizontal=True,
                format_func={"val": "validation split", "train": "training split", "all": "all"}.get)
candidates = {DEFAULT_BASE_MODEL: None} | {m.name: m.path for m in ws.list_models("embedding")}
chosen = st.multiselect("Models", list(candidates), default=list(candidates)[:4])
if st.button("Evaluate", type="primary", disabled=not chosen, icon=":material/play_arrow:"):
    status = jobs.start_job(ws, "evaluate", {"dataset_id": record.id, "part": part,
                                             "models": [{"label": c, "path": candidates[c]} for c in chosen]},
                            name=f"evaluate · {record.name}", dataset_id=record.id)
    st.session_state["evaluation_run"] = status.run_id

active = [r for r in ws.list_runs("evaluate") if r.state in jobs.ACTIVE_STATES]
watched = st.session_state.get("evaluation_run") or (active[0].id if active else None)
if watched:
    job_panel(watched)

reports = latest_reports(ws, record.id, part)
if not reports:
    st.info("No evaluation of this dataset yet: pick models and press Evaluate.")
    st.stop()

table = comparison_table(reports)
shown = table[table["metric"].isin(CHART_METRICS)]
figure = px.bar(shown, x="metric", y="value", color="model", barmode="group", text_auto=".3f",
                error_y=shown["ci_high"] - shown["value"], error_y_minus=shown["value"] - shown["ci_low"],
                category_orders={"metric": list(CHART_METRICS)})
figure.update_layout(yaxis_range=[0, 1], height=420, legend_title_text="", margin=dict(t=20))
st.plotly_chart(figure, width="stretch")
with st.expander("All metrics"):
    st.dataframe(table.pivot_table(index="metric", columns="model", values="value"), width="stretch")

st.subheader("Per query")
st.caption("Rank of the expected passage per model (empty: not in the top 100). Sort a column to find where fine-tuning helped or hurt.")
st.dataframe(per_query_comparison(reports), hide_index=True, width="stretch")
