import datetime
import importlib.util
import threading

import pytest

from ragtune_core.llm import LLMConfig
from ragtune_core.training.llm import local
from ragtune_core.training.llm.data import build_chat_data, to_jsonl
from ragtune_core.training.llm.local_provider import LocalProvider
from ragtune_core.training.llm.openai_shaped import OPENAI_NOTICE, OpenAIShapedProvider
from ragtune_core.training.llm.providers import CANCELLED, FAILED, SUCCEEDED, ProviderError
from tests.fake_openai import FakeOpenAIServer
from tests.training.llm.helpers import router_dataset


@pytest.fixture
def chat_files(tmp_path):
    data = build_chat_data(router_dataset())
    train, val = tmp_path / "train.jsonl", tmp_path / "val.jsonl"
    train.write_text(to_jsonl(data.train))
    val.write_text(to_jsonl(data.val))
    return train, val


@pytest.fixture
def server():
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base", "fake-model")) as fake:
        yield fake


def provider(server) -> OpenAIShapedProvider:
    return OpenAIShapedProvider(LLMConfig(base_url=server.base_url, model="fake-base", max_retries=0))


def run_to_the_end(provider, job_id: str, polls: int = 20):
    for _ in range(polls):
        job = provider.status(job_id)
        if job.state in (SUCCEEDED, FAILED, CANCELLED):
            return job
    raise AssertionError(f"job {job_id} did not finish")


def test_hosted_job_runs_through_its_states_with_events_and_checkpoints(server, chat_files):
    hosted = provider(server)
    train_id, val_id = hosted.upload(chat_files[0]), hosted.upload(chat_files[1])
    assert server.ft.files[train_id]["purpose"] == "fine-tune"
    assert server.ft.files[train_id]["content"] == chat_files[0].read_bytes()
    job = hosted.create("fake-base", train_id, val_id, epochs=2, suffix="router")
    assert job.state == "validating_files" and job.base_model == "fake-base"
    assert server.ft.jobs[job.id]["method"] == {
        "type": "supervised",
        "supervised": {"hyperparameters": {"n_epochs": 2}},
    }
    assert server.ft.jobs[job.id]["validation_file"] == val_id and server.ft.jobs[job.id]["suffix"] == "router"
    done = run_to_the_end(hosted, job.id)
    assert done.state == SUCCEEDED and done.fine_tuned_model == f"ft:fake-base:fake::{job.id}"
    events = hosted.events(job.id)
    assert events[0].message.startswith("Created") and events[-1].message.endswith("completed")
    losses = [e.data["train_loss"] for e in events if e.kind == "metrics"]
    assert len(losses) == server.ft.steps and losses == sorted(losses, reverse=True)
    assert [c.step for c in hosted.checkpoints(job.id)] == [2, 4]
    assert hosted.checkpoints(job.id)[0].metrics["train_loss"] == losses[1]
    assert [j.id for j in hosted.list()] == [job.id]


def test_hosted_failure_and_cancel(server, chat_files):
    hosted = provider(server)
    train_id = hosted.upload(chat_files[0])
    server.ft.fail_at_step = 2
    failed = run_to_the_end(hosted, hosted.create("fake-base", train_id).id)
    assert failed.state == FAILED and "internal error" in failed.error
    server.ft.fail_at_step = None
    job = hosted.create("fake-base", train_id)
    hosted.status(job.id)
    assert hosted.cancel(job.id).state == CANCELLED
    assert hosted.status(job.id).state == CANCELLED


def test_hosted_refusals_are_named(server, tmp_path):
    hosted = provider(server)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"prompt": "old format"}\n')
    job = run_to_the_end(hosted, hosted.create("fake-base", hosted.upload(broken)).id)
    assert job.state == FAILED and "Line 1" in job.error
    with pytest.raises(ProviderError, match="not available for fine-tuning"):
        hosted.create("fake-model", hosted.upload(broken))
    with pytest.raises(ProviderError, match="No fine-tuning job"):
        hosted.status("ftjob-404")


def test_availability_of_a_server_that_cannot_fine_tune():
    with FakeOpenAIServer(models=("fake-base",)) as plain:
        found = provider(plain).availability("fake-base")
    assert not found.usable and "no fine-tuning API" in found.reason and "404" in found.reason


def test_availability_checks_the_model_is_served(server):
    assert provider(server).availability("fake-base").usable
    missing = provider(server).availability("other-model")
    assert not missing.usable and "'other-model' is not among the models" in missing.reason


