"""Pickers: workspace records by name, models by kind, and the selectors to compare or route with."""

from __future__ import annotations

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.kept_choices import kept_selection
from app_pages.widgets.llm_prices import batch_choice
from app_pages.widgets.llm_settings import llm_settings
from ragtune_core.routing import SelectorSpec, availability, untuned_llm_spec
from ragtune_core.store import DEFAULT_BASE_MODEL

# The workspace's trained models that can select: (model kind, selector kind, how the picker names it).
_TRAINED = (
    ("embedding", "embedding", "embedding"),
    ("cross_encoder", "cross_encoder", "cross-encoder"),
    ("llm", "finetuned_llm", "fine-tuned LLM"),
)


def pick(label: str, records: list, key: str, help: str | None = None):
    """A selectbox over workspace records, shown by name; None when there are none."""
    if not records:
        return None
    by_id = {r.id: r for r in records}
    chosen = st.selectbox(label, list(by_id), format_func=lambda i: by_id[i].name, key=key, help=help)
    return by_id.get(chosen)


def models_by_name(kind: str) -> dict[str, str | None]:
    """Workspace models of a kind by name; embedding models start with the bundled base (path None)."""
    base = {DEFAULT_BASE_MODEL: None} if kind == "embedding" else {}
    return base | {m.name: m.path for m in workspace().list_models(kind)}


def selector_picker(key: str, batch: bool = False):
    """Selectors to run: embedding models, cross-encoders and, when configured, an LLM (`batch`: with a
    Batch API toggle, for routing a whole dataset).

    Also offers the untuned local LLM, the baseline of its fine-tunes. The choice is kept across pages.

    Returns (chosen SelectorSpecs, the API key's env for a worker or None, the LLMConfig or None).
    """
    specs = [
        SelectorSpec(f"{shown} · {name}", selector_kind, path)
        for model_kind, selector_kind, shown in _TRAINED
        for name, path in models_by_name(model_kind).items()
    ]
    defaults = [spec.label for spec in specs][:4]
    specs.append(untuned_llm_spec())  # the baseline a local LLM fine-tune is measured against: on request
    labels = {spec.label: spec for spec in specs}
    selected = st.multiselect(
        "Selectors",
        list(labels),
        key=kept_selection(f"{key}-selectors", labels, defaults),
        help="A cross-encoder trained on the Fine-tune page blends its score with its embedder's and with word "
        "match (BM25) at the shares its training picked: where validation gave its own score no share, it "
        "routes as its embedder does.",
    )
    chosen = [labels[label] for label in selected]
    config = None
    if st.toggle("Add an LLM selector (OpenAI-compatible)", key=f"{key}-use-llm"):
        config = llm_settings(f"{key}-llm")
        if config is not None and batch:
            config = batch_choice(config, f"{key}-llm")
        if config is not None:
            spec = SelectorSpec(f"LLM · {config.model}", "llm", llm=config.to_public_dict(), api_key=config.api_key)
            ready, reason = availability(spec)
            if ready:
                chosen.append(spec)
            else:
                st.warning(f"LLM selector unavailable: {literal(reason)}")
                config = None
    return chosen, config.secret_env() if config else None, config
