"""Compare page: an LLM selector can route the dataset through the Batch API where the endpoint has one."""

import pytest

from ragtune_core import jobs
from ragtune_core.llm import config as llm_config
from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.store.workspace import Workspace
from tests.fake_openai import FakeOpenAIServer
from tests.page_helpers import open_page, widget
from tests.routing.test_compare import router_dataset, router_llm


@pytest.fixture
def ws(tmp_path, monkeypatch):
    for name in ("OPENAI_API_KEY", "RAGTUNE_LLM_API_KEY", "OPENAI_BASE_URL", "RAGTUNE_LLM_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(llm_config, "_job_key", None)
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    save_dataset(ws, "tools", router_dataset(), None, {})
    return ws


def _llm_selector(at, base_url: str):
    widget(at, "multiselect", "Selectors").set_value([]).run()  # the LLM alone: no model to load
    widget(at, "toggle", "Add an LLM selector (OpenAI-compatible)").set_value(True).run()
    widget(at, "text_input", "Base URL").input(base_url).run()
    widget(at, "text_input", "Model").input("fake-model").run()
    return widget(at, "toggle", "Batch API")


def test_an_llm_selector_routes_the_dataset_through_the_batch_api(ws):
    with FakeOpenAIServer(responder=router_llm, batches=True) as server:
        at = open_page("compare")
        _llm_selector(at, server.base_url).set_value(True).run()
        [estimate] = [c.value for c in at.caption if c.value.startswith("LLM · fake")]
        assert "prompt" in estimate and "unknown batch price for fake" in estimate.replace("\\", "")
        widget(at, "button", "Compare selectors").click().run()
        assert not at.exception
        run_id = at.session_state["selector_run"]
        status = jobs.wait(ws, run_id, timeout=90)
        chat_requests, created = server.chat_requests, server.batches.created
    assert status.state == "succeeded", status.error
    [spec] = ws.get_run(run_id).params["selectors"]
    assert spec["kind"] == "llm" and spec["llm"]["batch"] is True
    assert chat_requests == 0 and created == 1


def test_the_batch_api_is_off_with_the_reason_where_the_endpoint_has_none(ws):
    with FakeOpenAIServer(responder=router_llm) as server:
        at = open_page("compare")
        toggle = _llm_selector(at, server.base_url)
    assert toggle.disabled and "has no Batch API" in toggle.help
