"""LLM selectors in batch mode: a dataset's queries routed through the fake's Batch API (numbered
list and tool calling), resumed after a stop, from compare-selectors --llm-batch and a comparison job."""

import json

import pytest

from ragtune_core import jobs
from ragtune_core.jobs.comparison_tasks import start_comparison_job
from ragtune_core.llm.config import LLMConfig
from ragtune_core.routing.compare import load_router_task
from ragtune_core.routing.llm_selector import BATCH_STATES, FinetunedLLMSelector, LLMSelector, batch_states_in
from ragtune_core.routing.specs import SelectorSpec
from tests.fake_openai import FakeOpenAIServer
from tests.routing.test_compare import EXPECTED, QUERIES, dataset_id, router_llm  # noqa: F401 (fixture)
from tests.routing.test_llm_selector_finetuned import hosted_model
from tests.training.llm.helpers import teacher

pytestmark = pytest.mark.usefixtures("plain_llm_environment")


def _batch_bodies(server) -> list[dict]:
    return [
        json.loads(line)["body"]
        for batch in server.batches.batches.values()
        for line in server.ft.files[batch["input_file_id"]]["content"].decode().splitlines()
    ]


def test_an_llm_selector_in_batch_mode_routes_every_query_in_one_batch(workspace, dataset_id, tmp_path):
    task = load_router_task(workspace, dataset_id, "all")
    with FakeOpenAIServer(responder=router_llm, batches=True) as server:
        online = LLMSelector(LLMConfig(server.base_url, "fake-model")).select(task.queries, task.choices)
        selector = LLMSelector(LLMConfig(server.base_url, "fake-model", batch=True))
        with pytest.raises(ValueError, match="the batch mode needs a folder for its state"):
            selector.select(task.queries, task.choices)
        server.reset_counts()
        with batch_states_in(tmp_path / "states"):
            selections = selector.select(task.queries, task.choices)
        chat_requests, created, bodies = server.chat_requests, server.batches.created, _batch_bodies(server)
    assert chat_requests == 0 and created == 1 and len(bodies) == len(QUERIES)
    assert all(body["response_format"] == {"type": "json_object"} for body in bodies)
    assert [s.index for s in selections] == [s.index for s in online]
    assert sum(s.index == want for s, want in zip(selections, EXPECTED, strict=True)) == len(QUERIES) - 2
    assert not list((tmp_path / "states").iterdir())  # the answers are the selection's: no state left behind


def test_a_hosted_fine_tuned_llm_in_batch_mode_calls_tools_through_the_batch_api(workspace, dataset_id, tmp_path):
    task = load_router_task(workspace, dataset_id, "all")
    with FakeOpenAIServer(responder=teacher, batches=True) as server:
        folder = hosted_model(tmp_path / "ft", server, task.choices)
        online = FinetunedLLMSelector(folder).select(task.queries, task.choices)
        server.reset_counts()
        with batch_states_in(tmp_path / "states"):
            selections = FinetunedLLMSelector(folder, batch=True).select(task.queries, task.choices)
        chat_requests, bodies = server.chat_requests, _batch_bodies(server)
    assert chat_requests == 0 and all(body["tool_choice"] == "required" and body["tools"] for body in bodies)
    assert [(s.index, s.error) for s in selections] == [(s.index, s.error) for s in online]
    assert sum(s.error is not None for s in selections) == 3  # the invalid outputs, named as online


def test_a_selection_stopped_while_its_batch_is_out_resumes_it(workspace, dataset_id, tmp_path, monkeypatch):
    task = load_router_task(workspace, dataset_id, "all")
    with FakeOpenAIServer(responder=router_llm, batches=True) as server:
        selector = LLMSelector(LLMConfig(server.base_url, "fake-model", batch=True))
        with batch_states_in(tmp_path / "states"):
            with monkeypatch.context() as patch:

                def stop(seconds):
                    raise KeyboardInterrupt  # as a kill would, at the first wait for the batch

                patch.setattr("ragtune_core.llm.batch.time.sleep", stop)
                with pytest.raises(KeyboardInterrupt):
                    selector.select(task.queries, task.choices)
            assert len(list((tmp_path / "states").iterdir())) == 1
            selections = selector.select(task.queries, task.choices)
        created = server.batches.created
    assert (
        created == 1 and sum(s.index == want for s, want in zip(selections, EXPECTED, strict=True)) == len(QUERIES) - 2
    )


def test_compare_selectors_with_llm_batch(workspace, dataset_id, run_cli):
    with FakeOpenAIServer(responder=router_llm, batches=True) as server:
        code, out, err = run_cli(
            "compare-selectors",
            "tools",
            "--llm-base-url",
            server.base_url,
            "--llm-model",
            "fake-model",
            "--part",
            "all",
            "--llm-batch",
        )
        chat_requests, created = server.chat_requests, server.batches.created
    assert code == 0, err
    assert json.loads(out)["match_rates"] == {"LLM fake-model": pytest.approx(19 / 21)}
    assert chat_requests == 0 and created == 1
    assert "compare-selectors: batch batch_1 completed" in err


def test_compare_selectors_with_llm_batch_is_refused_where_it_cannot_run(workspace, dataset_id, run_cli):
    with FakeOpenAIServer(responder=router_llm) as server:
        code, _, err = run_cli(
            "compare-selectors", "tools", "--llm-base-url", server.base_url, "--llm-model", "fake-model", "--llm-batch"
        )
        assert server.chat_requests == 0
    assert code == 2 and f"--llm-batch: {server.base_url} has no Batch API (/v1/batches answered HTTP 404)" in err
    code, _, err = run_cli("compare-selectors", "tools", "--embedding", "base", "--llm-batch")
    assert code == 2 and "--llm-batch needs --llm-model" in err


def test_a_comparison_job_routes_an_llm_in_batch_mode(workspace, dataset_id):
    with FakeOpenAIServer(responder=router_llm, batches=True) as server:
        config = LLMConfig(server.base_url, "fake-model", batch=True)
        spec = SelectorSpec("LLM batch", "llm", llm=config.to_public_dict())
        status = jobs.wait(
            workspace, start_comparison_job(workspace, dataset_id, [spec], part="all").run_id, timeout=90
        )
        chat_requests, created = server.chat_requests, server.batches.created
    assert status.state == "succeeded", status.error
    assert status.result["match_rates"] == {"LLM batch": pytest.approx(19 / 21)}
    assert chat_requests == 0 and created == 1
    assert not list(workspace.root.joinpath(*BATCH_STATES).iterdir())
