import json

import pytest

from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.routing.llm_selector import FinetunedLLM
from ragtune_core.training.llm.data import build_chat_data, list_chat_data, load_chat_data, to_jsonl
from ragtune_core.training.llm.preflight import local_token_counter, token_counter
from tests.fake_openai import FakeOpenAIServer
from tests.training.llm.helpers import QUERIES, hosted_flags, router_dataset, teacher
from tests.training.llm.tiny_llm import tiny_llm


def test_llm_data_check_and_hosted_training(workspace, run_cli, tmp_path):
    save_dataset(workspace, "tools", router_dataset(), None, {})
    code, out, err = run_cli("llm-data", "tools", "--name", "tools-chat", "--export", str(tmp_path / "out"))
    assert code == 0, err
    summary = json.loads(out)
    assert summary["train"] + summary["val"] == len(QUERIES) and summary["labels"] == "dataset"
    assert len((tmp_path / "out" / "train.jsonl").read_text().splitlines()) == summary["train"]
    code, out, _ = run_cli("llm-check", "tools-chat", "--provider", "openai", "--base-model", "gpt-4o-mini-2024-07-18")
    check = json.loads(out)
    assert code == 0 and check["ok"] and check["cost_usd"] > 0 and check["warnings"]
    tiny = tiny_llm(tmp_path / "tiny")  # a local run counts tokens with the base model's own tokenizer
    code, out, err = run_cli("llm-check", "tools-chat", "--base-model", str(tiny))
    assert code == 0, err
    lines = load_chat_data(workspace, "tools-chat").train
    counted = max(map(local_token_counter(str(tiny)), lines))
    assert json.loads(out)["max_tokens"] == counted != max(map(token_counter(), lines))
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as server:
        code, out, err = run_cli(
            "train-llm",
            "tools-chat",
            "--name",
            "router-ft",
            *hosted_flags(server.base_url),
        )
    assert code == 0, err
    assert "job ftjob-1: succeeded\n" in err and "train-llm: step 4/4" in err  # its progress, on stderr
    result = json.loads(out)
    assert result["fine_tuned_model"].startswith("ft:fake-base") and result["metrics"]["train_loss"] == 0.5
    [model] = workspace.list_models("llm")
    assert FinetunedLLM.load(model.path).model_id == result["fine_tuned_model"]
    assert model.dataset_id == load_chat_data(workspace, "tools-chat").dataset_id


def test_llm_data_with_a_teacher(workspace, run_cli):
    save_dataset(workspace, "tools", router_dataset(), None, {})
    with FakeOpenAIServer(responder=teacher) as server:
        code, out, err = run_cli(
            "llm-data",
            "tools",
            "--name",
            "taught",
            "--labels",
            "teacher",
            "--teacher-model",
            "t",
            "--teacher-base-url",
            server.base_url,
        )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["disagreements"] == 4 and summary["train"] + summary["val"] == len(QUERIES) - 4


def test_bad_input_exits_2_with_a_message(workspace, run_cli, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(to_jsonl(build_chat_data(router_dataset()).train[:3]) + "{oops\n")
    code, _, err = run_cli("llm-data", "--import", str(bad), "--name", "imported")
    assert code == 2 and "line 4: not JSON" in err and list_chat_data(workspace) == []
    code, _, err = run_cli("llm-check", "nothing")
    assert code == 2 and "no chat data named 'nothing'" in err
    code, _, err = run_cli("llm-data", "--name", "x")
    assert code == 2 and "router DATASET" in err
    save_dataset(workspace, "tools", router_dataset(), None, {})
    run_cli("llm-data", "tools", "--name", "tools-chat")
    with FakeOpenAIServer(models=("fake-base",)) as plain:
        code, _, err = run_cli(
            "train-llm",
            "tools-chat",
            "--name",
            "m",
            "--provider",
            "openai",
            "--base-model",
            "fake-base",
            "--base-url",
            plain.base_url,
        )
    assert code == 2 and "no fine-tuning API" in err and workspace.list_models("llm") == []


@pytest.mark.fault(
    "ragtune llm-check of chat data its own check finds not ready (too few good lines, line problems)",
    sees="exit 2 with the check's summary (ok: false) on stdout and its errors on stderr",
    kept="the chat data",
)
def test_llm_check_exits_2_when_its_own_verdict_is_not_ok(workspace, run_cli, tmp_path):
    few = tmp_path / "few.jsonl"
    few.write_text(to_jsonl(build_chat_data(router_dataset()).train[:3]))
    assert run_cli("llm-data", "--import", str(few), "--name", "few")[0] == 0
    code, out, err = run_cli("llm-check", "few", "--provider", "openai", "--base-model", "gpt-4o-mini-2024-07-18")
    assert code == 2 and json.loads(out)["ok"] is False
    assert "llm-check: 'few' is not ready to train on: 3 good training lines: at least" in err
    assert list_chat_data(workspace) == ["few"]


@pytest.mark.fault(
    "A hosted fine-tuning endpoint answering 500 to the training file's upload (train-llm --retries N)",
    sees="each retry told on stderr ('waiting for the server (HTTP 500), retry 1/2 in ...'), then exit 2 naming "
    "the refusal after N+1 calls",
    kept="the chat data; no model registered, its name free again",
)
def test_a_hosted_upload_is_retried_as_often_as_retries_says(workspace, run_cli):
    save_dataset(workspace, "tools", router_dataset(), None, {})
    assert run_cli("llm-data", "tools", "--name", "tools-chat")[0] == 0
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as server:
        server.ft.upload_errors = 99
        code, _, err = run_cli(
            "train-llm",
            "tools-chat",
            "--name",
            "router-ft",
            "--provider",
            "openai",
            "--base-model",
            "fake-base",
            "--base-url",
            server.base_url,
            "--retries",
            "2",
        )
    assert [r.status for r in server.requests if r.path == "/v1/files"] == [500, 500, 500]
    assert code == 2 and "refused to take train.jsonl: HTTP 500" in err
    assert "waiting for the server (HTTP 500), retry 2/2 in" in err
    assert workspace.list_models("llm") == []


@pytest.mark.fault(
    "A hosted fine-tuning job that never ends (the endpoint reports it running forever)",
    sees="'waiting for <endpoint> job ftjob-1 to end: running' while it is followed, then exit 2 past "
    "--max-wait-hours: "
    "'still running after ... h of waiting for it to end: it is cancelled'",
    kept="the chat data; the provider's job cancelled so that it bills no further; the model name free again",
)
def test_a_hosted_job_that_never_ends_is_followed_until_its_deadline_then_cancelled(workspace, run_cli):
    save_dataset(workspace, "tools", router_dataset(), None, {})
    assert run_cli("llm-data", "tools", "--name", "tools-chat")[0] == 0
    with FakeOpenAIServer(fine_tuning=True, models=("fake-base",)) as server:
        server.ft.steps = 10**9  # one step a status check: running for good
        code, _, err = run_cli(
            "train-llm",
            "tools-chat",
            "--name",
            "router-ft",
            *hosted_flags(server.base_url),
            "--max-wait-hours",
            "0.0002",
        )
    assert code == 2, err
    assert f"waiting for OpenAI-compatible {server.base_url} job ftjob-1 to end: running" in err
    assert "the openai fine-tuning job ftjob-1 is still running after 0.0002 h of waiting for it to end" in err
    assert server.ft.jobs["ftjob-1"]["status"] == "cancelled" and workspace.list_models("llm") == []
