"""LLM settings, prices: the model's row of the price table (online, Batch API, fine-tuned, training), editable
and kept in the workspace's llm_prices.json; and whether an endpoint offers the Batch API."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from app_pages.basics import literal, workspace
from ragtune_core.llm import (
    LLMConfig,
    ModelPrice,
    PriceError,
    batch_unavailable_reason,
    price_for,
    price_overrides,
    price_table,
    save_price,
    with_prices,
)
from ragtune_core.store import limits_of

# The inputs of a model's prices (ModelPrice's fields), in two rows: requests, then fine-tuning.
PRICE_INPUTS = (
    ("input", "Input"),
    ("output", "Output"),
    ("batch_input", "Batch input"),
    ("batch_output", "Batch output"),
    ("fine_tuned_input", "Fine-tuned input"),
    ("fine_tuned_output", "Fine-tuned output"),
    ("training_per_1m", "Training per 1M"),
)
_BATCH_PROBES = "llm_batch_probes"  # session cache: endpoint -> why it has no Batch API (None: it has one)


def price_settings(config: LLMConfig, key: str) -> LLMConfig | None:
    """The config priced from the workspace's table, with an expander to set this model's prices; None
    (the settings unusable) while the table is damaged: the CLI refuses to run on it too, and a run
    started unpriced would show no cost."""
    ws = workspace()
    try:
        own = price_overrides(ws).get(config.model)
        price = price_for(config.model, price_table(ws))
    except PriceError as exc:
        st.error(
            f"{literal(exc)}. Nothing that calls an LLM starts until it is fixed (or deleted: the default "
            "prices apply again)."
        )
        return None
    source = "your price" if own else ("default price" if price else "unknown price")
    with st.expander(f"Prices · {source}", icon=":material/payments:"):
        st.caption(
            "USD per 1,000 tokens (training: per 1M). Saved for this model in the workspace (llm_prices.json, "
            "editable by hand); without a price, runs show tokens but no cost."
        )
        values = {}
        for row in (PRICE_INPUTS[:4], PRICE_INPUTS[4:]):
            for col, (name, label) in zip(st.columns(4)[: len(row)], row, strict=True):
                limits = limits_of(ModelPrice, name)
                values[name] = col.number_input(
                    label,
                    limits.low,
                    limits.high,
                    getattr(price, name, None),
                    0.0001,
                    format="%.6f",
                    help=limits.help,
                    key=f"{key}-price-{config.model}-{name}",
                )
        save, reset = st.columns(2)
        if save.button(f"Save prices for {config.model}", key=f"{key}-price-save"):
            if values["input"] is None or values["output"] is None:
                st.error("Set the input and the output price (the batch prices may stay empty: unknown).")
            else:
                save_price(ws, config.model, ModelPrice(**values))
                st.rerun()
        if own and reset.button("Back to the default price", key=f"{key}-price-reset"):
            save_price(ws, config.model, None)
            st.rerun()
    return with_prices(config, ws)


def batch_choice(config: LLMConfig, key: str) -> LLMConfig:
    """A Batch API toggle, disabled with the reason where the endpoint has none (asked once per session)."""
    probes = st.session_state.setdefault(_BATCH_PROBES, {})
    endpoint = config.base_url or "openai"
    if endpoint not in probes:
        probes[endpoint] = batch_unavailable_reason(replace(config, timeout=5.0))
    reason = probes[endpoint]
    batch = st.toggle(
        "Batch API",
        key=f"{key}-batch",
        disabled=reason is not None,
        help=reason
        or "Send every request in one batch: OpenAI charges half, results come within 24 h. "
        "The job waits for it; a stopped job started again resumes the same batch.",
    )
    if reason:
        st.caption(f"Batch API unavailable: {literal(reason)}")
    return replace(config, batch=batch)
