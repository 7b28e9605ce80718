"""An OpenAI-compatible chat client: bounded concurrency, explicit retries, usage and cost.

Works with any endpoint that speaks the OpenAI API (OpenAI, Azure OpenAI's v1 API, Ollama, vLLM,
LM Studio): only the base URL, model and key change. The SDK's own retries are switched off so
that the policy here is the one that runs: retry 429s, 5xx and dropped connections with
exponential backoff and jitter, honouring (a capped) Retry-After; retry a timeout fewer times
(`timeout_retries`), since a hung server makes each attempt cost the whole timeout. Callers see
each wait (`on_wait`, or `report_waits` around code that calls this module).

Keys: the server's key (`$RAGTUNE_LLM_API_KEY`, else `$OPENAI_API_KEY`) goes only to the endpoint
the server is configured for (`$RAGTUNE_LLM_BASE_URL`, else `$OPENAI_BASE_URL`; unset: OpenAI's
API). Any other base URL gets only a key given with it: whoever can type a URL must not be able to
collect the server's key with it. The key is never serialized: `LLMConfig.to_public_dict()` leaves
it out, and a background job gets the key its launcher vetted through a job-only environment
variable (`LLMConfig.secret_env()`, taken up by the worker with `adopt_job_key`), never a file.
Base URLs are checked against the server's host allow-list (`ragtune_core.network`).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import os
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from email.utils import parsedate_to_datetime
from typing import Callable
from urllib.parse import urlsplit

import openai
import pydantic
from openai.types.chat import ChatCompletion

try:  # the HTTP library under the SDK: httpx2 in openai 4, httpx before
    import httpx2 as _http
except ImportError:  # pragma: no cover - an older SDK
    import httpx as _http

from ..network import HostNotAllowedError, allowed_hosts, check_allowed
from ..store.files import check_keys

API_KEY_ENV_VARS = ("RAGTUNE_LLM_API_KEY", "OPENAI_API_KEY")  # the server's key: the app's own variable wins
BASE_URL_ENV_VARS = ("RAGTUNE_LLM_BASE_URL", "OPENAI_BASE_URL")  # the endpoint the server's key is for
OPENAI_HOST = "api.openai.com"
OPENAI_BASE_URL = f"https://{OPENAI_HOST}/v1"
# Endpoints that need no key (local servers) still need a non-empty one for the SDK.
NO_KEY_PLACEHOLDER = "no-key"

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 20.0  # also the most a server's Retry-After can make us wait
RETRYABLE_STATUS = {408, 409, 429}  # plus every 5xx
# Answers after which every other request would fail the same way: stop sending them.
FATAL_STATUS = {401, 403, 404}
# What the network and the SDK raise for an answer that is not a chat completion; anything else is a bug
# of ours and surfaces.
MALFORMED_ERRORS = (json.JSONDecodeError, UnicodeDecodeError, pydantic.ValidationError,
                    openai.APIResponseValidationError, _http.HTTPError)

WaitCallback = Callable[[str], None]
_wait_reporter: contextvars.ContextVar[WaitCallback | None] = contextvars.ContextVar("llm_wait_reporter", default=None)
_job_key: str | None = None  # the key a worker was handed (adopt_job_key)


class LLMConfigError(ValueError):
    """An LLM setting that cannot work; the message names the field."""


class MalformedResponse(ValueError):
    """A 200 answer that is not a chat completion (a proxy's HTML page, no choices...)."""


# the server's endpoint and key ----------------------------------------------------------------
def server_base_url() -> str | None:
    """The endpoint the server's key is for: $RAGTUNE_LLM_BASE_URL, else $OPENAI_BASE_URL; None: OpenAI's API."""
    return next((os.environ[v].strip() for v in BASE_URL_ENV_VARS if os.environ.get(v, "").strip()), None)


def server_api_key() -> str | None:
    """The server's own key: $RAGTUNE_LLM_API_KEY, else $OPENAI_API_KEY."""
    return next((os.environ[v] for v in API_KEY_ENV_VARS if os.environ.get(v)), None)


def same_endpoint(a: str | None, b: str | None) -> bool:
    """Whether two base URLs name the same endpoint (None is OpenAI's API); scheme, host, port and path count."""
    return _endpoint_key(a) == _endpoint_key(b)


def _endpoint_key(url: str | None) -> tuple:
    parts = urlsplit((url or OPENAI_BASE_URL).strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").rstrip("."), port, parts.path.rstrip("/")


def adopt_job_key(key: str | None) -> None:
    """In a job's worker: use the key its launcher vetted for the job's endpoint (jobs.worker takes
    it out of $RAGTUNE_JOB_LLM_API_KEY), whatever endpoint the job's settings name."""
    global _job_key
    _job_key = key or None


def key_rule() -> str:
    """The key rule in one sentence, for help texts and error messages."""
    keys = " or ".join("$" + v for v in API_KEY_ENV_VARS)
    urls = " or ".join("$" + v for v in BASE_URL_ENV_VARS)
    return (f"the server's key ({keys}) is sent only to the endpoint it is configured for "
            f"({urls}; unset: OpenAI's API); any other endpoint needs its own key")


@dataclass
class LLMConfig:
    base_url: str | None  # None: OpenAI's own API
    model: str
    api_key: str | None = field(default=None, repr=False)
    max_concurrency: int = 8
    max_retries: int = 5  # retries of a 429, a 5xx or a dropped connection
    timeout: float = 60.0  # seconds one request may take
    timeout_retries: int = 1  # retries of a request that timed out (never more than max_retries)
    temperature: float | None = 0.7  # None: not sent (reasoning models accept only their default)
    price_per_1k_input: float | None = None
    price_per_1k_output: float | None = None

    def __post_init__(self) -> None:
        if not (self.model or "").strip():
            raise LLMConfigError("model: a model name is required")
        if self.base_url:
            self.base_url = self.base_url.strip().rstrip("/")
            if urlsplit(self.base_url).scheme not in ("http", "https") or not urlsplit(self.base_url).netloc:
                raise LLMConfigError(f"base_url: {self.base_url!r} is not an http(s) URL")
        else:
            self.base_url = None
        if self.max_concurrency < 1:
            raise LLMConfigError("max_concurrency: at least 1 request must be allowed in flight")
        if self.max_retries < 0:
            raise LLMConfigError("max_retries: cannot be negative")
        if self.timeout_retries < 0:
            raise LLMConfigError("timeout_retries: cannot be negative")
        if self.timeout <= 0:
            raise LLMConfigError("timeout: must be more than 0 seconds")
        try:  # the server's own endpoint is its administrator's choice: always allowed
            check_allowed(self.base_url or OPENAI_BASE_URL, "base_url", always=[server_base_url() or OPENAI_BASE_URL])
        except HostNotAllowedError as exc:
            raise LLMConfigError(str(exc)) from exc

    @property
    def is_openai(self) -> bool:
        return self.base_url is None or urlsplit(self.base_url).hostname == OPENAI_HOST

    @property
    def uses_server_endpoint(self) -> bool:
        """Whether this is the endpoint the server's key is for."""
        return same_endpoint(self.base_url, server_base_url())

    def resolved_api_key(self) -> str | None:
        """The key given; else, in a job's worker, the key its launcher handed over; else the server's
        key if this is the server's endpoint; else None (a local server that needs none)."""
        if self.api_key:
            return self.api_key
        if _job_key:
            return _job_key
        return server_api_key() if self.uses_server_endpoint else None

    def to_public_dict(self) -> dict:
        """Every setting but the API key: safe to store in run parameters and show."""
        data = asdict(self)
        del data["api_key"]
        return data

    @classmethod
    def from_public_dict(cls, data: dict) -> LLMConfig:
        if not isinstance(data, dict):
            raise LLMConfigError("the LLM settings must be an object")
        if "api_key" in data:
            raise LLMConfigError("api_key must not be stored with the settings: pass it in the environment")
        check_keys(data, (f.name for f in fields(cls)), "LLM settings", LLMConfigError)
        return cls(**data)

    def secret_env(self) -> dict[str, str]:
        """The environment that hands this config's key, vetted here, to a worker process (jobs.start_job):
        a job-only variable, which the worker takes up with `adopt_job_key`."""
        from ..jobs.runner import JOB_API_KEY_ENV

        key = self.resolved_api_key()
        return {JOB_API_KEY_ENV: key} if key else {}

    @property
    def timeout_retry_limit(self) -> int:
        return min(self.timeout_retries, self.max_retries)


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Completion:
    index: int  # position of the prompt in the list given to complete_many
    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 1
    # The answer's function calls, as sent: [{"name": ..., "arguments": "<JSON text>"}] (tool calling).
    tool_calls: list[dict] = field(default_factory=list)
    seconds: float = 0.0  # how long the answered request took (its last attempt)


@dataclass
class Failure:
    index: int
    message: str
    attempts: int = 1


Outcome = Completion | Failure


# clients --------------------------------------------------------------------------------------
def _client_kwargs(config: LLMConfig, timeout: float) -> dict:
    key = config.resolved_api_key()
    if not key and config.is_openai:
        raise LLMConfigError(f"api_key: OpenAI's API needs a key ({key_rule()})")
    return {"base_url": config.base_url, "api_key": key or NO_KEY_PLACEHOLDER, "timeout": timeout, "max_retries": 0}


def make_client(config: LLMConfig, timeout: float | None = None) -> openai.OpenAI:
    """A synchronous SDK client with the SDK's retries off (callers apply `retry_delay`)."""
    kwargs = _client_kwargs(config, timeout or config.timeout)
    if allowed_hosts() is not None:
        kwargs["http_client"] = openai.DefaultHttpxClient(follow_redirects=False)
    return openai.OpenAI(**kwargs)


def _async_client(client_kwargs: dict) -> openai.AsyncOpenAI:
    # With an allow-list, a redirect could lead past it: answers are taken as they come.
    if allowed_hosts() is not None:
        client_kwargs = {**client_kwargs, "http_client": openai.DefaultAsyncHttpxClient(follow_redirects=False)}
    return openai.AsyncOpenAI(**client_kwargs)


# retry policy ---------------------------------------------------------------------------------
def is_retryable(exc: Exception) -> bool:
    if isinstance(exc, (openai.APIConnectionError, _http.TransportError)):  # includes timeouts
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500)


def retry_after_seconds(exc: Exception) -> float | None:
    """The wait a server asked for (retry-after-ms, retry-after in seconds or as a date), if any."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    headers = response.headers
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        try:
            return max(0.0, float(headers[name]) / divisor)
        except (KeyError, TypeError, ValueError):
            continue
    try:
        return max(0.0, parsedate_to_datetime(headers["retry-after"]).timestamp() - time.time())
    except (KeyError, TypeError, ValueError):
        return None


def retry_delay(attempt: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
    """Seconds to wait before retry number `attempt` (0-based).

    A server's Retry-After is honoured but capped; a little jitter on top keeps requests limited
    together from coming back together. Without one: exponential backoff with jitter.
    """
    rng = rng or random
    if retry_after is not None:
        return min(retry_after, BACKOFF_CAP_S) * rng.uniform(1.0, 1.1)
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt) * rng.uniform(0.5, 1.0)


def _is_timeout(exc: Exception) -> bool:
    return isinstance(exc, (openai.APITimeoutError, _http.TimeoutException))


def describe_error(exc: Exception) -> str:
    if _is_timeout(exc):
        return "the request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"could not connect: {exc}"
    if isinstance(exc, _http.TransportError):
        return f"the connection failed ({type(exc).__name__}: {exc})"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {exc.message}"
    if isinstance(exc, MalformedResponse):
        return f"malformed response ({exc})"
    return f"malformed response ({type(exc).__name__}: {exc})"


def _short_reason(exc: Exception) -> str:
    if _is_timeout(exc):
        return "no answer in time"
    if isinstance(exc, (openai.APIConnectionError, _http.TransportError)):
        return "connection failed"
    if isinstance(exc, openai.APIStatusError):
        return "rate limited" if exc.status_code == 429 else f"HTTP {exc.status_code}"
    return type(exc).__name__


@contextmanager
def report_waits(callback: WaitCallback) -> Iterator[None]:
    """Within this block, every retry wait of `complete_many` (that has no `on_wait` of its own) is
    told to `callback` as "waiting for the server (HTTP 503), retry 2/5 in 8 s": a job's progress
    line can show it without every layer between passing a callback along."""
    token = _wait_reporter.set(callback)
    try:
        yield
    finally:
        _wait_reporter.reset(token)


# many completions at once -------------------------------------------------------------------------
def complete_many(config: LLMConfig, prompts: list[list[dict]], on_done: Callable[[Outcome], None] | None = None,
                  on_wait: WaitCallback | None = None, **request_options) -> list[Outcome]:
    """Send every prompt (a list of chat messages), at most `config.max_concurrency` in flight.

    Returns one Completion or Failure per prompt, in prompt order; `on_done` is called as each
    one finishes (from one thread, in finishing order), `on_wait` with a line for each retry wait
    (default: the `report_waits` callback in effect). A request waiting out a backoff gives its
    slot to another, so a 429 costs the run its wait only when nothing else is left to send.
    `request_options` (max_tokens, tools, response_format...) go to every request as they are.
    Network and endpoint faults become Failures; any other exception is a bug and is raised.
    """
    kwargs = _client_kwargs(config, config.timeout)  # fail on a missing key before any thread starts
    coroutine = _complete_all(config, kwargs, prompts, on_done, on_wait or _wait_reporter.get(), request_options)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from inside an event loop (a notebook): run ours on a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass
class _Run:
    """What the requests of one complete_many call share."""

    config: LLMConfig
    client: openai.AsyncOpenAI
    slots: asyncio.Semaphore
    on_wait: WaitCallback | None
    request_options: dict
    fatal: list[str] = field(default_factory=list)  # the first error that dooms every other request too
    answered: bool = False  # the endpoint has answered something (even an error) at least once
    stalled: bool = False  # a request timed out before the endpoint ever answered
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # answered, or doomed: stalled requests go on

    def mark_answered(self) -> None:
        self.answered = True
        self.settled.set()

    def doom(self, message: str) -> str:
        self.fatal.append(message)
        self.settled.set()
        return self.fatal[0]

    @property
    def is_stalled(self) -> bool:
        return self.stalled and not self.answered and not self.fatal

    async def take_slot(self, first_attempt: bool) -> None:
        """A slot for one request. While a request that timed out tries again and the endpoint has never
        answered, no prompt starts its first attempt: a hung server would cost every prompt its timeouts."""
        while True:
            if first_attempt and self.is_stalled:
                await self.settled.wait()
            await self.slots.acquire()
            if not (first_attempt and self.is_stalled):
                return
            self.slots.release()


async def _complete_all(config: LLMConfig, client_kwargs: dict, prompts: list[list[dict]],
                        on_done: Callable[[Outcome], None] | None, on_wait: WaitCallback | None,
                        request_options: dict) -> list[Outcome]:
    run = _Run(config, _async_client(client_kwargs), asyncio.Semaphore(config.max_concurrency), on_wait,
               request_options)

    async def one(index: int, messages: list[dict]) -> Outcome:
        outcome = await _complete_one(run, index, messages)
        if on_done:
            on_done(outcome)
        return outcome

    try:
        return list(await asyncio.gather(*(one(i, p) for i, p in enumerate(prompts))))
    finally:
        await run.client.close()


async def _complete_one(run: _Run, index: int, messages: list[dict]) -> Outcome:
    """One prompt, retried as the policy says: 429s, 5xx and dropped connections up to `max_retries`
    times, timeouts up to `timeout_retry_limit` times. A server that has never answered and keeps
    timing out dooms the other requests too: they would each wait out the same timeouts."""
    config, rng = run.config, random.Random(index)
    retries = timeouts = 0
    attempts = 0
    while True:
        await run.take_slot(first_attempt=not attempts)
        try:
            try:  # the slot is held for the request only, never during a backoff
                if run.fatal:
                    return Failure(index, run.fatal[0], attempts)
                attempts += 1
                sent = time.perf_counter()
                response = await run.client.chat.completions.create(
                    model=config.model, messages=messages, **_sampling(config), **run.request_options)
            finally:
                run.slots.release()
            run.mark_answered()
            return _completion(index, response, attempts, time.perf_counter() - sent)
        except openai.APIStatusError as exc:
            run.mark_answered()
            if exc.status_code in FATAL_STATUS:
                return Failure(index, run.doom(describe_error(exc)), attempts)
            if not is_retryable(exc):
                return Failure(index, describe_error(exc), attempts)
            error = exc
        except (openai.APIConnectionError, _http.TransportError) as exc:  # timeouts included
            error = exc
        except (MalformedResponse, *MALFORMED_ERRORS) as exc:  # this answer failed, not the run
            run.mark_answered()
            return Failure(index, describe_error(exc), attempts)
        timed_out = _is_timeout(error)
        if timed_out and not run.answered:
            run.stalled = True
        used, limit = (timeouts, config.timeout_retry_limit) if timed_out else (retries, config.max_retries)
        if used >= limit:
            message = f"gave up after {attempts} attempts: {describe_error(error)}"
            if timed_out and not run.answered:
                return Failure(index, run.doom(
                    f"{message} (the server has not answered any request within {config.timeout:g} s)"), attempts)
            return Failure(index, message, attempts)
        delay = retry_delay(used, retry_after_seconds(error), rng)
        if run.on_wait:
            seconds = f"{delay:.0f}" if delay >= 10 else f"{delay:.1f}"
            run.on_wait(f"waiting for the server ({_short_reason(error)}), retry {used + 1}/{limit} in {seconds} s")
        if timed_out:
            timeouts += 1
        else:
            retries += 1
        await asyncio.sleep(delay)


def _sampling(config: LLMConfig) -> dict:
    return {} if config.temperature is None else {"temperature": config.temperature}


def _completion(index: int, response, attempts: int, seconds: float = 0.0) -> Completion:
    """The answer's text and usage; MalformedResponse for a 200 that is not a chat completion (the SDK
    hands back a non-JSON body as text, and builds its models from JSON without validating them)."""
    if not isinstance(response, ChatCompletion):
        raise MalformedResponse(f"not a chat completion: {_excerpt(response)}")
    choices = response.choices
    if not isinstance(choices, list) or not choices:
        raise MalformedResponse("the completion has no choices")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if message is None or not isinstance(content, (str, type(None))):
        raise MalformedResponse("the completion's first choice has no message text")
    usage = response.usage
    return Completion(index=index, content=content or "",
                      prompt_tokens=_token_count(usage, "prompt_tokens"),
                      completion_tokens=_token_count(usage, "completion_tokens"),
                      attempts=attempts, tool_calls=_tool_calls(message), seconds=seconds)


def _tool_calls(message) -> list[dict]:
    """The message's function calls as {"name", "arguments"}; a call without a function is kept nameless."""
    calls = getattr(message, "tool_calls", None) or []
    functions = [getattr(call, "function", None) for call in calls]
    return [{"name": getattr(f, "name", None), "arguments": getattr(f, "arguments", None)} for f in functions]


def _token_count(usage, name: str) -> int:
    value = getattr(usage, name, 0) if usage is not None else 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _excerpt(value, limit: int = 80) -> str:
    text = " ".join(str(value).split())
    return repr(text if len(text) <= limit else text[:limit] + "...")