@pytest.mark.parametrize(
    "today, model, why",
    [
        (datetime.date(2026, 11, 30), "gpt-3.5-turbo", "cannot be fine-tuned on OpenAI"),
        (datetime.date(2027, 1, 7), "gpt-4o-mini-2024-07-18", "no new fine-tuning jobs since 6 January 2027"),
        (datetime.date(2027, 1, 15), "gpt-4o-mini-2024-07-18", "shut its fine-tunable models down on 14 January 2027"),
    ],
)
def test_openai_dates_and_models(today, model, why):
    openai_provider = OpenAIShapedProvider(LLMConfig(base_url=None, model=model, api_key="sk-test"), today=today)
    found = openai_provider.availability(model)
    assert not found.usable and why in found.reason and found.notice == OPENAI_NOTICE
    assert "6 January 2027" in OPENAI_NOTICE and "14 January 2027" in OPENAI_NOTICE


# --- local: the provider around the trainer (a stand-in trainer keeps these tests to milliseconds) ----
def fake_train_lora(steps: int = 3, fail: bool = False, gate: threading.Event | None = None):
    def train(train_path, val_path, output_dir, settings, on_event, should_stop):
        assert isinstance(settings, local.LocalLLMSettings) and train_path.exists()
        on_event({"type": "state", "state": "preparing"})
        for step in range(1, steps + 1):
            if gate is not None:
                gate.wait(5)
            if should_stop():
                raise local.TrainingCancelled(f"cancelled at step {step}")
            on_event(
                {
                    "type": "metrics",
                    "step": step,
                    "max_steps": steps,
                    "epoch": step / steps,
                    "loss": 1.0 / step,
                    "token_accuracy": 0.5 + step / 10,
                    "eval_loss": None,
                    "eval_token_accuracy": None,
                }
            )
        if fail:
            raise RuntimeError("out of memory")
        output_dir.mkdir(parents=True)
        return {
            "model_path": str(output_dir),
            "base_model": settings.base_model or "default",
            "metrics": {"tokens": 1234, "eval_token_accuracy": 0.9},
        }

    return train


def test_local_job_reports_states_metrics_and_the_model(monkeypatch, tmp_path, chat_files):
    monkeypatch.setattr(local, "train_lora", fake_train_lora())
    provider = LocalProvider(tmp_path / "out", {"batch_size": 4})
    assert provider.upload(chat_files[0]) == str(chat_files[0])
    job = provider.create("tiny-llama", str(chat_files[0]), str(chat_files[1]), epochs=2)
    done = provider.wait(job.id, timeout=10)
    assert done.state == SUCCEEDED and done.fine_tuned_model == str(tmp_path / "out" / job.id)
    assert (
        done.base_model == "tiny-llama" and done.trained_tokens == 1234 and done.metrics["eval_token_accuracy"] == 0.9
    )
    metrics = [e.data for e in provider.events(job.id) if e.kind == "metrics"]
    assert [m["train_loss"] for m in metrics] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert metrics[0]["total_steps"] == 3 and "valid_loss" not in metrics[0]
    assert [j.id for j in provider.list()] == [job.id]


def test_local_cancel_and_failure(monkeypatch, tmp_path, chat_files):
    gate = threading.Event()
    monkeypatch.setattr(local, "train_lora", fake_train_lora(steps=50, gate=gate))
    provider = LocalProvider(tmp_path / "out")
    job = provider.create("", str(chat_files[0]))
    provider.cancel(job.id)
    gate.set()
    assert provider.wait(job.id, timeout=10).state == CANCELLED
    monkeypatch.setattr(local, "train_lora", fake_train_lora(fail=True))
    failed = provider.wait(provider.create("", str(chat_files[0])).id, timeout=10)
    assert failed.state == FAILED and failed.error == "RuntimeError: out of memory"
    with pytest.raises(ProviderError, match="no training file"):
        provider.upload(tmp_path / "missing.jsonl")


def test_local_settings_are_checked_before_the_thread_starts(tmp_path, chat_files):
    with pytest.raises(ValueError, match="unknown field"):
        LocalProvider(tmp_path / "out", {"bogus": 1}).create("", str(chat_files[0]))


def test_local_availability_names_what_is_missing(monkeypatch, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "peft" else real(name, *a))
    found = LocalProvider(tmp_path).availability("x")
    assert not found.usable and "pip install peft" in found.reason
