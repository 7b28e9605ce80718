"""`ragtune llm-jobs`: the workspace's LLM fine-tuning runs (state, model, provider and its job), an
endpoint's jobs with --provider openai, and --cancel of either."""

import json

from ragtune_core import jobs
from ragtune_core.cli import build_parser
from ragtune_core.llm.client import LLMConfig
from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.training.llm.data import chat_data_paths
from ragtune_core.training.llm.providers import OpenAIShapedProvider
from tests.fake_openai import FakeOpenAIServer
from tests.training.llm.helpers import router_dataset


def test_runs_endpoint_jobs_and_cancels(workspace, run_cli):
    save_dataset(workspace, "tools", router_dataset(), None, {})
    assert run_cli("llm-data", "tools", "--name", "chat")[0] == 0
    code, out, err = run_cli("llm-jobs")
    assert (code, json.loads(out)) == (0, {"runs": []}), err
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as server:
        code, out, err = run_cli("train-llm", "chat", "--name", "ft", "--provider", "openai", "--base-model",
                                 "fake-base", "--base-url", server.base_url, "--poll-seconds", "0.01", "--background")
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
            "id": run_id, "state": "succeeded", "model": "ft", "provider": "openai", "base_model": "fake-base",
            "provider_job": "ftjob-1"}
        assert [(j["id"], j["state"], j["model"]) for j in listed["provider_jobs"]] == [
            ("ftjob-2", "validating_files", "fake-base"), ("ftjob-1", "succeeded", "fake-base")]
        assert listed["provider_jobs"][1]["fine_tuned_model"] == "ft:fake-base:fake::ftjob-1"
        assert all(j["created"] > 0 for j in listed["provider_jobs"])

        code, out, err = run_cli("llm-jobs", "--provider", "openai", "--base-url", server.base_url,
                                 "--cancel", waiting.id)
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
