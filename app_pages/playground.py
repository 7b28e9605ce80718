"""Playground: a query goes through the router; see each selector's pick, then run the chosen tool.

Works for every router dataset the import accepts: one without stored tools gets a tool per passage
(no kind, no document), and a tool the Playground cannot run is named with the reason."""

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.kept_choices import kept
from app_pages.playground_tool import run_tool
from app_pages.state import State
from app_pages.widgets.charts import chart
from app_pages.widgets.pickers import pick, selector_picker
from ragtune_core.errors import RagtuneError
from ragtune_core.questions import load_dataset
from ragtune_core.questions.pickers import training_first
from ragtune_core.questions.router import dataset_tools
from ragtune_core.reporting.figures import tool_scores_chart
from ragtune_core.routing import load_router_task, make_selector, route_query, route_table, scores_frame

ws = workspace()
st.title("Playground")
st.caption("Type a query: each selector picks a tool. Then run the picked tool on its document.")

datasets = ws.list_datasets("router")
if not datasets:
    st.info("Create a router dataset on the Questions page first (Dataset: Router).")
    st.stop()

record = pick(
    "Router dataset",
    training_first(datasets),
    key=kept("playground_dataset", [d.id for d in datasets]),
    help="Its tools are the choices.",
)
try:
    choices = load_router_task(ws, record.id).choices
    tools = {tool.id: tool for tool in dataset_tools(load_dataset(ws, record.id))}
except RagtuneError as exc:  # a dataset whose queries or tools cannot be routed
    st.error(f"This dataset cannot be routed: {literal(exc)}")
    st.stop()
specs, _, llm_config = selector_picker("playground")

with st.form("route"):
    query = st.text_input("Query", placeholder="What is the population of Toronto?")
    routed = st.form_submit_button("Route", type="primary", icon=":material/alt_route:")
# Where the result goes: drawn anew on every run, so a slow step never shows under the last query's result.
output = st.empty()
if routed:
    if not query.strip() or not specs:
        st.warning("Type a query and pick at least one selector.")
    else:
        with output, st.spinner("Routing…"):
            try:
                routes = route_query(query, choices, [make_selector(s) for s in specs])
            except RagtuneError as exc:  # a fine-tuned LLM that learned other tools, an unusable selector
                st.error(literal(exc))
                st.stop()
            st.session_state[State.ROUTED_QUERY] = (record.id, query, routes)

result = st.session_state.get(State.ROUTED_QUERY)
if not result or result[0] != record.id:
    st.stop()
_, query, routes = result
output = output.container()
output.dataframe(
    route_table(routes, choices),
    hide_index=True,
    width="stretch",
    column_config={
        "score": st.column_config.NumberColumn(format="%.3f"),
        "latency_ms": st.column_config.NumberColumn(
            "latency (ms)",
            format="%.1f",
            help="This query's routing, the tools' descriptions embedded too (a selector's first call): Compare "
            "times selectors whose tools are embedded already.",
        ),
    },
)
output.markdown("**Score per tool**, each selector on its own scale")
with output:
    chart(tool_scores_chart(scores_frame(routes, choices)))

# The models trained here first: the bundled embedding is what they are measured against, not the pick to run.
base = {spec.label for spec in specs if spec.kind == "embedding" and spec.path is None}
picked = {name: pick.index for name, pick in sorted(routes, key=lambda r: r[0] in base) if pick.index is not None}
if not picked:
    output.error("No selector could route this query.")
    st.stop()
output.subheader("Run the tool")
by = output.selectbox(
    "Use the pick of",
    list(picked),
    format_func=lambda n: f"{n} → {choices[picked[n]].name}",
    key=kept("playground_pick", picked),
)
tool = tools.get(choices[picked[by]].id)
if tool is None:
    output.warning(f"{literal(choices[picked[by]].name)} is not among the dataset's tools: nothing to run.")
    st.stop()
run_tool(output, record, tool, query, specs, llm_config)
