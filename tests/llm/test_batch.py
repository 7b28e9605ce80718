"""The Batch API mode against the fake's files and batches endpoints: every outcome, retries, resume."""

import json

import pytest

from ragtune_core.llm.batch import BatchError, batch_unavailable_reason, cancel_batch, complete_in_batch
from ragtune_core.llm.client import Completion, Failure
from ragtune_core.llm.config import LLMConfig
from tests.fake_openai import FakeOpenAIServer

pytestmark = pytest.mark.usefixtures("plain_llm_environment")


def _echo(request: dict) -> str:
    return "answer to " + request["messages"][0]["content"]


def _prompts(n: int) -> list[list[dict]]:
    return [[{"role": "user", "content": f"prompt {i}"}] for i in range(n)]


def _run(server: FakeOpenAIServer, state, n: int = 6, **kwargs):
    config = LLMConfig(server.base_url, "fake-model", batch=True)
    return complete_in_batch(config, _prompts(n), state, poll_seconds=0, **kwargs)


def _batch_lines(server: FakeOpenAIServer) -> list[list[str]]:
    """The prompts each created batch held, in order of creation."""
    lines = []
    for batch in server.batches.batches.values():
        content = server.ft.files[batch["input_file_id"]]["content"].decode().splitlines()
        lines.append([json.loads(line)["body"]["messages"][0]["content"] for line in content])
    return lines


def test_a_completed_batch_answers_every_prompt_in_order_with_usage(tmp_path):
    waits, done = [], []
    with FakeOpenAIServer(responder=_echo, batches=True) as server:
        outcomes = _run(server, tmp_path / "state.json", on_wait=waits.append, on_done=lambda o: done.append(o.index))
        chat_requests = server.chat_requests
    assert [o.content for o in outcomes] == [f"answer to prompt {i}" for i in range(6)]
    assert all(isinstance(o, Completion) and o.prompt_tokens > 0 and o.completion_tokens > 0 for o in outcomes)
    assert sorted(done) == list(range(6)) and chat_requests == 0  # all through the batch, none online
    assert server.batches.created == 1
    upload = server.ft.files[server.batches.batches["batch_1"]["input_file_id"]]
    assert upload["purpose"] == "batch"
    line = json.loads(upload["content"].decode().splitlines()[0])
    assert line["method"] == "POST" and line["url"] == "/v1/chat/completions" and line["body"]["model"] == "fake-model"
    assert waits[0] == "waiting for batch batch_1 to end: in_progress, 0/6 requests done" and waits[-1].startswith(
        "batch batch_1 completed"
    )


def test_a_partly_failed_batch_sends_only_its_failed_lines_again(tmp_path):
    with FakeOpenAIServer(responder=_echo, batches=True, batch_outcomes=("partial",)) as server:
        outcomes = _run(server, tmp_path / "state.json")
    assert all(isinstance(o, Completion) for o in outcomes)
    first, second = _batch_lines(server)
    assert first == [f"prompt {i}" for i in range(6)]
    assert second == ["prompt 0", "prompt 2", "prompt 4"]  # the lines that failed with a 500, no others
    assert [o.attempts for o in outcomes] == [2, 1, 2, 1, 2, 1]


def test_an_expired_batch_sends_the_lines_it_never_ran_again(tmp_path):
    with FakeOpenAIServer(responder=_echo, batches=True, batch_outcomes=("expired",)) as server:
        outcomes = _run(server, tmp_path / "state.json")
    assert all(isinstance(o, Completion) for o in outcomes)
    assert _batch_lines(server)[1] == ["prompt 3", "prompt 4", "prompt 5"]


def test_lines_that_keep_failing_give_up_after_max_batches(tmp_path):
    with FakeOpenAIServer(responder=_echo, batches=True, batch_outcomes=("expired",) * 5) as server:
        outcomes = _run(server, tmp_path / "state.json", n=4, max_batches=2)
    assert [type(o) for o in outcomes] == [Completion, Completion, Completion, Failure]
    assert outcomes[3].message.startswith("gave up after 2 batches: the batch batch_2 was expired")
    assert server.batches.created == 2


