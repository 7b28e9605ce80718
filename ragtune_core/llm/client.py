"""An OpenAI-compatible chat client: bounded concurrency, explicit retries, usage and cost.

Works with any endpoint that speaks the OpenAI API (OpenAI, Azure OpenAI's v1 API, Ollama, vLLM,
LM Studio): only the base URL, model and key change. The SDK's own retries are switched off so
that the policy here is the one that runs: retry 429s, 5xx, timeouts and dropped connections with
exponential backoff and jitter, honouring (a capped) Retry-After.

The API key is never serialized: `LLMConfig.to_public_dict()` leaves it out, and a background job
gets it through its environment (`LLMConfig.secret_env()`), never through a file.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from email.utils import parsedate_to_datetime
from typing import Callable
from urllib.parse import urlparse

import openai

from ..store.files import check_keys

API_KEY_ENV_VARS = ("RAGTUNE_LLM_API_KEY", "OPENAI_API_KEY")  # the app's own variable wins
OPENAI_HOST = "api.openai.com"
# Endpoints that need no key (local servers) still need a non-empty one for the SDK.
NO_KEY_PLACEHOLDER = "no-key"

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 20.0  # also the most a server's Retry-After can make us wait
RETRYABLE_STATUS = {408, 409, 429}  # plus every 5xx
# Answers after which every other request would fail the same way: stop sending them.
FATAL_STATUS = {401, 403, 404}


class LLMConfigError(ValueError):
    """An LLM setting that cannot work; the message names the field."""


@dataclass
class LLMConfig:
    base_url: str | None  # None: OpenAI's own API
    model: str
    api_key: str | None = field(default=None, repr=False)
    max_concurrency: int = 8
    max_retries: int = 5
    timeout: float = 60.0
    temperature: float | None = 0.7  # None: not sent (reasoning models accept only their default)
    price_per_1k_input: float | None = None
    price_per_1k_output: float | None = None

    def __post_init__(self) -> None:
        if not (self.model or "").strip():
            raise LLMConfigError("model: a model name is required")
        if self.base_url:
            self.base_url = self.base_url.strip().rstrip("/")
            if urlparse(self.base_url).scheme not in ("http", "https") or not urlparse(self.base_url).netloc:
                raise LLMConfigError(f"base_url: {self.base_url!r} is not an http(s) URL")
        else:
            self.base_url = None
        if self.max_concurrency < 1:
            raise LLMConfigError("max_concurrency: at least 1 request must be allowed in flight")
        if self.max_retries < 0:
            raise LLMConfigError("max_retries: cannot be negative")
        if self.timeout <= 0:
            raise LLMConfigError("timeout: must be more than 0 seconds")

    @property
    def is_openai(self) -> bool:
        return self.base_url is None or urlparse(self.base_url).hostname == OPENAI_HOST

    def resolved_api_key(self) -> str | None:
        """The key given, else the first set of $RAGTUNE_LLM_API_KEY, $OPENAI_API_KEY."""
        return self.api_key or next((os.environ[v] for v in API_KEY_ENV_VARS if os.environ.get(v)), None)

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
        """The environment that hands this config's key to a worker process (jobs.start_job)."""
        key = self.resolved_api_key()
        return {"RAGTUNE_LLM_API_KEY": key} if key else {}


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
        raise LLMConfigError(
            f"api_key: OpenAI's API needs a key; set {' or '.join('$' + v for v in API_KEY_ENV_VARS)}")
    return {"base_url": config.base_url, "api_key": key or NO_KEY_PLACEHOLDER, "timeout": timeout, "max_retries": 0}


def make_client(config: LLMConfig, timeout: float | None = None) -> openai.OpenAI:
    """A synchronous SDK client with the SDK's retries off (callers apply `retry_delay`)."""
    return openai.OpenAI(**_client_kwargs(config, timeout or config.timeout))


# retry policy ---------------------------------------------------------------------------------
def is_retryable(exc: Exception) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # includes timeouts
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


def describe_error(exc: Exception) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "the request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"could not connect: {exc}"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {exc.message}"
    return f"malformed response ({type(exc).__name__}: {exc})"


# many completions at once -------------------------------------------------------------------------
def complete_many(config: LLMConfig, prompts: list[list[dict]], on_done: Callable[[Outcome], None] | None = None,
                  **request_options) -> list[Outcome]:
    """Send every prompt (a list of chat messages), at most `config.max_concurrency` in flight.

    Returns one Completion or Failure per prompt, in prompt order; `on_done` is called as each
    one finishes (from one thread, in finishing order). A request waiting out a backoff gives its
    slot to another, so a 429 costs the run its wait only when nothing else is left to send.
    `request_options` (max_tokens, tools, response_format...) go to every request as they are.
    """
    kwargs = _client_kwargs(config, config.timeout)  # fail on a missing key before any thread starts
    coroutine = _complete_all(config, kwargs, prompts, on_done, request_options)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # Called from inside an event loop (a notebook): run ours on a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def _complete_all(config: LLMConfig, client_kwargs: dict, prompts: list[list[dict]],
                        on_done: Callable[[Outcome], None] | None, request_options: dict) -> list[Outcome]:
    client = openai.AsyncOpenAI(**client_kwargs)
    slots = asyncio.Semaphore(config.max_concurrency)
    fatal: list[str] = []  # the first error that dooms every other request too

    async def one(index: int, messages: list[dict]) -> Outcome:
        outcome = await _complete_one(client, config, slots, fatal, index, messages, request_options)
        if on_done:
            on_done(outcome)
        return outcome

    try:
        return list(await asyncio.gather(*(one(i, p) for i, p in enumerate(prompts))))
    finally:
        await client.close()


async def _complete_one(client: openai.AsyncOpenAI, config: LLMConfig, slots: asyncio.Semaphore, fatal: list[str],
                        index: int, messages: list[dict], request_options: dict) -> Outcome:
    rng = random.Random(index)
    for attempt in range(config.max_retries + 1):
        try:
            async with slots:  # held for the request only, never during a backoff
                if fatal:
                    return Failure(index, fatal[0], attempt)
                response = await client.chat.completions.create(
                    model=config.model, messages=messages, **_sampling(config), **request_options)
            return _completion(index, response, attempt + 1)
        except openai.APIStatusError as exc:
            if exc.status_code in FATAL_STATUS:
                fatal.append(describe_error(exc))
                return Failure(index, fatal[0], attempt + 1)
            if not is_retryable(exc):
                return Failure(index, describe_error(exc), attempt + 1)
            error = exc
        except openai.APIConnectionError as exc:
            error = exc
        except Exception as exc:  # a body that is not a chat completion: this answer failed, not the run
            return Failure(index, describe_error(exc), attempt + 1)
        if attempt < config.max_retries:
            await asyncio.sleep(retry_delay(attempt, retry_after_seconds(error), rng))
    return Failure(index, f"gave up after {config.max_retries + 1} attempts: {describe_error(error)}",
                   config.max_retries + 1)


def _sampling(config: LLMConfig) -> dict:
    return {} if config.temperature is None else {"temperature": config.temperature}


def _completion(index: int, response, attempts: int) -> Completion:
    message = response.choices[0].message
    usage = response.usage
    return Completion(index=index, content=message.content or "",
                      prompt_tokens=usage.prompt_tokens if usage else 0,
                      completion_tokens=usage.completion_tokens if usage else 0,
                      attempts=attempts)
