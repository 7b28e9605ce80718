"""The question generator's settings and Generate button, shared by both forms of the Questions page."""

from __future__ import annotations

import streamlit as st

from app_pages.basics import workspace
from app_pages.state import State
from app_pages.widgets.llm_settings import llm_settings
from ragtune_core import jobs
from ragtune_core.llm import LLMConfig
from ragtune_core.questions import GENERATORS


def generator_settings(n_items: int, per_item: int, key: str) -> tuple[str, LLMConfig | None]:
    """The offline/LLM question generator choice with the LLM's settings; says what a run will ask for."""
    generator = st.radio(
        "Generator",
        GENERATORS,
        horizontal=True,
        key=f"{key}-generator",
        format_func={"offline": "Offline (no LLM, no key)", "llm": "LLM (OpenAI-compatible)"}.get,
        help="The offline generator phrases questions from each chunk's key terms with templates. "
        "An LLM writes more natural questions.",
    )
    if generator == "offline":
        st.caption(f"Offline generator · about {n_items * per_item} questions.")
        return generator, None
    return generator, llm_settings(key)


def generate_button(kind: str, params: dict, name: str, config: LLMConfig | None) -> None:
    """Starts a question generation job; its panel then follows it (State.GENERATION_RUN)."""
    if st.button("Generate", type="primary", icon=":material/play_arrow:"):
        secret_env = config.secret_env() if config else None
        status = jobs.start_job(workspace(), kind, params, name=name, secret_env=secret_env)
        st.session_state[State.GENERATION_RUN] = status.run_id
