import random
import socket
import time
from types import SimpleNamespace

import pytest

from ragtune_core import jobs, llm
from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.llm import client as llm_client
from ragtune_core.llm.client import Completion, Failure, complete_many, report_waits
from ragtune_core.llm.config import JOB_API_KEY_ENV, LLMConfig, LLMConfigError
from ragtune_core.network import ALLOWED_HOSTS_ENV
from ragtune_core.questions.generation import GenerationRequest
from tests.fake_openai import FakeOpenAIServer

pytestmark = pytest.mark.usefixtures("plain_llm_environment")


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


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"base_url": "ftp://example.org", "model": "m"}, "base_url"),
        ({"base_url": None, "model": " "}, "model"),
        ({"base_url": None, "model": "m", "max_concurrency": 0}, "max_concurrency"),
        ({"base_url": None, "model": "m", "timeout": 0}, "timeout"),
    ],
)
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
    # A worker's key travels in a job-only variable, which the worker does not read as the server's key.
    assert LLMConfig(None, "m").secret_env() == {JOB_API_KEY_ENV: "sk-openai"}


# the server's key goes only to the server's endpoint ---------------------------------------------
def test_the_server_key_is_not_sent_to_a_typed_url(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server-secret")
    with FakeOpenAIServer() as collector:
        config = _config(collector)
        assert config.resolved_api_key() is None and config.secret_env() == {}
        complete_many(config, _prompts(1))
        typed = complete_many(_config(collector, api_key="sk-typed"), _prompts(1))
    assert isinstance(typed[0], Completion)
    assert [r.authorization for r in collector.requests] == [f"Bearer {llm.NO_KEY_PLACEHOLDER}", "Bearer sk-typed"]
    # OpenAI's API is the server's endpoint when none is configured: the key goes there, by any spelling.
    for url in (None, "https://api.openai.com/v1", "https://API.openai.com:443/v1/"):
        assert LLMConfig(url, "gpt-4o-mini").resolved_api_key() == "sk-server-secret", url
    assert LLMConfig("https://api.openai.com.evil.example/v1", "m").resolved_api_key() is None
    assert LLMConfig("http://api.openai.com/v1", "m").resolved_api_key() is None  # not the same endpoint


def test_the_server_key_goes_to_the_configured_endpoint_only(monkeypatch):
    monkeypatch.setenv("RAGTUNE_LLM_API_KEY", "sk-server-secret")
    with FakeOpenAIServer() as configured, FakeOpenAIServer() as other:
        monkeypatch.setenv("OPENAI_BASE_URL", configured.base_url + "/")
        assert llm.server_base_url() == configured.base_url + "/"
        complete_many(_config(configured), _prompts(1))
        complete_many(_config(other), _prompts(1))
        assert LLMConfig(None, "gpt-4o-mini").resolved_api_key() is None  # OpenAI is not the configured endpoint
    assert {r.authorization for r in configured.requests} == {"Bearer sk-server-secret"}
    assert {r.authorization for r in other.requests} == {f"Bearer {llm.NO_KEY_PLACEHOLDER}"}


def test_same_endpoint_compares_scheme_host_port_and_path():
    assert llm.same_endpoint(None, "https://api.openai.com/v1/")
    assert llm.same_endpoint("http://Localhost:80/v1", "http://localhost/v1")
    assert not llm.same_endpoint("http://localhost:8000/v1", "http://localhost:8001/v1")
    assert not llm.same_endpoint("http://localhost/v1", "http://localhost/other/v1")
    assert not llm.same_endpoint("http://localhost/v1", "https://localhost/v1")


def _tiny_corpus(workspace):
    text = "Berlin is the capital of Germany. It has many museums and a famous television tower."
    document = Document("berlin", "Berlin", "text:berlin", text)
    return save_corpus(workspace, "tiny", [document], [Chunk("berlin#0", "berlin", text)], {})


def _run_generation_job(workspace, config: LLMConfig, corpus_id: str) -> jobs.JobStatus:
    request = GenerationRequest(corpus_id, n_per_chunk=1, generator="llm", llm=config)
    status = jobs.start_job(workspace, "generate_questions", request.to_params(), secret_env=config.secret_env())
    return jobs.wait(workspace, status.run_id, timeout=120)


def test_a_job_gets_the_key_its_launcher_vetted_and_no_other(workspace, monkeypatch):
    corpus = _tiny_corpus(workspace)
    monkeypatch.setenv("RAGTUNE_LLM_API_KEY", "sk-server-secret")
    # A job-only variable in the launcher's own environment is never passed on.
    monkeypatch.setenv(JOB_API_KEY_ENV, "sk-stray")
    with FakeOpenAIServer() as typed_url:
        # A typed URL and a typed key: the worker uses the typed key although the server has one of its own.
        final = _run_generation_job(workspace, _config(typed_url, api_key="sk-typed-for-this-url"), corpus.id)
        assert final.state == "succeeded", final.error
        # A typed URL without a key: the worker sends none, as the launcher would (another model: no cache hit).
        final = _run_generation_job(workspace, LLMConfig(typed_url.base_url, "other-model"), corpus.id)
        assert final.state == "succeeded", final.error
        with FakeOpenAIServer() as configured:
            monkeypatch.setenv("RAGTUNE_LLM_BASE_URL", configured.base_url)
            final = _run_generation_job(workspace, _config(configured), corpus.id)  # the server's own endpoint
            assert final.state == "succeeded", final.error
    assert [r.authorization for r in typed_url.requests] == [
        "Bearer sk-typed-for-this-url",
        f"Bearer {llm.NO_KEY_PLACEHOLDER}",
    ]
    assert [r.authorization for r in configured.requests] == ["Bearer sk-server-secret"]
    for path in workspace.root.rglob("*"):
        if path.is_file():
            for secret in (b"sk-server-secret", b"sk-typed-for-this-url", b"sk-stray"):
                assert secret not in path.read_bytes(), (secret, path)


def test_a_job_refuses_secret_variables_other_than_the_job_key(workspace):
    with pytest.raises(ValueError, match="secret_env may set only RAGTUNE_JOB_LLM_API_KEY, not OPENAI_API_KEY"):
        jobs.start_job(workspace, "sleep", {"steps": 1}, secret_env={"OPENAI_API_KEY": "sk-x"})
    assert workspace.list_runs() == []


# the host allow-list ------------------------------------------------------------------------------
def test_base_urls_are_checked_against_the_allow_list(monkeypatch):
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "localhost, *.example.org")
    assert LLMConfig("http://localhost:11434/v1", "llama3").base_url == "http://localhost:11434/v1"
    assert LLMConfig("https://llm.example.org/v1", "m").base_url
    assert LLMConfig(None, "gpt-4o-mini").base_url is None  # the server's endpoint (OpenAI's API) is always allowed
    for url, host in [
        ("http://169.254.169.254/v1", "169.254.169.254"),
        ("http://example.org.evil.test/v1", "example.org.evil.test"),
    ]:
        with pytest.raises(LLMConfigError) as refused:
            LLMConfig(url, "m")
        assert f"may not contact {host}" in str(refused.value) and ALLOWED_HOSTS_ENV in str(refused.value)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://10.0.0.5:8000/v1")
    assert LLMConfig("http://10.0.0.5:8000/v1", "m").base_url  # the configured endpoint is allowed
    with pytest.raises(LLMConfigError, match="api.openai.com"):
        LLMConfig(None, "gpt-4o-mini")  # no longer the server's endpoint, and not listed
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, " ")
    assert LLMConfig("http://169.254.169.254/v1", "m").base_url  # unset or empty: anything goes


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


