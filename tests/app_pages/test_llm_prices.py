"""LLM settings' prices (default, unknown, the user's own in llm_prices.json) and the Questions page's
Batch API choice and cost estimate."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from ragtune_core import jobs
from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.store.workspace import Workspace
from tests.fake_openai import FakeOpenAIServer
from tests.page_helpers import open_page, shown, widget

SERVER_ENV = (
    "OPENAI_API_KEY",
    "RAGTUNE_LLM_API_KEY",
    "OPENAI_BASE_URL",
    "RAGTUNE_LLM_BASE_URL",
    "RAGTUNE_ALLOWED_HOSTS",
    "RAGTUNE_JOB_LLM_API_KEY",
)


def settings_app():
    import streamlit as st

    from app_pages.widgets.llm_settings import llm_settings

    config = llm_settings("t")
    st.session_state["prices"] = (
        None
        if config is None
        else (config.price_per_1k_input, config.price_per_1k_output, config.price_per_1k_batch_input)
    )


@pytest.fixture
def ws(tmp_path, monkeypatch):
    for name in SERVER_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    return Workspace(tmp_path / "ws")


def _expander_labels(at: AppTest) -> list[str]:
    return [e.label for e in at.expander]


def test_a_known_model_is_priced_by_default_and_an_unknown_one_can_be_priced(ws):
    at = AppTest.from_function(settings_app, default_timeout=60).run()
    assert "Prices · default price" in _expander_labels(at)
    assert at.session_state["prices"] == (0.00015, 0.0006, 0.000075)  # gpt-4o-mini, batch at half price

    widget(at, "text_input", "Base URL").input("http://127.0.0.1:9/v1")
    widget(at, "text_input", "Model").input("llama3").run()
    assert "Prices · unknown price" in _expander_labels(at)
    assert at.session_state["prices"] == (None, None, None)

    widget(at, "number_input", "Input").set_value(0.001)
    widget(at, "number_input", "Output").set_value(0.002)
    widget(at, "button", "Save prices for llama3").click().run()
    saved = json.loads((ws.root / "llm_prices.json").read_text())
    assert saved == {"llama3": {"input": 0.001, "output": 0.002}}
    assert "Prices · your price" in _expander_labels(at)
    assert at.session_state["prices"] == (0.001, 0.002, None)

    widget(at, "button", "Back to the default price").click().run()
    assert json.loads((ws.root / "llm_prices.json").read_text()) == {}
    assert "Prices · unknown price" in _expander_labels(at)


def test_a_damaged_price_file_is_named_not_a_traceback(ws):
    (ws.root / "llm_prices.json").write_text('{"llama3": {"input": -1, "output": 0}}')
    at = AppTest.from_function(settings_app, default_timeout=60).run()
    assert not at.exception
    assert "llm_prices.json: 'llama3': input must be a number from 0 to 10, not -1" in shown(at.error)


def _llm_form(ws, server: FakeOpenAIServer) -> AppTest:
    text = "Riverton built its harbour in 1820. The Northfield ferry has carried people since 1901."
    save_corpus(
        ws,
        "harbour",
        [Document("riverton", "Riverton", "text:riverton", text)],
        [Chunk("riverton#0", "riverton", text)],
        {},
    )
    at = open_page("questions")
    widget(at, "radio", "Generator").set_value("llm").run()
    widget(at, "text_input", "Base URL").input(server.base_url)
    widget(at, "text_input", "Model").input("fake-model").run()
    return at


def test_the_batch_choice_is_disabled_with_the_reason_where_the_endpoint_has_none(ws):
    with FakeOpenAIServer() as server:
        at = _llm_form(ws, server)
    toggle = widget(at, "toggle", "Batch API")
    assert toggle.disabled
    assert f"Batch API unavailable: {server.base_url} has no Batch API" in shown(at.caption)
    assert "About 4" in shown(at.caption) or "unknown price for fake-model" in shown(at.caption)


def test_a_batch_run_from_the_page_is_estimated_then_priced_as_a_batch(ws):
    (ws.root / "llm_prices.json").write_text(
        json.dumps({"fake-model": {"input": 0.01, "output": 0.02, "batch_input": 0.005, "batch_output": 0.01}})
    )
    with FakeOpenAIServer(batches=True) as server:
        at = _llm_form(ws, server)
        widget(at, "toggle", "Batch API").set_value(True).run()
        assert "(fake-model, batch prices)" in shown(at.caption) and "estimated $" in shown(at.caption)
        widget(at, "button", "Generate").click().run()
        run = jobs.wait(ws, at.session_state["generation_run"], timeout=60)
        assert run.state == "succeeded", run.error
        assert server.batches.created == 1 and server.chat_requests == 0
    result = ws.get_run(run.run_id).result
    usage = result["usage"]
    assert result["cost_usd"] == pytest.approx(
        usage["prompt_tokens"] * 0.005 / 1000 + usage["completion_tokens"] * 0.01 / 1000
    )


@pytest.mark.fault(
    "A damaged llm_prices.json (a negative price) when an LLM question generation is started from the Questions page",
    sees="an error naming llm_prices.json, the model and the field; no Generate button, as the CLI refuses too",
    kept="the price file as it is, to fix or delete; no job started",
)
def test_a_damaged_price_table_keeps_the_questions_page_from_starting_a_job(ws):
    (ws.root / "llm_prices.json").write_text('{"fake-model": {"input": -1, "output": 0}}')
    with FakeOpenAIServer() as server:
        at = _llm_form(ws, server)
    assert not at.exception
    assert "llm_prices.json: 'fake-model': input must be a number from 0 to 10, not -1" in shown(at.error)
    assert "Generate" not in [button.label for button in at.button]
    assert ws.list_runs() == []
