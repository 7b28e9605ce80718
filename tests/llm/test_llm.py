import random
import socket
import time
from types import SimpleNamespace

import pytest

from tests.fake_openai import FakeOpenAIServer
from ragtune_core import llm
from ragtune_core.llm.client import Completion, Failure, LLMConfig, LLMConfigError, complete_many


def _prompts(n: int) -> list[list[dict]]:
    return [[{"role": "user", "content": f"prompt number {i}"}] for i in range(n)]


def _config(server: FakeOpenAIServer, **overrides) -> LLMConfig:
    return LLMConfig(base_url=server.base_url, model="fake-model", **overrides)


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


# configuration --------------------------------------------------------------------------------
def test_api_key_is_never_serialized_or_shown():
    config = LLMConfig(base_url="http://localhost:11434/v1/", model="llama3", api_key="sk-very-secret")
    public = config.to_public_dict()
    assert "api_key" not in public and "sk-very-secret" not in str(public)
    assert "sk-very-secret" not in repr(config)
    assert public["base_url"] == "http://localhost:11434/v1"  # trailing slash normalised
    assert LLMConfig.from_public_dict(public) == LLMConfig(**{**public, "api_key": None})


def test_public_dict_refuses_a_key_and_unknown_fields():
    with pytest.raises(LLMConfigError, match="api_key"):
        LLMConfig.from_public_dict({"base_url": None, "model": "m", "api_key": "sk-x"})
    with pytest.raises(LLMConfigError, match="temprature"):
        LLMConfig.from_public_dict({"base_url": None, "model": "m", "temprature": 0.2})


@pytest.mark.parametrize("kwargs, field", [
    ({"base_url": "ftp://example.org", "model": "m"}, "base_url"),
    ({"base_url": None, "model": " "}, "model"),
    ({"base_url": None, "model": "m", "max_concurrency": 0}, "max_concurrency"),
    ({"base_url": None, "model": "m", "timeout": 0}, "timeout"),
])
def test_bad_settings_name_their_field(kwargs, field):
    with pytest.raises(LLMConfigError, match=field):
        LLMConfig(**kwargs)


def test_key_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("RAGTUNE_LLM_API_KEY", "sk-ragtune")
    assert LLMConfig(None, "m", api_key="sk-arg").resolved_api_key() == "sk-arg"
    assert LLMConfig(None, "m").resolved_api_key() == "sk-ragtune"
    monkeypatch.delenv("RAGTUNE_LLM_API_KEY")
    assert LLMConfig(None, "m").resolved_api_key() == "sk-openai"
    assert LLMConfig(None, "m").secret_env() == {"RAGTUNE_LLM_API_KEY": "sk-openai"}


def test_openai_without_a_key_fails_before_any_request(monkeypatch):
    for name in llm.API_KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(LLMConfigError, match="key"):
        complete_many(LLMConfig(None, "gpt-4o-mini"), _prompts(1))