@pytest.mark.parametrize(
    "fault, message",
    [
        ("truncated_json", "malformed response (JSONDecodeError"),
        ("html", "malformed response ({url}/chat/completions answered in another shape: not a JSON object but '<html>"),
        (
            "empty_choices",
            "malformed response ({url}/chat/completions answered in another shape: choices: List should "
            "have at least 1 item",
        ),
    ],
)
def test_a_broken_body_fails_its_prompt_once(fault, message):
    with FakeOpenAIServer(fault=fault) as server:
        outcomes = complete_many(_config(server, max_concurrency=2), _prompts(3))
        message = message.format(url=server.base_url)
    assert all(isinstance(o, Failure) and o.message.startswith(message) and o.attempts == 1 for o in outcomes), outcomes
    assert server.chat_requests == 3


def test_a_reset_connection_is_retried():
    with FakeOpenAIServer(fault="reset", fault_count=2, retry_after=None) as server:
        outcomes = complete_many(_config(server, max_concurrency=1), _prompts(2))
    assert all(isinstance(o, Completion) for o in outcomes)
    assert [o.attempts for o in outcomes] == [2, 2]  # the second took the slot the first gave up to back off
    assert server.faults == 2 and server.chat_requests == 4


def test_a_hung_server_costs_few_timeouts_and_says_it_is_waiting():
    waits = []
    with FakeOpenAIServer(fault="hang", hang_seconds=5) as server:
        config = _config(server, timeout=0.3, max_retries=5, timeout_retries=1, max_concurrency=2)
        start = time.monotonic()
        outcomes = complete_many(config, _prompts(20), on_wait=waits.append)
        elapsed = time.monotonic() - start
    # Two timeouts for the requests in flight shrink the window to one; no other request starts while it tries
    # again, and a server that never answered dooms the rest: three timeouts in all, not twenty prompts' worth.
    assert elapsed < 3.0, elapsed
    assert server.chat_requests == 3
    assert all(isinstance(o, Failure) for o in outcomes)
    assert "gave up after 2 attempts: the request timed out" in outcomes[0].message
    assert all("has not answered any request within 0.3 s" in o.message for o in outcomes)
    assert (
        waits[0]
        == f"waiting for the first answer from {server.base_url} (fake-model; given up after 0.3 s without one)"
    )
    assert waits[1:] and all(
        w.startswith("waiting for the server (no answer in time), retry 1/1 in ") for w in waits[1:]
    )


