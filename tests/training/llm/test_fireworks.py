"""Fireworks AI's fine-tuning API through FireworksProvider, against the loopback fake (tests/fake_fireworks.py)."""

import json

import pytest

from ragtune_core.llm import LLMConfig
from ragtune_core.training.llm.finetune import LLMFinetuneRequest, default_base_url
from ragtune_core.training.llm.fireworks import (
    FIREWORKS_ACCOUNT_ENV,
    FIREWORKS_NOTICE,
    FireworksProvider,
    _job,
    fireworks_base_url,
)
from ragtune_core.training.llm.providers import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, VALIDATING, ProviderError
from tests import fake_fireworks
from tests.fake_openai import FakeOpenAIServer
from tests.training.llm.helpers import hosted_flags
from tests.training.llm.test_providers import chat_files, run_to_the_end  # noqa: F401 (a fixture)


@pytest.fixture
def server():
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as fake:
        yield fake


def fireworks(server, account: str | None = "acme") -> FireworksProvider:
    base_url = f"{server.base_url}/accounts/{account}" if account else server.base_url
    return FireworksProvider(LLMConfig(base_url=base_url, model="fake-base", max_retries=0))


def paths(server) -> list[str]:
    return [r.path for r in server.requests]


def test_a_fireworks_job_runs_through_its_states_to_a_model_answering_at_the_inference_endpoint(server, chat_files):
    provider = fireworks(server)
    train, val = provider.upload(chat_files[0]), provider.upload(chat_files[1])
    assert train.startswith("accounts/acme/datasets/ragtune-train-")
    assert val.startswith("accounts/acme/datasets/ragtune-val-")
    train_id = train.rsplit("/", 1)[1]
    assert server.ft.files[train_id]["content"] == chat_files[0].read_bytes()
    assert paths(server).count(f"/v1/accounts/acme/datasets/{train_id}") == 2  # UPLOADING, then READY: awaited
    job = provider.create("fake-base", train, val, epochs=2, suffix="Router v1")
    assert (job.state, job.base_model) == (VALIDATING, "accounts/fireworks/models/fake-base") and job.created > 0
    body = fake_fireworks.created(server.ft)[job.id]
    assert (body["dataset"], body["evaluationDataset"], body["epochs"], body["loraRank"]) == (train, val, 2, 8)
    assert body["outputModel"].startswith("accounts/acme/models/ragtune-router-v1-")
    seen = [provider.status(job.id).state for _ in range(7)]
    assert seen[:3] == [QUEUED, RUNNING, RUNNING] and seen[-1] == SUCCEEDED
    done = provider.status(job.id)
    assert done.fine_tuned_model == body["outputModel"] and done.error is None
    events = provider.events(job.id)
    assert events[0].message.startswith(f"created fine-tuning job {job.id}")
    assert events[-1].message == "state: completed"
    assert len({e.id for e in events}) == len(events) and provider.checkpoints(job.id) == []
    assert [j.id for j in provider.list()] == [job.id]
    assert provider.inference_base_url == server.base_url.removesuffix("/v1") + "/inference/v1"


@pytest.mark.parametrize(
    "state, expected",
    [
        ("JOB_STATE_UNSPECIFIED", QUEUED),
        ("JOB_STATE_CREATING", QUEUED),
        ("JOB_STATE_VALIDATING", VALIDATING),
        ("JOB_STATE_RUNNING", RUNNING),
        ("JOB_STATE_WRITING_RESULTS", RUNNING),
        ("JOB_STATE_EVALUATION", RUNNING),
        ("JOB_STATE_ROLLOUT", RUNNING),
        ("JOB_STATE_COMPLETED", SUCCEEDED),
        ("JOB_STATE_FAILED", FAILED),
        ("JOB_STATE_CANCELLED", CANCELLED),
        ("JOB_STATE_DELETING", CANCELLED),
        ("A_STATE_NOT_KNOWN_YET", RUNNING),
    ],
)
def test_each_fireworks_state_maps_onto_a_shared_state(state, expected):
    job = _job(
        {
            "name": "accounts/acme/supervisedFineTuningJobs/abc",
            "state": state,
            "outputModel": "accounts/acme/models/m",
            "createTime": "2026-01-02T03:04:05.123456789Z",
        }
    )
    assert (job.id, job.state) == ("abc", expected) and job.created == pytest.approx(1767323045.123456)
    assert job.fine_tuned_model == ("accounts/acme/models/m" if expected == SUCCEEDED else None)
    assert (job.error is not None) == (expected == FAILED)  # a failure without a message still says it failed


def test_a_failed_fireworks_job_says_why_and_a_cancel_stops_one(server, chat_files):
    provider = fireworks(server)
    train = provider.upload(chat_files[0])
    server.ft.fail_at_step = 2
    failed = run_to_the_end(provider, provider.create("fake-base", train).id)
    assert failed.state == FAILED and "internal error" in failed.error  # Fireworks' status.message
    last = provider.events(failed.id)[-1]
    assert last.level == "error" and "internal error" in last.message
    server.ft.fail_at_step = None
    job = provider.create("fake-base", train)
    assert provider.cancel(job.id).state == CANCELLED and provider.status(job.id).state == CANCELLED
    assert f"/v1/accounts/acme/supervisedFineTuningJobs/{job.id}:cancel" in paths(server)


