"""A run stopped while its batch is out cancels the batch at the provider, and started again sends
only the lines that batch did not run."""

import json

import pytest

from ragtune_core.llm.batch import cancel_batches_in_flight, complete_in_batch
from ragtune_core.llm.client import Completion
from ragtune_core.llm.config import LLMConfig
from tests.fake_openai import FakeOpenAIServer

pytestmark = pytest.mark.usefixtures("plain_llm_environment")


def _prompts(n: int) -> list[list[dict]]:
    return [[{"role": "user", "content": f"prompt {i}"}] for i in range(n)]


class Stopped(Exception):
    """What a job's SIGTERM raises where it was waiting (SystemExit there)."""


def test_a_stopped_run_cancels_its_batch_and_resumed_sends_only_what_it_did_not_run(tmp_path):
    state = tmp_path / "state.json"
    stops = []

    def stop_at_first_wait(seconds):
        stops.append(cancel_batches_in_flight())
        raise Stopped

    with FakeOpenAIServer(batches=True) as server:
        config = LLMConfig(server.base_url, "fake-model", batch=True)
        with pytest.raises(Stopped):
            complete_in_batch(config, _prompts(6), state, poll_seconds=0, sleep=stop_at_first_wait)
        assert stops == [{"batch_1": "cancelled"}]
        assert cancel_batches_in_flight() == {}  # the stopped call is no longer in flight
        assert json.loads(state.read_text())["batch"]["stopped"] is True
        outcomes = complete_in_batch(config, _prompts(6), state, poll_seconds=0, sleep=lambda s: None)
        first, second = server.batches.batches["batch_1"], server.batches.batches["batch_2"]
        resent = server.ft.files[second["input_file_id"]]["content"].decode().splitlines()
    assert first["status"] == "cancelled"
    assert all(isinstance(o, Completion) for o in outcomes)
    # batch_1 ran the first half before it was cancelled: only the other half is paid for again
    assert [json.loads(line)["body"]["messages"][0]["content"] for line in resent] == [
        "prompt 3",
        "prompt 4",
        "prompt 5",
    ]
    assert [o.attempts for o in outcomes] == [1, 1, 1, 2, 2, 2]


def test_a_batch_not_yet_created_is_left_to_the_resumed_run(tmp_path):
    state = tmp_path / "state.json"
    with FakeOpenAIServer(batches=True) as server:
        config = LLMConfig(server.base_url, "fake-model", batch=True)
        real_create = server.batches.create
        seen = []

        def create_after_a_stop(body):
            seen.append(cancel_batches_in_flight())  # the file is uploaded, the batch not yet created
            return real_create(body)

        server.batches.create = create_after_a_stop
        outcomes = complete_in_batch(config, _prompts(2), state, poll_seconds=0, sleep=lambda s: None)
    assert seen == [{}] and all(isinstance(o, Completion) for o in outcomes)