def test_a_timeout_after_the_server_answered_fails_only_its_prompt():
    def slow_on_the_second(request):
        if request["messages"][0]["content"].endswith("1"):
            time.sleep(1.0)
        return "Why?"

    with FakeOpenAIServer(responder=slow_on_the_second) as server:
        outcomes = complete_many(_config(server, timeout=0.3, timeout_retries=0, max_concurrency=1), _prompts(3))
    assert [type(o) for o in outcomes] == [Completion, Failure, Completion]
    assert outcomes[1].message == "gave up after 1 attempts: the request timed out"


def test_waits_reach_the_reporter_in_effect():
    waits = []
    with FakeOpenAIServer(rate_limit_every=1, retry_after=0.01) as server, report_waits(waits.append):
        [outcome] = complete_many(_config(server, max_retries=2), _prompts(1))
    assert isinstance(outcome, Failure)
    assert [w.split(" in ")[0] for w in waits[1:]] == [
        "waiting for the server (rate limited), retry 1/2",
        "waiting for the server (rate limited), retry 2/2",
    ]
    with FakeOpenAIServer(rate_limit_every=1, retry_after=0.01) as server:
        complete_many(_config(server, max_retries=1), _prompts(1))
    assert len(waits) == 3  # outside the block, nobody is told


def test_our_own_bugs_surface_instead_of_passing_for_a_malformed_response(monkeypatch):
    def broken(config, messages, request_options):
        raise KeyError("a bug of ours")

    monkeypatch.setattr(llm_client, "chat_request", broken)
    with FakeOpenAIServer() as server, pytest.raises(KeyError, match="a bug of ours"):
        complete_many(_config(server), _prompts(2))


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
