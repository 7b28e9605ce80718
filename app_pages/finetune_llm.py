"""LLM fine-tune: distil tool calling into a smaller LLM, locally (TRL + LoRA), at an OpenAI-shaped
endpoint, at Together or at Fireworks. Where to train comes first (what is available, and OpenAI's end
dates), then the chat data, its pre-flight check, and the job."""

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.finetune_llm_data import chat_data_builder, show_preflight
from app_pages.finetune_llm_provider import training_place
from app_pages.widgets.charts import llm_curves
from app_pages.widgets.errors import errors_shown
from app_pages.widgets.job_panel import run_panel
from app_pages.widgets.waits import waited
from ragtune_core import jobs
from ragtune_core.errors import RagtuneError
from ragtune_core.llm.pricing import price_table
from ragtune_core.store import limits_of
from ragtune_core.training.llm import (
    LLMFinetuneRequest,
    list_chat_data,
    load_chat_data,
    local_token_counter,
    run_preflight,
    to_jsonl,
)

RUN_KEY = "llm_training_run"  # the run this session started
ws = workspace()
st.title("Fine-tune an LLM")
st.caption(
    "Teach a small LLM to call the right tool for a query, from a router dataset's labels or a "
    "teacher LLM's tool calls; then compare it as a selector."
)

st.subheader("1 · Where to train")
provider, endpoint, base_model = training_place()


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
        st.warning(
            f"The fine-tuning of {literal(model)} stopped here (its worker ended) while the endpoint's job "
            f"{literal(job_id)} went on: it may finish, and be billed, without RAGTune registering the model.",
            icon=":material/link_off:",
        )
        if st.button(f"Follow job {literal(job_id)} again", key=f"follow-{run_id}", icon=":material/sync:"):
            with errors_shown(stop=False):
                st.session_state[RUN_KEY] = jobs.follow_again(ws, run_id, endpoint.api_key if endpoint else None).run_id
                st.rerun()


interrupted_hosted_runs()

st.subheader("2 · Chat data")
chat_data_builder(ws)

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
epoch_limits = limits_of(LLMFinetuneRequest, "epochs")
epochs = st.number_input("Epochs (0: auto)", 0, epoch_limits.high, 0, help=epoch_limits.help)
with errors_shown():  # a damaged llm_prices.json is named; nothing is priced from a guess
    prices = price_table(ws)
counter = local_tokens(base_model) if provider == "local" else None
report = waited(
    "Counting the chat data's tokens…",
    lambda: run_preflight(data.train, data.val, base_model, epochs or None, prices=prices, count_tokens=counter),
)
show_preflight(report, data.train)

st.subheader("4 · Fine-tune")
model_name = st.text_input("Model name", f"{chosen}-{provider}")
if st.button(
    "Start fine-tuning",
    type="primary",
    icon=":material/play_arrow:",
    disabled=not report.ok or (provider != "local" and endpoint is None),
):
    try:
        request = LLMFinetuneRequest(
            chosen,
            model_name,
            provider,
            base_model,
            epochs or None,
            llm=endpoint.to_public_dict() if endpoint else None,
            api_key=endpoint.api_key if endpoint else None,
        )
        st.session_state[RUN_KEY] = jobs.start_llm_finetune_job(ws, request).run_id
    except RagtuneError as exc:
        st.error(literal(exc))


run_panel([jobs.JobKind.TRAIN_LLM], RUN_KEY, chart=llm_curves)
