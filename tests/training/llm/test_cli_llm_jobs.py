"""`ragtune llm-jobs`: the workspace's LLM fine-tuning runs (state, model, provider and its job), an
endpoint's jobs with --provider openai, and --cancel of either."""

import json

import pytest

from ragtune_core import jobs
from ragtune_core.cli import build_parser
from ragtune_core.llm.config import LLMConfig
from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.training.llm.data import chat_data_paths
from ragtune_core.training.llm.openai_shaped import OpenAIShapedProvider
from tests.fake_openai import FakeOpenAIServer
from tests.training.llm.helpers import hosted_flags, interrupted_hosted_run, router_dataset


def test_runs_endpoint_jobs_and_cancels(workspace, run_cli):
    save_dataset(workspace, "tools", router_dataset(), None, {})
    assert run_cli("llm-data", "tools", "--name", "chat")[0] == 0
    code, out, err = run_cli("llm-jobs")
    assert (code, json.loads(out)) == (0, {"runs": []}), err
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as server:
        code, out, err = run_cli(
            "train-llm",
            "chat",
            "--name",
            "ft",
            *hosted_flags(server.base_url),
            "--background",
        )
        assert code == 0, err
        run_id = json.loads(out)["run_id"]
        assert jobs.wait(workspace, run_id, timeout=60).state == "succeeded"
        provider = OpenAIShapedProvider(LLMConfig(base_url=server.base_url, model="fake-base"))
        waiting = provider.create("fake-base", provider.upload(chat_data_paths(workspace, "chat")[0]))

        code, out, err = run_cli("llm-jobs", "--provider", "openai", "--base-url", server.base_url)
        assert code == 0, err
        listed = json.loads(out)
        [run] = listed["runs"]
        assert {k: run[k] for k in ("id", "state", "model", "provider", "base_model", "provider_job")} == {
            "id": run_id,
            "state": "succeeded",
            "model": "ft",
            "provider": "openai",
            "base_model": "fake-base",
            "provider_job": "ftjob-1",
        }
        assert [(j["id"], j["state"], j["model"]) for j in listed["provider_jobs"]] == [
            ("ftjob-2", "validating_files", "fake-base"),
            ("ftjob-1", "succeeded", "fake-base"),
        ]
        assert listed["provider_jobs"][1]["fine_tuned_model"] == "ft:fake-base:fake::ftjob-1"
        assert all(j["created"] > 0 for j in listed["provider_jobs"])

        code, out, err = run_cli(
            "llm-jobs", "--provider", "openai", "--base-url", server.base_url, "--cancel", waiting.id
        )
        assert code == 0, err
        assert json.loads(out)["cancelled"]["state"] == "cancelled" == server.ft.jobs[waiting.id]["status"]
        code, _, err = run_cli("llm-jobs", "--provider", "openai", "--base-url", server.base_url, "--cancel", "nope")
        assert code == 2 and "refused to cancel nope" in err

    code, out, err = run_cli("llm-jobs", "--cancel", run_id)  # finished already: its state, unchanged
    assert code == 0 and json.loads(out)["cancelled"] == {"id": run_id, "state": "succeeded"}, err
    code, _, err = run_cli("llm-jobs", "--cancel", "run-unknown")
    assert code == 2 and "run-unknown" in err
    other = jobs.start_job(workspace, jobs.JobKind.SLEEP, {"seconds_per_step": 0.0, "steps": 1})
    jobs.wait(workspace, other.run_id, timeout=30)
    code, _, err = run_cli("llm-jobs", "--cancel", other.run_id)
    assert code == 2 and "is not an LLM fine-tuning" in err


def test_the_issues_command_names_are_aliases():
    parser = build_parser()
    for alias, command in (("llm-dataset", "llm-data"), ("llm-finetune", "train-llm")):
        args = parser.parse_args([alias, "x", "--name", "n"])
        assert args.handler == parser.parse_args([command, "x", "--name", "n"]).handler


@pytest.mark.fault(
    "The worker of a hosted LLM fine-tuning killed (kill -9) while the endpoint trains",
    sees="the run interrupted, and its endpoint job offered to be followed again (page button, llm-jobs --follow)",
    kept="the endpoint's job, followed to its end by a new run that registers the model under the same name",
)
def test_a_hosted_job_is_followed_again_after_its_worker_is_killed(workspace, run_cli):
    save_dataset(workspace, "tools", router_dataset(), None, {})
    assert run_cli("llm-data", "tools", "--name", "chat")[0] == 0
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as server:
        first = interrupted_hosted_run(workspace, server)
        assert server.ft.jobs["ftjob-1"]["status"] not in ("succeeded", "cancelled")  # it trains on

        code, out, err = run_cli("llm-jobs")
        assert code == 0 and [run["followable"] for run in json.loads(out)["runs"]] == [True], err
        code, out, err = run_cli("llm-jobs", "--follow", first)
        assert code == 0, err
        second = json.loads(out)["following"]["id"]
        assert jobs.wait(workspace, second, timeout=60).state == "succeeded"
    assert len(server.ft.jobs) == 1 and len(server.ft.files) == 2  # train and val, uploaded once; one job
    [model] = workspace.list_models("llm")
    assert model.name == "ft" and model.metrics["trained_tokens"] > 0
    code, out, _ = run_cli("llm-jobs")
    assert [run["followable"] for run in json.loads(out)["runs"]] == [False, False]
    code, _, err = run_cli("llm-jobs", "--follow", first)  # followed already
    assert code == 2 and "not a hosted fine-tuning interrupted" in err
