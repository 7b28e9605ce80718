"""Playground: a query goes through the router; see each selector's pick, then run the chosen tool.

Works for every router dataset the import accepts: one without stored tools gets a tool per passage
(no kind, no document), and a tool the Playground cannot run is named with the reason."""

import plotly.express as px
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.kept_choices import kept
from app_pages.state import State
from app_pages.widgets.charts import chart
from app_pages.widgets.pickers import pick, selector_picker
from app_pages.widgets.waits import waited
from ragtune_core.corpus import load_chunks, load_documents
from ragtune_core.errors import RagtuneError
from ragtune_core.questions import load_dataset
from ragtune_core.questions.pickers import training_first
from ragtune_core.questions.router import SUMMARY, VECTOR, dataset_tools
from ragtune_core.routing import (
    extractive_summary,
    grounded_answer,
    llm_summary,
    load_router_task,
    make_selector,
    retrieve,
    route_query,
    route_table,
    scores_frame,
)
from ragtune_core.store import load_embedder

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


def remembered(run: tuple, compute):
    """compute()'s output, kept for `run` (what it was computed from): a rerun or a return to the page
    shows it at once rather than waiting for it again."""
    last = st.session_state.get(State.TOOL_OUTPUT)
    if last and last[0] == run:
        return last[1]
    result = compute()
    st.session_state[State.TOOL_OUTPUT] = (run, result)
    return result


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
        "latency_ms": st.column_config.NumberColumn("latency (ms)", format="%.1f"),
    },
)
scores = scores_frame(routes, choices).reset_index().melt(id_vars="tool", var_name="selector", value_name="score")
figure = px.bar(scores, x="tool", y="score", color="selector", barmode="group", title="Score per tool")
figure.update_layout(height=360, margin=dict(t=40), legend_title_text="")
with output:
    chart(figure)

picked = {name: selection.index for name, selection in routes if selection.index is not None}
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
output.markdown(f"**{literal(tool.name)}** · {literal(tool.description)}")
if tool.kind not in (VECTOR, SUMMARY):
    why = (
        "the dataset names no kind for it (imported without RAGTune's tools), so RAGTune cannot tell whether "
        "it retrieves passages or summarises"
        if not tool.kind
        else "it is a user-defined tool"
    )
    output.info(f"{literal(tool.name)} cannot be run here: {why}. The routing above is the result.")
    st.stop()
if record.corpus_id is None or tool.document_id is None:
    output.info("This tool has no document in a workspace corpus, so there is nothing here to run it on.")
    st.stop()
documents = {d.doc_id: d for d in load_documents(ws, record.corpus_id)}
document = documents.get(tool.document_id)
if document is None:
    output.warning("The tool's document is no longer in its corpus.")
    st.stop()
embedder_spec = next((s for s in specs if s.kind == "embedding"), None)
run = (record.id, query, tool.id, embedder_spec, llm_config and llm_config.model)
with output:
    embedder_path = embedder_spec.path if embedder_spec else None
    embedder = waited("Loading the embedding model…", lambda: load_embedder(embedder_path))
    if tool.kind == SUMMARY:
        try:
            summary = waited(
                "Summarising the document…" + (" (an LLM can take a minute)" if llm_config else ""),
                lambda: remembered(
                    run,
                    lambda: llm_summary(llm_config, document) if llm_config else extractive_summary(embedder, document),
                ),
            )
        except RagtuneError as exc:
            st.error(literal(exc))
            st.stop()
        label = (
            "Summary (LLM)"
            if summary.method == "llm"
            else "Extractive summary (no LLM configured: the sentences closest to the document's gist)"
        )
        st.markdown(f"**{label}**")
        st.markdown(literal(summary.text))
    else:
        chunks = [c for c in load_chunks(ws, record.corpus_id) if c.doc_id == document.doc_id]
        sources = retrieve(embedder, chunks, query, top_k=5)
        st.markdown(f"**Top passages of {literal(document.title)}**")
        st.dataframe(
            [
                {"score": round(s.score, 3), "page": s.chunk.page, "section": s.chunk.section, "text": s.chunk.text}
                for s in sources
            ],
            hide_index=True,
            width="stretch",
            column_config={"text": st.column_config.TextColumn(width="large")},
        )
        if llm_config:
            try:
                answer = waited(
                    "Answering…", lambda: remembered(run, lambda: grounded_answer(llm_config, query, sources))
                )
                st.markdown("**Answer**")
                st.markdown(literal(answer))
            except RagtuneError as exc:
                st.error(literal(exc))
        else:
            st.caption("Configure an LLM (the toggle above) for an answer grounded on these passages.")