def test_a_cancelled_batch_keeps_what_ran_and_fails_the_rest_without_sending_it_again(tmp_path):
    with FakeOpenAIServer(responder=_echo, batches=True, batch_outcomes=("cancelled",)) as server:
        outcomes = _run(server, tmp_path / "state.json")
    assert [type(o) for o in outcomes] == [Completion] * 3 + [Failure] * 3
    assert outcomes[3].message == "the batch batch_1 was cancelled before this request ran"
    assert server.batches.created == 1


def test_a_failed_batch_fails_its_lines_with_the_reason(tmp_path):
    with FakeOpenAIServer(responder=_echo, batches=True, batch_outcomes=("failed",)) as server:
        outcomes = _run(server, tmp_path / "state.json", n=2)
    assert all(
        isinstance(o, Failure) and o.message == "the batch batch_1 failed: the input is invalid" for o in outcomes
    )


def test_a_stopped_run_resumes_its_batch_and_never_pays_twice(tmp_path):
    state = tmp_path / "state.json"
    polls = []

    def stop_after_two_polls(seconds):
        polls.append(seconds)
        if len(polls) == 2:
            raise KeyboardInterrupt  # as a kill would, mid-poll

    with FakeOpenAIServer(responder=_echo, batches=True) as server:
        with pytest.raises(KeyboardInterrupt):
            _run(server, state, sleep=stop_after_two_polls)
        saved = json.loads(state.read_text())
        assert saved["batch"]["id"] == "batch_1" and not saved["results"]
        outcomes = _run(server, state)
        assert all(isinstance(o, Completion) for o in outcomes) and server.batches.created == 1
        again = _run(server, state)  # everything is in the state: nothing is sent
        assert [o.content for o in again] == [o.content for o in outcomes] and server.batches.created == 1
        fewer = _run(server, state, n=3)  # a subset (the rest cached elsewhere) finds its lines by content
        assert [o.content for o in fewer] == [o.content for o in outcomes[:3]] and server.batches.created == 1


def test_a_run_stopped_between_upload_and_create_finds_or_creates_its_batch(tmp_path):
    state = tmp_path / "state.json"
    with FakeOpenAIServer(responder=_echo, batches=True) as server:
        _run(server, state, n=2)
        saved = json.loads(state.read_text())
        # As if the run had stopped right after creating batch_1, before saving its id:
        saved.update(
            batch={
                "input_file_id": server.batches.batches["batch_1"]["input_file_id"],
                "id": None,
                "custom_ids": list(saved["results"]),
            },
            results={},
        )
        state.write_text(json.dumps(saved))
        outcomes = _run(server, state, n=2)
        assert all(isinstance(o, Completion) for o in outcomes) and server.batches.created == 1


def test_cancel_asks_the_provider_to_stop_the_batch_in_flight(tmp_path):
    state = tmp_path / "state.json"
    with FakeOpenAIServer(responder=_echo, batches=True) as server:
        config = LLMConfig(server.base_url, "fake-model", batch=True)

        def cancel_on_first_poll(seconds):
            if server.batches.batches["batch_1"]["status"] == "in_progress":
                assert cancel_batch(config, state) == "batch_1"

        outcomes = complete_in_batch(config, _prompts(4), state, poll_seconds=0, sleep=cancel_on_first_poll)
    assert [type(o) for o in outcomes] == [Completion] * 2 + [Failure] * 2
    assert cancel_batch(config, state) is None  # nothing in flight any more


def test_no_batch_api_is_a_reason_not_a_crash(tmp_path):
    with FakeOpenAIServer() as plain, FakeOpenAIServer(batches=True) as offering:
        reason = batch_unavailable_reason(LLMConfig(plain.base_url, "fake-model"))
        assert batch_unavailable_reason(LLMConfig(offering.base_url, "fake-model")) is None
        with pytest.raises(BatchError, match="^the Batch API refused: HTTP 4"):
            _run(plain, tmp_path / "state.json", n=1)
    assert reason == f"{plain.base_url} has no Batch API (/v1/batches answered HTTP 404)"


