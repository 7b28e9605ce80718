"""router-dataset --batch: specific questions and summary variations through the fake's Batch API,
the estimate before the run knowing what the cache answers."""

import json

import pytest

from ragtune_core.questions.qa_dataset import load_dataset
from tests.fake_openai import FakeOpenAIServer
from tests.questions.test_router_datasets import save_cities, summary_or_question_responder

pytestmark = pytest.mark.usefixtures("plain_llm_environment")


def _router_dataset(run_cli, server, name: str, *extra: str):
    return run_cli(
        "router-dataset",
        "--corpus",
        "cities",
        "--name",
        name,
        "--documents",
        "Berlin",
        "Toronto",
        "--questions-per-document",
        "4",
        "--summary-variations",
        "3",
        "--generator",
        "llm",
        "--base-url",
        server.base_url,
        "--model",
        "fake-model",
        *extra,
    )


def test_router_dataset_with_batch_sends_chunks_and_summary_requests_as_batches(workspace, run_cli):
    save_cities(workspace)
    (workspace.root / "llm_prices.json").write_text(
        json.dumps({"fake-model": {"input": 0.01, "output": 0.02, "batch_input": 0.005, "batch_output": 0.01}})
    )
    with FakeOpenAIServer(responder=summary_or_question_responder, batches=True) as server:
        code, out, err = _router_dataset(run_cli, server, "routes", "--batch")
        assert code == 0, err
        lines = [
            json.loads(line)["body"]["messages"][0]["content"]
            for batch in server.batches.batches.values()
            for line in server.ft.files[batch["input_file_id"]]["content"].decode().splitlines()
        ]
        chat_requests, created = server.chat_requests, server.batches.created
        again_code, again_out, again_err = _router_dataset(run_cli, server, "routes-again", "--batch")
        created_again = server.batches.created
    summary = json.loads(out)
    assert chat_requests == 0 and created >= 2  # every request through the Batch API, none online
    assert sum("Can you give me a summary of" in line for line in lines) == 2  # one per summary tool
    assert summary["failures"] == 0 and summary["priced_as"] == "batch"
    dataset = load_dataset(workspace, summary["dataset_id"])
    kinds = {t["id"]: t["kind"] for t in dataset.extra["tools"]}
    assert sorted(kinds[ids[0]] for ids in dataset.relevant_docs.values()).count("summary") == 6
    usage = summary["usage"]
    assert summary["cost_usd"] == pytest.approx(
        usage["prompt_tokens"] / 1000 * 0.005 + usage["completion_tokens"] / 1000 * 0.01
    )
    assert summary["estimate"]["cost_usd"] > 0 and summary["estimate"]["cached_chunks"] == 0
    assert "router-dataset: about" in err and "(fake-model, batch prices)" in err and "router-dataset: used" in err
    # The estimate asks the cache as the run does: started again, every request is answered for free.
    assert again_code == 0, again_err
    again = json.loads(again_out)
    assert created_again == created and again["estimate"]["prompt_tokens"] == 0
    assert again["estimate"]["cached_chunks"] == len(lines) and again["cached"] == len(lines)


def test_router_dataset_with_batch_where_the_endpoint_has_none_exits_2_with_the_reason(workspace, run_cli):
    save_cities(workspace)
    with FakeOpenAIServer(responder=summary_or_question_responder) as server:
        code, out, err = _router_dataset(run_cli, server, "routes", "--batch")
        assert server.chat_requests == 0
    assert code == 2 and f"--batch: {server.base_url} has no Batch API (/v1/batches answered HTTP 404)" in err
    assert not workspace.list_datasets()


def test_batch_needs_the_llm_generator(workspace, run_cli):
    save_cities(workspace)
    code, out, err = run_cli("router-dataset", "--corpus", "cities", "--name", "routes", "--batch")
    assert code == 2 and "--batch needs --generator llm" in err
