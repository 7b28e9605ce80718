"""Together AI's fine-tuning API through TogetherProvider, against the loopback fake (tests/fake_together.py)."""

import json

import pytest

from ragtune_core.llm import LLMConfig
from ragtune_core.training.llm.providers import CANCELLED, FAILED, QUEUED, SUCCEEDED, ProviderError
from ragtune_core.training.llm.together import TOGETHER_NOTICE, TogetherProvider
from tests.fake_openai import FakeOpenAIServer
from tests.training.llm.helpers import hosted_flags
from tests.training.llm.test_providers import chat_files, run_to_the_end  # noqa: F401 (a fixture)


@pytest.fixture
def server():
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as fake:
        yield fake


def together(server) -> TogetherProvider:
    return TogetherProvider(LLMConfig(base_url=server.base_url, model="fake-base", max_retries=0))


def test_a_together_job_runs_through_its_states_to_the_deployable_model(server, chat_files):
    provider = together(server)
    train_id, val_id = provider.upload(chat_files[0]), provider.upload(chat_files[1])
    assert server.ft.files[train_id]["content"] == chat_files[0].read_bytes()
    assert server.ft.files[train_id]["filename"] == chat_files[0].name
    job = provider.create("fake-base", train_id, val_id, epochs=2, suffix="router")
    assert (job.state, job.base_model) == (QUEUED, "fake-base") and job.created > 0
    assert server.ft.jobs[job.id]["validation_file"] == val_id and server.ft.jobs[job.id]["suffix"] == "router"
    done = run_to_the_end(provider, job.id)
    assert done.state == SUCCEEDED and done.fine_tuned_model == f"fake-org/fake-base:fake::{job.id}"
    assert done.trained_tokens == 1000 * server.ft.steps
    events = provider.events(job.id)
    assert events[0].message.startswith("Created") and events[-1].message.endswith("completed")
    assert [e.created for e in events] == sorted(e.created for e in events)
    assert [c.step for c in provider.checkpoints(job.id)] == [2, 4]
    assert [j.id for j in provider.list()] == [job.id]


def test_a_failed_together_job_says_why_and_a_cancel_stops_one(server, chat_files):
    provider = together(server)
    train_id = provider.upload(chat_files[0])
    server.ft.fail_at_step = 2
    failed = run_to_the_end(provider, provider.create("fake-base", train_id).id)
    assert failed.state == FAILED and "internal error" in failed.error  # Together says why only in its events
    server.ft.fail_at_step = None
    job = provider.create("fake-base", train_id)
    assert provider.cancel(job.id).state == CANCELLED and provider.status(job.id).state == CANCELLED


def test_together_refusals_are_named(server, chat_files):
    provider = together(server)
    with pytest.raises(ProviderError, match="Together refused to create the job: .*not available for fine-tuning"):
        provider.create("other-model", provider.upload(chat_files[0]))
    with pytest.raises(ProviderError, match="Together refused to report job ft-404: .*not found"):
        provider.status("ft-404")


def test_together_availability_names_the_deploy_step_and_a_server_without_its_api(server):
    found = together(server).availability("fake-base")
    assert found.usable and found.notice == TOGETHER_NOTICE and "deployed" in found.notice
    assert not together(server).availability(" ").usable
    with FakeOpenAIServer(models=("fake-base",)) as plain:  # serves chat, no fine-tuning
        missing = together(plain).availability("fake-base")
    assert not missing.usable and "no Together fine-tuning API" in missing.reason


def test_the_cli_trains_at_together_and_registers_the_model_answering_there(workspace, run_cli):
    from ragtune_core.questions.qa_dataset import save_dataset
    from ragtune_core.routing.llm_selector import FinetunedLLM
    from tests.training.llm.helpers import router_dataset

    save_dataset(workspace, "tools", router_dataset(), None, {})
    assert run_cli("llm-data", "tools", "--name", "tools-chat")[0] == 0
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as server:
        code, out, err = run_cli(
            "train-llm",
            "tools-chat",
            "--name",
            "router-ft",
            *hosted_flags(server.base_url, "together"),
        )
        assert code == 0, err
        assert "/v1/fine-tunes" in {r.path for r in server.requests}  # Together's paths, not OpenAI's
        code, listed, err = run_cli("llm-jobs", "--provider", "together", "--base-url", server.base_url)
    result = json.loads(out)
    model = FinetunedLLM.load(workspace.list_models("llm")[0].path)
    assert (model.model_id, model.provider) == (result["fine_tuned_model"], "together")
    assert model.base_url == server.base_url  # it answers where it was trained
    assert code == 0 and [j["id"] for j in json.loads(listed)["provider_jobs"]] == ["ftjob-1"]
