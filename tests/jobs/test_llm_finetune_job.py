"""Fine-tuning an LLM as a job: hosted jobs through the worker against the fake server (states,
events, cancel, failure), the local provider's registration, and the refusals before a job starts."""

import time
from pathlib import Path

import pytest

from ragtune_core import jobs
from ragtune_core.jobs.llm_finetune import start_llm_finetune_job
from ragtune_core.jobs.runner import JobKind
from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.routing.llm_selector import HOSTED, LOCAL, FinetunedLLM
from ragtune_core.training.config import TrainingError
from ragtune_core.training.llm import local
from ragtune_core.training.llm.data import build_chat_data, save_chat_data
from ragtune_core.training.llm.finetune import LLMFinetuneRequest, fine_tune_llm
from tests.fake_openai import FakeOpenAIServer
from tests.training.llm.helpers import router_dataset
from tests.training.llm.test_providers import fake_train_lora


@pytest.fixture
def chat_data(workspace) -> str:
    dataset = router_dataset()
    dataset_id = save_dataset(workspace, "tools", dataset, None, {}).id
    save_chat_data(workspace, "tools-chat", build_chat_data(dataset, dataset_id=dataset_id))
    return "tools-chat"


@pytest.fixture
def server():
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as fake:
        yield fake


def hosted_request(server, name: str = "router-ft", **options) -> LLMFinetuneRequest:
    return LLMFinetuneRequest(
        "tools-chat",
        name,
        "openai",
        "fake-base",
        llm={"base_url": server.base_url, "model": "fake-base", "max_retries": 0},
        poll_seconds=0.05,
        **options,
    )


def test_hosted_job_registers_the_model_with_its_tools(workspace, chat_data, server):
    status = start_llm_finetune_job(workspace, hosted_request(server, epochs=2))
    done = jobs.wait(workspace, status.run_id, timeout=60)
    assert done.state == "succeeded", done.error
    [model] = workspace.list_models("llm")
    assert model.name == "router-ft" and model.base_model == "fake-base" and model.run_id == status.run_id
    described = FinetunedLLM.load(model.path)
    job_id = done.result["provider_job"]
    assert described.where == HOSTED and described.model_id == f"ft:fake-base:fake::{job_id}"
    assert described.base_url == server.base_url and described.tools_hash == model.metrics["tools_hash"]
    assert model.metrics["train_loss"] == pytest.approx(0.5) and model.metrics["trained_tokens"] == 4000
    events = jobs.read_events(workspace, status.run_id)
    assert [e["train_loss"] for e in events if e["event"] == "metrics"] == [2.0, 1.0, pytest.approx(0.6667), 0.5]
    assert any(e["event"] == "provider_job" and e["job_id"] == job_id for e in events)
    assert any(e["event"] == "provider_event" and "Files validated" in e["message"] for e in events)
    assert done.done == done.total == 4


def test_cancel_cancels_the_hosted_job_and_frees_the_name(workspace, chat_data, server):
    server.ft.steps = 100_000
    status = start_llm_finetune_job(workspace, hosted_request(server))
    deadline = time.monotonic() + 30
    while not any(job["status"] == "running" for job in server.ft.jobs.values()):
        assert time.monotonic() < deadline, "the hosted job never ran"
        time.sleep(0.05)
    assert jobs.cancel_job(workspace, status.run_id).state == "cancelled"
    [job] = server.ft.jobs.values()
    assert job["status"] == "cancelled"
    assert workspace.list_models("llm") == [] and workspace.model_name_conflict("router-ft") is None


def test_a_failed_hosted_job_fails_the_run(workspace, chat_data, server):
    server.ft.fail_at_step = 2
    status = start_llm_finetune_job(workspace, hosted_request(server))
    done = jobs.wait(workspace, status.run_id, timeout=60)
    assert done.state == "failed" and "internal error" in done.error and "failed" in done.error
    assert workspace.model_name_conflict("router-ft") is None


def test_refusals_before_a_job_starts(workspace, chat_data, server):
    with pytest.raises(ValueError, match="no chat data named 'other'"):
        start_llm_finetune_job(workspace, LLMFinetuneRequest("other", "m"))
    with FakeOpenAIServer(models=("fake-base",)) as plain:
        with pytest.raises(TrainingError, match="no fine-tuning API"):
            start_llm_finetune_job(workspace, hosted_request(plain))
    small = build_chat_data(router_dataset())
    small.train = small.train[:5]
    save_chat_data(workspace, "small", small)
    with pytest.raises(TrainingError, match="at least 10 are needed"):
        start_llm_finetune_job(
            workspace,
            LLMFinetuneRequest("small", "m2", "openai", "fake-base", llm={"base_url": server.base_url, "model": "x"}),
        )
    with pytest.raises(TrainingError, match="base model"):
        LLMFinetuneRequest("tools-chat", "m", "openai", llm={"base_url": server.base_url, "model": "x"})
    assert workspace.list_runs(JobKind.TRAIN_LLM) == []


def test_request_round_trips_through_job_parameters(server):
    request = hosted_request(server, epochs=3)
    request.api_key = "sk-secret"
    params = request.to_params()
    assert "sk-secret" not in str(params) and params["model_name"] == "router-ft"
    assert LLMFinetuneRequest.from_params(params) == request
    with pytest.raises(TrainingError, match="unknown field"):
        LLMFinetuneRequest.from_params({"config": {**params["config"], "bogus": 1}})


def test_local_fine_tune_registers_the_trained_folder(workspace, chat_data, monkeypatch):
    monkeypatch.setattr(local, "train_lora", fake_train_lora())
    events = []
    result = fine_tune_llm(
        workspace,
        LLMFinetuneRequest("tools-chat", "router-local", poll_seconds=0.01),
        on_event=lambda event, data: events.append((event, data)),
    )
    [model] = workspace.list_models("llm")
    assert Path(model.path) == Path(result.model_path) == workspace.model_dir("router-local")
    described = FinetunedLLM.load(model.path)
    assert described.where == LOCAL and described.model_id is None and described.metrics["eval_token_accuracy"] == 0.9
    assert [d["train_loss"] for e, d in events if e == "metrics"][0] == 1.0
    with pytest.raises(TrainingError, match="already"):
        fine_tune_llm(workspace, LLMFinetuneRequest("tools-chat", "router-local", poll_seconds=0.01))


def test_a_failed_local_training_leaves_no_model(workspace, chat_data, monkeypatch):
    monkeypatch.setattr(local, "train_lora", fake_train_lora(fail=True))
    with pytest.raises(TrainingError, match="out of memory"):
        fine_tune_llm(workspace, LLMFinetuneRequest("tools-chat", "router-local", poll_seconds=0.01))
    assert workspace.list_models("llm") == [] and not workspace.model_dir("router-local").exists()