# question generation in batch ------------------------------------------------------------------------
def _generate_in_batch(run_cli, server):
    """`ragtune generate --batch` of dataset "qs" on the "harbour" corpus, asking fake-model at `server`."""
    return run_cli(
        "generate",
        *("--corpus", "harbour", "--name", "qs", "--generator", "llm"),
        *("--base-url", server.base_url, "--model", "fake-model", "--batch"),
    )


def _corpus(workspace):
    from ragtune_core.corpus.documents import Chunk, Document, save_corpus

    texts = [
        f"Riverton built its harbour in {1800 + i}; the Northfield ferry has carried {i * 10} people." for i in range(5)
    ]
    return save_corpus(
        workspace,
        "harbour",
        [Document("riverton", "Riverton", "text:riverton", " ".join(texts))],
        [Chunk(f"riverton#{i}", "riverton", text) for i, text in enumerate(texts)],
        {},
    )


def test_generate_with_batch_goes_through_the_batch_api_and_prices_it_as_a_batch(workspace, run_cli, monkeypatch):
    monkeypatch.setattr("ragtune_core.llm.batch.FIRST_POLL_SECONDS", 0.01)
    _corpus(workspace)
    (workspace.root / "llm_prices.json").write_text(
        json.dumps({"fake-model": {"input": 0.01, "output": 0.02, "batch_input": 0.005, "batch_output": 0.01}})
    )
    with FakeOpenAIServer(batches=True, batch_outcomes=("partial",)) as server:
        code, out, err = _generate_in_batch(run_cli, server)
        chat_requests, batches = server.chat_requests, server.batches.created
    assert code == 0, err
    summary = json.loads(out)
    assert summary["questions"] == 20 and summary["failures"] == 0 and summary["priced_as"] == "batch"
    assert chat_requests == 0 and batches == 2  # the lines that failed went again, in a second batch
    usage = summary["usage"]
    assert summary["cost_usd"] == pytest.approx(
        usage["prompt_tokens"] / 1000 * 0.005 + usage["completion_tokens"] / 1000 * 0.01
    )
    assert summary["estimate"]["cost_usd"] > 0 and summary["estimate"]["cached_chunks"] == 0
    assert "generate: about" in err and "(fake-model, batch prices)" in err and "generate: used" in err
    assert "generate: waiting for batch batch_1 to end: in_progress" in err  # the progress of the batch, on stderr


def test_generate_with_batch_where_the_endpoint_has_none_says_so(workspace, run_cli):
    _corpus(workspace)
    with FakeOpenAIServer() as server:
        code, out, err = _generate_in_batch(run_cli, server)
        assert server.chat_requests == 0
    assert code == 2 and f"--batch: {server.base_url} has no Batch API (/v1/batches answered HTTP 404)" in err


def test_a_generation_stopped_while_its_batch_is_out_resumes_it(workspace, tmp_path):
    from ragtune_core.corpus.documents import load_chunks
    from ragtune_core.questions.llm_generator import LLMQuestionGenerator

    _corpus(workspace)
    chunks = load_chunks(workspace, workspace.resolve("corpora", "harbour").id)
    with FakeOpenAIServer(batches=True) as server:
        generator = LLMQuestionGenerator(LLMConfig(server.base_url, "fake-model", batch=True), cache_dir=tmp_path)
        with pytest.MonkeyPatch.context() as patch:

            def stop(seconds):
                raise KeyboardInterrupt  # as a kill would, at the first wait for the batch

            patch.setattr("ragtune_core.llm.batch.time.sleep", stop)
            with pytest.raises(KeyboardInterrupt):
                generator.generate(chunks, 2)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("ragtune_core.llm.batch.time.sleep", lambda seconds: None)
            result = generator.generate(chunks, 2)
        assert server.batches.created == 1 and len(result.questions) == 10
        again = generator.generate(chunks, 2)  # now every chunk is in the per-chunk cache
        assert again.cached == 5 and again.usage.prompt_tokens == 0 and server.batches.created == 1