def test_fireworks_refusals_are_named(server, chat_files):
    provider = fireworks(server)
    train = provider.upload(chat_files[0])
    with pytest.raises(ProviderError, match="Fireworks refused to create the job: .*not available for fine-tuning"):
        provider.create("other-model", train)
    with pytest.raises(
        ProviderError, match="Fireworks refused to create the job: .*not a READY dataset of account other"
    ):
        fireworks(server, "other").create("fake-base", train)  # another account's dataset
    with pytest.raises(ProviderError, match="Fireworks refused to report job ftjob-404: .*not found"):
        provider.status("ftjob-404")
    asked = len(server.requests)
    with pytest.raises(
        ProviderError, match="Fireworks cannot be asked to list its jobs: the base URL names no Fireworks account"
    ):
        fireworks(server, account=None).list()
    assert len(server.requests) == asked  # refused before any request


def test_fireworks_availability_names_the_deploy_step_the_account_and_a_server_without_its_api(server):
    found = fireworks(server).availability("fake-base")
    assert found.usable and found.notice == FIREWORKS_NOTICE and "deployed" in found.notice
    assert "/v1/accounts/acme/supervisedFineTuningJobs" in paths(server)
    assert not fireworks(server).availability(" ").usable
    asked = len(server.requests)
    missing_account = fireworks(server, account=None).availability("fake-base")
    assert not missing_account.usable and FIREWORKS_ACCOUNT_ENV in missing_account.reason
    assert len(server.requests) == asked
    unknown = fireworks(server, fake_fireworks.UNKNOWN_ACCOUNT).availability("fake-base")
    assert not unknown.usable and "no Fireworks fine-tuning API" in unknown.reason and "account id" in unknown.reason
    with FakeOpenAIServer(models=("fake-base",)) as plain:  # serves chat, no fine-tuning
        missing = fireworks(plain).availability("fake-base")
    assert not missing.usable and "answered 404" in missing.reason


def test_the_account_comes_from_the_base_url_or_the_environment(monkeypatch):
    monkeypatch.delenv(FIREWORKS_ACCOUNT_ENV, raising=False)
    assert fireworks_base_url() == "https://api.fireworks.ai/v1" == default_base_url("fireworks")
    assert fireworks_base_url("acme") == "https://api.fireworks.ai/v1/accounts/acme"
    monkeypatch.setenv(FIREWORKS_ACCOUNT_ENV, "team-7")
    request = LLMFinetuneRequest("chat", "m", "fireworks", "llama-v3p1-8b-instruct", llm={"model": "-"})
    assert request.llm["base_url"] == "https://api.fireworks.ai/v1/accounts/team-7"
    assert FireworksProvider(request.llm_config()).account == "team-7"
    assert default_base_url("openai") is None  # the server's endpoint, else OpenAI's, as before


def test_the_cli_trains_at_fireworks_and_registers_the_model_answering_at_its_inference_endpoint(
    workspace, run_cli, monkeypatch
):
    from ragtune_core.questions.qa_dataset import save_dataset
    from ragtune_core.routing.compare import load_router_task
    from ragtune_core.routing.llm_selector import FinetunedLLM, FinetunedLLMSelector
    from tests.training.llm.helpers import router_dataset

    monkeypatch.delenv(FIREWORKS_ACCOUNT_ENV, raising=False)
    dataset_id = save_dataset(workspace, "tools", router_dataset(), None, {}).id
    assert run_cli("llm-data", "tools", "--name", "tools-chat")[0] == 0
    code, _, err = run_cli(
        "train-llm", "tools-chat", "--name", "nowhere", "--provider", "fireworks", "--base-model", "fake-base"
    )
    assert code == 2 and "names no Fireworks account" in err and not workspace.list_models("llm")
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as server:
        base_url = f"{server.base_url}/accounts/acme"
        code, out, err = run_cli(
            "train-llm",
            "tools-chat",
            "--name",
            "router-ft",
            *hosted_flags(base_url, "fireworks"),
        )
        assert code == 0, err
        assert "/v1/accounts/acme/supervisedFineTuningJobs" in paths(server)  # Fireworks' paths, not OpenAI's
        code, listed, err = run_cli("llm-jobs", "--provider", "fireworks", "--base-url", base_url)
        assert code == 0 and [j["id"] for j in json.loads(listed)["provider_jobs"]] == ["ftjob-1"]
        folder = workspace.list_models("llm")[0].path
        task = load_router_task(workspace, dataset_id, "all")
        FinetunedLLMSelector(folder).select(task.queries[:1], task.choices)
        asked = [r.body for r in server.requests if r.path == "/inference/v1/chat/completions"]
    result = json.loads(out)
    model = FinetunedLLM.load(folder)
    assert (model.model_id, model.provider) == (result["fine_tuned_model"], "fireworks")
    assert (model.model_id, model.base_model) == ("accounts/acme/models/ftjob-1", "accounts/fireworks/models/fake-base")
    assert model.base_url == server.base_url.removesuffix("/v1") + "/inference/v1"  # not the management API
    assert [body["model"] for body in asked] == [model.model_id]  # it answers there
