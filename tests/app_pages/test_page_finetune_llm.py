"""The LLM fine-tune page: providers with their availability, OpenAI's dates and the deploy steps of
Together and Fireworks, chat data built from a router dataset, its pre-flight check and preview, and a
refused start."""

import pytest

from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.store.workspace import Workspace
from ragtune_core.training.llm.data import list_chat_data
from tests.page_helpers import open_page, shown, texts, widget
from tests.training.llm.helpers import router_dataset


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    save_dataset(ws, "tools", router_dataset(), None, {})
    return ws


def test_build_check_and_preview(ws):
    at = open_page("finetune_llm")
    assert not at.exception
    assert "Ready: TRL + LoRA on this machine's CPU." in shown(at.caption) and not at.success, "said once, quietly"
    widget(at, "button", "Build").click().run()
    assert list_chat_data(ws) == ["tools-chat"]
    assert "training and" in texts(at.success)
    # 14 training lines: enough to start, few enough to be warned about; the preview shows the tool call
    assert "only 14 training lines" in texts(at.warning)
    trained = texts(at.success).replace("\\", "")
    assert "<tool_call>" in trained and ("vector_tool" in trained or "summary_tool" in trained)
    assert [m.label for m in at.metric][:2] == ["Training lines", "Epochs"] and at.metric[0].value == "14"
    assert "<|im_start|>user" in at.code[0].value


def test_openai_shows_its_dates_and_a_bad_start_is_named(ws):
    at = open_page("finetune_llm")
    widget(at, "button", "Build").click().run()
    widget(at, "radio", "Provider").set_value("openai").run()
    assert "6 January 2027" in texts(at.warning) and "14 January 2027" in texts(at.warning)
    widget(at, "radio", "Provider").set_value("local").run()
    widget(at, "text_input", "Model name").set_value("").run()
    widget(at, "button", "Start fine-tuning").click().run()
    assert "name" in texts(at.error) and ws.list_runs() == []


def test_together_says_its_deploy_step_and_checks_its_fine_tuning_api(ws):
    from tests.fake_openai import FakeOpenAIServer

    at = open_page("finetune_llm")
    widget(at, "radio", "Provider").set_value("together").run()
    assert "dedicated endpoint" in texts(at.info) and "January 2027" not in texts(at.warning)
    assert widget(at, "text_input", "Base URL").value == "https://api.together.xyz/v1"
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as server:
        widget(at, "text_input", "Base URL").set_value(server.base_url).run()
        widget(at, "text_input", "Model").set_value("fake-base").run()
        widget(at, "button", "Check availability").click().run()
    assert "fine-tune fake-base (LoRA) at Together" in texts(at.success).replace("\\", "")
    assert "/v1/fine-tunes" in {r.path for r in server.requests}


def test_fireworks_says_its_deploy_step_names_the_account_and_checks_its_fine_tuning_api(ws, monkeypatch):
    from tests.fake_openai import FakeOpenAIServer

    monkeypatch.setenv("FIREWORKS_ACCOUNT_ID", "acme")
    at = open_page("finetune_llm")
    widget(at, "radio", "Provider").set_value("fireworks").run()
    assert "serverless LoRA" in texts(at.info) and "https://api.fireworks.ai/inference/v1" in texts(at.info)
    assert widget(at, "text_input", "Base URL").value == "https://api.fireworks.ai/v1/accounts/acme"
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as server:
        widget(at, "text_input", "Base URL").set_value(server.base_url).run()
        widget(at, "text_input", "Model").set_value("fake-base").run()
        widget(at, "button", "Check availability").click().run()
        assert "names no Fireworks account" in texts(at.error) and not server.requests
        widget(at, "text_input", "Base URL").set_value(f"{server.base_url}/accounts/acme").run()
        widget(at, "button", "Check availability").click().run()
    assert "fine-tune fake-base (LoRA) at Fireworks" in texts(at.success).replace("\\", "")
    assert "/v1/accounts/acme/supervisedFineTuningJobs" in {r.path for r in server.requests}


def test_an_interrupted_hosted_run_is_offered_to_be_followed_again(ws):
    from ragtune_core import jobs
    from ragtune_core.training.llm.data import build_chat_data, save_chat_data
    from tests.fake_openai import FakeOpenAIServer
    from tests.training.llm.helpers import interrupted_hosted_run

    save_chat_data(ws, "chat", build_chat_data(router_dataset()))
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as server:
        interrupted_hosted_run(ws, server)
        at = open_page("finetune_llm")
        assert "job ftjob-1 went on" in texts(at.warning).replace("\\", "")  # shown as literal text
        widget(at, "button", "Follow job ftjob\\-1 again").click().run()
        assert not at.exception
        following = at.session_state["llm_training_run"]
        assert jobs.wait(ws, following, timeout=60).state == "succeeded"
        at.run()
    assert not [b.label for b in at.button if b.label.startswith("Follow job")]
    assert [m.name for m in ws.list_models("llm")] == ["ft"]


def test_a_damaged_price_file_is_named_not_a_crash(ws):
    (ws.root / "llm_prices.json").write_text('{"gpt-4o-mini": "cheap"}')
    at = open_page("finetune_llm")
    widget(at, "button", "Build").click().run()
    assert not at.exception
    assert "llm_prices.json" in texts(at.error).replace("\\", "")
