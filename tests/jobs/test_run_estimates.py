"""A generation run keeps the estimate made before it beside what it used; `ragtune runs` shows both."""

import json

import pytest

from ragtune_core import jobs, llm
from ragtune_core.jobs import JobKind
from ragtune_core.llm.config import LLMConfig
from ragtune_core.llm.pricing import ModelPrice
from ragtune_core.questions.router.request import RouterRequest
from tests.fake_openai import FakeOpenAIServer
from tests.questions.test_router_datasets import save_cities, summary_or_question_responder

pytestmark = pytest.mark.usefixtures("plain_llm_environment")


def _run(workspace, kind, params) -> str:
    status = jobs.start_job(workspace, kind, params)
    final = jobs.wait(workspace, status.run_id, timeout=60)
    assert final.state == "succeeded", final.error
    return status.run_id


def test_generation_runs_keep_their_estimate_beside_what_they_used(workspace, run_cli):
    corpus = save_cities(workspace)
    llm.save_price(workspace, "fake-model", ModelPrice(0.01, 0.02))
    with FakeOpenAIServer(responder=summary_or_question_responder) as server:
        config = llm.with_prices(LLMConfig(server.base_url, "fake-model"), workspace)
        router = RouterRequest(
            corpus.id, ["berlin"], questions_per_document=2, summary_variations=2, generator="llm", llm=config
        )
        first = _run(workspace, JobKind.GENERATE_ROUTER_QUESTIONS, router.to_params())
        again = _run(workspace, JobKind.GENERATE_ROUTER_QUESTIONS, router.to_params())  # answered by the cache
        questions = _run(
            workspace,
            JobKind.GENERATE_QUESTIONS,
            {"corpus_id": corpus.id, "generator": "llm", "llm": config.to_public_dict(), "max_chunks": 2},
        )
    code, out, err = run_cli("runs")
    assert code == 0, err
    runs = {run["id"]: run for run in json.loads(out)["runs"]}
    for run_id in (first, questions):
        estimate, usage = runs[run_id]["estimate"], runs[run_id]["usage"]
        assert estimate["prompt_tokens"] > 0 and estimate["completion_tokens"] > 0 and estimate["cached_chunks"] == 0
        assert estimate["cost_usd"] == pytest.approx(
            estimate["prompt_tokens"] * 0.01 / 1000 + estimate["completion_tokens"] * 0.02 / 1000
        )
        assert usage["prompt_tokens"] > 0 and runs[run_id]["cost_usd"] > 0
    cached = runs[again]["estimate"]
    assert (
        cached["prompt_tokens"] == 0 and cached["cost_usd"] == 0 and cached["cached_chunks"] == 3
    )  # 2 chunks, 1 summary
    assert runs[again]["usage"]["prompt_tokens"] == 0
    [event] = [e for e in jobs.read_events(workspace, first) if e["event"] == "estimate"]
    assert event["prompt_tokens"] == runs[first]["estimate"]["prompt_tokens"]


def test_an_offline_run_has_no_estimate(workspace, run_cli):
    corpus = save_cities(workspace)
    run_id = _run(workspace, JobKind.GENERATE_QUESTIONS, {"corpus_id": corpus.id, "max_chunks": 2})
    code, out, _ = run_cli("runs")
    [run] = [r for r in json.loads(out)["runs"] if r["id"] == run_id]
    assert "estimate" not in run and "cost_usd" not in run


def test_a_run_that_fails_still_shows_the_estimate_made_before_it(workspace, run_cli):
    from tests.routing.test_compare import RefusingServer

    corpus = save_cities(workspace)
    with RefusingServer() as refusing:  # every request turned down: the run fails
        config = LLMConfig(refusing.base_url, "fake-model", max_retries=0)
        status = jobs.start_job(
            workspace,
            JobKind.GENERATE_QUESTIONS,
            {"corpus_id": corpus.id, "generator": "llm", "llm": config.to_public_dict(), "max_chunks": 2},
        )
        assert jobs.wait(workspace, status.run_id, timeout=60).state == "failed"
    [run] = json.loads(run_cli("runs")[1])["runs"]
    assert run["state"] == "failed" and run["estimate"]["prompt_tokens"] > 0 and run["estimate"]["cached_chunks"] == 0
    assert "usage" not in run
