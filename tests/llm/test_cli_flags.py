"""The LLM flags of the CLI: endpoint, key variable, timeout and retries; waits shown on stderr."""

import json
import time

import pytest

from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.questions.qa_dataset import save_dataset
from tests.fake_openai import FakeOpenAIServer
from tests.routing.test_compare import router_dataset

QUERY = "When is the IRS deadline for filing taxes?"


pytestmark = pytest.mark.usefixtures("plain_llm_environment")


@pytest.fixture
def tools(workspace):
    return save_dataset(workspace, "tools", router_dataset(), None, {})


def test_route_gives_up_on_a_hung_server_as_the_flags_say(tools, run_cli):
    with FakeOpenAIServer(fault="hang", hang_seconds=5) as server:
        start = time.monotonic()
        code, out, err = run_cli(
            "route",
            "tools",
            QUERY,
            "--llm-base-url",
            server.base_url,
            "--llm-model",
            "m",
            "--llm-timeout",
            "0.3",
            "--llm-retries",
            "3",
        )
        elapsed = time.monotonic() - start
        requests = server.chat_requests
    assert code == 0, err
    [pick] = json.loads(out)["picks"]
    assert pick["pick"] == "— failed" and "gave up after 2 attempts: the request timed out" in pick["reason"]
    assert requests == 2 and elapsed < 3.0  # one timeout retried once, whatever --llm-retries allows for 429s
    assert "route: waiting for the server (no answer in time), retry 1/1 in" in err


def test_the_server_key_is_not_sent_to_a_flagged_url_but_a_named_variable_is(tools, run_cli, monkeypatch):
    monkeypatch.setenv("RAGTUNE_LLM_API_KEY", "sk-server-secret")
    monkeypatch.setenv("MY_ENDPOINT_KEY", "sk-for-this-endpoint")
    with FakeOpenAIServer() as server:
        assert run_cli("route", "tools", QUERY, "--llm-base-url", server.base_url, "--llm-model", "m")[0] == 0
        assert (
            run_cli(
                "route",
                "tools",
                QUERY,
                "--llm-base-url",
                server.base_url,
                "--llm-model",
                "m",
                "--llm-api-key-env",
                "MY_ENDPOINT_KEY",
            )[0]
            == 0
        )
        monkeypatch.setenv("RAGTUNE_LLM_BASE_URL", server.base_url)
        assert run_cli("route", "tools", QUERY, "--llm-model", "m")[0] == 0  # the default: the server's endpoint
    assert [r.authorization for r in server.requests] == [
        "Bearer no-key",
        "Bearer sk-for-this-endpoint",
        "Bearer sk-server-secret",
    ]
    code, out, err = run_cli("route", "tools", QUERY, "--llm-model", "m", "--llm-api-key-env", "UNSET_VARIABLE")
    assert code == 2 and "--llm-api-key-env: $UNSET_VARIABLE is not set" in err


def test_generate_takes_timeout_and_retries(workspace, run_cli):
    text = "Berlin is the capital of Germany. It has many museums and a famous television tower."
    save_corpus(
        workspace, "tiny", [Document("berlin", "Berlin", "text:berlin", text)], [Chunk("berlin#0", "berlin", text)], {}
    )
    with FakeOpenAIServer(fault="hang", hang_seconds=5) as server:
        start = time.monotonic()
        code, out, err = run_cli(
            "generate",
            "--corpus",
            "tiny",
            "--name",
            "qs",
            "--generator",
            "llm",
            "--base-url",
            server.base_url,
            "--model",
            "m",
            "--timeout",
            "0.3",
            "--retries",
            "0",
        )
        elapsed = time.monotonic() - start
    assert server.chat_requests == 1 and elapsed < 3.0, (code, out, err)
    assert "timed out" in err + out
