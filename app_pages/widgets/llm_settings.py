"""An OpenAI-compatible endpoint's settings: base URL, model, API key (the server's only for its own
endpoint), timeout, retries and prices."""

from __future__ import annotations

import os

import streamlit as st

from app_pages.basics import literal
from app_pages.widgets.llm_prices import price_settings
from ragtune_core.llm import (
    API_KEY_ENV_VARS,
    BASE_URL_ENV_VARS,
    OPENAI_BASE_URL,
    LLMConfig,
    LLMConfigError,
    same_endpoint,
)
from ragtune_core.store import limits_of


def _secret(names: tuple[str, ...]) -> str | None:
    """The first of `names` set in the environment, else in .streamlit/secrets.toml."""
    for name in names:
        if os.environ.get(name, "").strip():
            return os.environ[name].strip()
    try:
        return next((str(st.secrets[name]).strip() for name in names if name in st.secrets), None)
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):
        return None


def server_llm() -> tuple[str, str | None]:
    """(the endpoint the server is configured for, the server's key or None): the environment's or
    .streamlit/secrets.toml's RAGTUNE_LLM_BASE_URL / OPENAI_BASE_URL (default: OpenAI's API) and
    RAGTUNE_LLM_API_KEY / OPENAI_API_KEY."""
    return _secret(BASE_URL_ENV_VARS) or OPENAI_BASE_URL, _secret(API_KEY_ENV_VARS)


def llm_settings(key: str, base_url: str | None = None, model: str | None = None) -> LLMConfig | None:
    """Base URL, model, API key, timeout, retries and prices of an OpenAI-compatible endpoint, or None if unusable.
    `base_url` and `model` are the fields' first values (default: the server's endpoint, $RAGTUNE_LLM_MODEL).

    The server's key goes only to the endpoint it is configured for: whoever can open the app must
    not collect it by typing a URL of their own. Another URL needs its key typed here; a typed key
    lives only in this browser session and is never written to the workspace or a log.
    """
    server_url, server_key = server_llm()
    base_url = st.text_input(
        "Base URL",
        value=base_url or server_url,
        key=f"{key}-url",
        help="Any OpenAI-compatible API: OpenAI, Azure OpenAI, Ollama, vLLM, LM Studio.",
    )
    model = st.text_input(
        "Model", value=model or os.environ.get("RAGTUNE_LLM_MODEL", "gpt-4o-mini"), key=f"{key}-model"
    )
    own_endpoint = same_endpoint(base_url.strip() or None, server_url)
    usable_key = server_key if own_endpoint else None
    typed = st.text_input(
        "API key",
        type="password",
        key=f"{key}-api-key",
        placeholder="the server's key" if usable_key else "sk-… (none for a local server)",
        help="Kept in this browser session only; never saved.",
    )
    if server_key and not own_endpoint and not typed:
        st.caption(
            "The server's API key is sent only to the endpoint it is configured for: type this "
            "endpoint's key (a local server may need none)."
        )
    defaults = LLMConfig.__dataclass_fields__
    bounds = {
        name: (limits_of(LLMConfig, name).low, limits_of(LLMConfig, name).high)
        for name in ("timeout", "first_answer_timeout", "max_retries")
    }
    with st.expander("Timeout and retries", icon=":material/timer:"):
        left, middle, right = st.columns(3)
        timeout = left.number_input(
            "Timeout per request (s)",
            *bounds["timeout"],
            float(defaults["timeout"].default),
            5.0,
            key=f"{key}-timeout",
            help=f"A request that takes longer is given up and tried {defaults['timeout_retries'].default} more time.",
        )
        first = middle.number_input(
            "First answer within (s)",
            *bounds["first_answer_timeout"],
            float(defaults["first_answer_timeout"].default),
            5.0,
            key=f"{key}-first-timeout",
            help="The timeout while the endpoint has answered nothing yet: a hung server "
            "is given up in about twice this. Raise it for a server slow to start.",
        )
        retries = right.number_input(
            "Retries",
            *bounds["max_retries"],
            int(defaults["max_retries"].default),
            key=f"{key}-retries",
            help="How often a request refused for now (429 rate limit, 5xx, a dropped "
            "connection) is tried again, with growing waits.",
        )
    if not model.strip():
        return None
    try:
        config = LLMConfig(
            base_url=base_url.strip() or None,
            model=model.strip(),
            api_key=typed or usable_key,
            timeout=float(timeout),
            first_answer_timeout=float(first),
            max_retries=int(retries),
        )
    except LLMConfigError as exc:
        st.error(literal(exc))
        return None

    return price_settings(config, key)
