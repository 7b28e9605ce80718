"""Questions page, question → passage datasets: N questions per chunk, offline or by an LLM."""

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.widgets.llm_prices import batch_choice
from app_pages.widgets.question_generator import generate_button, generator_settings
from app_pages.widgets.waits import waited
from ragtune_core.corpus import load_chunks
from ragtune_core.jobs import JobKind
from ragtune_core.llm import LLMConfig, describe_cost
from ragtune_core.questions import (
    DEFAULT_QA_PROMPT,
    DEFAULT_QUESTIONS_PER_CHUNK,
    MAX_QUESTIONS_PER_CHUNK,
    GenerationError,
    GenerationRequest,
    estimate_llm_run,
    select_chunks,
)


def qa_form(corpus) -> None:
    left, right = st.columns(2)
    # The default asks one question in each style people search in (questions.offline_styles).
    n_per_chunk = left.number_input("Questions per chunk", 1, MAX_QUESTIONS_PER_CHUNK, DEFAULT_QUESTIONS_PER_CHUNK)
    max_chunks = right.number_input(
        "Chunks to use (0 = all)",
        0,
        corpus.n_chunks,
        0,
        help="Try a few chunks first to check the prompt and the cost.",
    )
    chunks = select_chunks(load_chunks(workspace(), corpus.id), int(max_chunks) or None)
    generator, config = generator_settings(len(chunks), int(n_per_chunk), "qgen")
    params = {
        "corpus_id": corpus.id,
        "n_per_chunk": int(n_per_chunk),
        "generator": generator,
        "max_chunks": int(max_chunks) or None,
    }
    if generator == "llm":
        prompt = st.text_area(
            "Prompt ({context_str} is the chunk, {num_questions_per_chunk} the count)",
            value=DEFAULT_QA_PROMPT,
            height=220,
        )
        if config is None:
            return
        config = batch_choice(config, "qgen")
        params.update(llm=config.to_public_dict(), prompt_template=prompt)
        if not cost_caption(config, params):
            return
    generate_button(JobKind.GENERATE_QUESTIONS, params, f"questions · {corpus.name}", config)


def cost_caption(config: LLMConfig, params: dict) -> bool:
    """What the run will use and cost (chunks already in the cache are free); False if the settings cannot run."""
    try:
        request = GenerationRequest.from_params(params)
        usage, cached = waited("Estimating the tokens and cost…", lambda: estimate_llm_run(workspace(), request))
    except GenerationError as exc:
        st.error(literal(exc))
        return False
    free = f" · {cached} chunks already answered (cache, no cost)" if cached else ""
    st.caption(literal(describe_cost(config, usage.prompt_tokens, usage.completion_tokens).capitalize() + free))
    return True