# requests, retries, failures --------------------------------------------------------------------
def test_answers_come_back_in_prompt_order_with_usage_and_the_key_sent():
    with FakeOpenAIServer(responder=lambda req: "answer to " + req["messages"][0]["content"], latency=0.05) as server:
        done = []
        outcomes = complete_many(_config(server, api_key="sk-abc"), _prompts(6), on_done=lambda o: done.append(o.index))
    assert [o.content for o in outcomes] == [f"answer to prompt number {i}" for i in range(6)]
    assert sorted(done) == list(range(6))
    assert sum(o.completion_tokens for o in outcomes) == sum(len(o.content) // 4 for o in outcomes) > 0
    assert {r.authorization for r in server.requests} == {"Bearer sk-abc"}


def test_429s_are_retried_until_every_prompt_succeeds():
    with FakeOpenAIServer(rate_limit_every=3, retry_after=0.05) as server:
        outcomes = complete_many(_config(server, max_concurrency=4), _prompts(10))
    assert all(isinstance(o, Completion) for o in outcomes)
    assert server.rate_limited >= 3
    assert sum(o.attempts - 1 for o in outcomes) == server.rate_limited


def test_retry_after_is_honoured():
    with FakeOpenAIServer(rate_limit_every=2, retry_after=0.3) as server:
        outcomes = complete_many(_config(server, max_concurrency=1), _prompts(2))
    assert [o.attempts for o in outcomes] == [1, 2]
    limited, retried = server.requests[1], server.requests[2]
    assert limited.status == 429 and retried.body == limited.body
    assert retried.time - limited.time >= 0.3


def test_server_errors_are_retried_with_backoff():
    with FakeOpenAIServer(server_error_every=2, retry_after=None) as server:
        outcomes = complete_many(_config(server, max_concurrency=1), _prompts(3))
    assert all(isinstance(o, Completion) for o in outcomes)
    assert server.server_errors >= 1


def test_timeouts_are_retried():
    calls = []

    def slow_first(request):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(1.5)
        return "Is this fine?"

    with FakeOpenAIServer(responder=slow_first) as server:
        [outcome] = complete_many(_config(server, timeout=0.4), _prompts(1))
    assert isinstance(outcome, Completion) and outcome.attempts == 2


def test_gives_up_after_max_retries_with_the_reason():
    with FakeOpenAIServer(rate_limit_every=1, retry_after=0.01) as server:
        [outcome] = complete_many(_config(server, max_retries=2), _prompts(1))
    assert isinstance(outcome, Failure)
    assert "gave up after 3 attempts" in outcome.message and "429" in outcome.message
    assert server.rate_limited == 3


def test_malformed_answers_are_failures_or_empty_not_crashes():
    with FakeOpenAIServer(malformed_fraction=1.0) as server:
        outcomes = complete_many(_config(server, max_concurrency=1), _prompts(3))
    assert isinstance(outcomes[0], Completion) and outcomes[0].content == ""
    assert isinstance(outcomes[1], Completion) and "?" not in outcomes[1].content
    assert isinstance(outcomes[2], Failure) and "malformed response" in outcomes[2].message


def test_concurrency_bound_is_respected():
    with FakeOpenAIServer(latency=0.2) as server:
        outcomes = complete_many(_config(server, max_concurrency=3), _prompts(12))
    assert all(isinstance(o, Completion) for o in outcomes)
    assert server.max_in_flight == 3


def test_an_error_that_dooms_every_request_stops_the_run():
    with FakeOpenAIServer() as server:
        config = LLMConfig(base_url=server.base_url + "/wrong", model="fake-model", max_concurrency=2)
        outcomes = complete_many(config, _prompts(20))
    assert all(isinstance(o, Failure) and "HTTP 404" in o.message for o in outcomes)
    assert len(server.requests) <= 2


# policy and estimates ---------------------------------------------------------------------------
def test_retry_delay_grows_is_capped_and_honours_retry_after():
    rng = random.Random(0)
    delays = [llm.retry_delay(a, rng=rng) for a in range(10)]
    assert llm.BACKOFF_BASE_S * 0.5 <= delays[0] <= llm.BACKOFF_BASE_S
    assert delays[3] > delays[0]
    assert max(delays) <= llm.BACKOFF_CAP_S
    assert 2.0 <= llm.retry_delay(0, retry_after=2.0, rng=rng) <= 2.2
    assert llm.retry_delay(0, retry_after=3600, rng=rng) <= llm.BACKOFF_CAP_S * 1.1


def test_retry_after_header_forms():
    def exc(headers):
        return SimpleNamespace(response=SimpleNamespace(headers=headers))

    assert llm.retry_after_seconds(exc({"retry-after-ms": "250", "retry-after": "1"})) == 0.25
    assert llm.retry_after_seconds(exc({"retry-after": "2"})) == 2.0
    assert 0 <= llm.retry_after_seconds(exc({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) < 1
    assert llm.retry_after_seconds(exc({})) is None
    assert llm.retry_after_seconds(Exception("no response")) is None


def test_token_and_cost_estimates():
    assert llm.estimate_tokens(["abcd" * 10, "ab"]) == 11
    mini = LLMConfig(None, "gpt-4o-mini-2024-07-18")
    assert llm.estimate_cost(mini, 1000, 1000) == pytest.approx(0.00015 + 0.0006)  # not priced as gpt-4o
    assert llm.estimate_cost(LLMConfig("http://localhost:11434/v1", "llama3"), 1000, 1000) is None
    priced = LLMConfig("http://localhost:8000/v1", "llama3", price_per_1k_input=0.001, price_per_1k_output=0.002)
    assert llm.estimate_cost(priced, 2000, 500) == pytest.approx(0.003)


