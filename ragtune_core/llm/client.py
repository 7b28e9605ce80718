"""An OpenAI-compatible chat client: the provider's pace, explicit retries, usage.

Works with any endpoint that speaks the OpenAI API (OpenAI, Azure OpenAI's v1 API, Ollama, vLLM,
LM Studio): only the base URL, model and key change. How many requests go out at once is the
provider's limit, found as the run goes (`limits.AdaptiveLimiter`: its rate-limit headers when it
sends them, else additive increase / multiplicative decrease), never more than the user's cap.
The SDK's own retries are switched off so that the policy of `retries.py` is the one that runs.
Callers see each wait that counts as a retry (`on_wait`, or `report_waits` around code that calls
this module). Large runs can go through the Batch API instead (`batch.py`).

Which key goes to which endpoint, and every setting, is `config.py`'s.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import openai

from ..network import allowed_hosts
from .config import OPENAI_BASE_URL, LLMConfig, LLMConfigError, key_rule
from .limits import AdaptiveLimiter, Ticket
from .outcomes import Completion, Failure, Outcome, parse_completion
from .retries import (
    CONNECTION_ERRORS,
    MALFORMED_ERRORS,
    MalformedResponse,
    describe_error,
    is_fatal,
    is_retryable,
    is_timeout,
    retry_after_seconds,
    retry_delay,
    wait_line,
)
from .tokens import estimate_tokens

# Endpoints that need no key (local servers) still need a non-empty one for the SDK.
NO_KEY_PLACEHOLDER = "no-key"
# A 429 when other requests were answered since the prompt's last 429 means "over the rate", not
# "failing": it does not count as one of `max_retries`, up to this many times for one prompt.
MAX_OVER_RATE_RETRIES = 30

WaitCallback = Callable[[str], None]
_wait_reporter: contextvars.ContextVar[WaitCallback | None] = contextvars.ContextVar("llm_wait_reporter", default=None)


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


def wait_callback(on_wait: WaitCallback | None) -> WaitCallback | None:
    """`on_wait`, else the callback of the `report_waits` block around the call."""
    return on_wait or _wait_reporter.get()


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
def complete_many(
    config: LLMConfig,
    prompts: list[list[dict]],
    on_done: Callable[[Outcome], None] | None = None,
    on_wait: WaitCallback | None = None,
    expected_completion_tokens: int | None = None,
    **request_options,
) -> list[Outcome]:
    """Send every prompt (a list of chat messages) at the provider's pace, at most
    `config.max_concurrency` in flight (see limits.py).

    Returns one Completion or Failure per prompt, in prompt order; `on_done` is called as each
    one finishes (from one thread, in finishing order), `on_wait` with a line for each retry wait
    (default: the `report_waits` callback in effect). A request waiting out a backoff gives its
    slot to another, so a 429 costs the run its wait only when nothing else is left to send.
    `expected_completion_tokens` (else `max_tokens`, else the answers' running mean) counts in each
    request's token charge against the provider's tokens-per-minute limit.
    `request_options` (max_tokens, tools, response_format...) go to every request as they are.
    Network and endpoint faults become Failures; any other exception is a bug and is raised.
    """
    if config.batch:
        raise LLMConfigError("batch: this config sends through the Batch API; call llm.complete_in_batch")
    kwargs = _client_kwargs(config, config.timeout)  # fail on a missing key before any thread starts
    coroutine = _complete_all(
        config, kwargs, prompts, on_done, wait_callback(on_wait), request_options, expected_completion_tokens
    )
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
    limiter: AdaptiveLimiter
    on_wait: WaitCallback | None
    request_options: dict
    expected_completion: int | None  # tokens; None: the mean of the answers so far
    fatal: list[str] = field(default_factory=list)  # the first error that dooms every other request too
    answered: bool = False  # the endpoint has answered something (even an error) at least once
    stalled: bool = False  # a request timed out before the endpoint ever answered
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # answered, or doomed: stalled requests go on
    completions: int = 0
    completion_tokens: int = 0

    def mark_answered(self) -> None:
        self.answered = True
        self.settled.set()

    def doom(self, message: str) -> str:
        self.fatal.append(message)
        self.settled.set()
        return self.fatal[0]

    def completed(self, completion: Completion) -> None:
        self.mark_answered()
        self.completions += 1
        self.completion_tokens += completion.completion_tokens

    @property
    def timeout(self) -> float:
        """Seconds a request may take: shorter until the endpoint has answered anything."""
        return self.config.timeout if self.answered else min(self.config.timeout, self.config.first_answer_timeout)

    @property
    def is_stalled(self) -> bool:
        return self.stalled and not self.answered and not self.fatal

    def token_charge(self, messages: list[dict]) -> float:
        """What a provider counts against its tokens-per-minute limit: the prompt and the expected completion."""
        expected = self.expected_completion
        if expected is None:
            expected = self.request_options.get("max_tokens") or self.request_options.get("max_completion_tokens")
        if expected is None:
            expected = self.completion_tokens / self.completions if self.completions else 0
        return estimate_tokens(str(m.get("content") or "") for m in messages) + expected

    async def take_slot(self, first_attempt: bool, tokens: float) -> Ticket:
        """Admission for one request. While a request that timed out tries again and the endpoint has never
        answered, no prompt starts its first attempt: a hung server would cost every prompt its timeouts."""
        while True:
            if first_attempt and self.is_stalled:
                await self.settled.wait()
            ticket = await self.limiter.acquire(tokens)
            if not (first_attempt and self.is_stalled):
                return ticket
            self.limiter.release(ticket, answered=False)


async def _complete_all(
    config: LLMConfig,
    client_kwargs: dict,
    prompts: list[list[dict]],
    on_done: Callable[[Outcome], None] | None,
    on_wait: WaitCallback | None,
    request_options: dict,
    expected_completion_tokens: int | None,
) -> list[Outcome]:
    run = _Run(
        config,
        _async_client(client_kwargs),
        AdaptiveLimiter(config.max_concurrency),
        on_wait,
        request_options,
        expected_completion_tokens,
    )

    async def one(index: int, messages: list[dict]) -> Outcome:
        outcome = await _complete_one(run, index, messages)
        if on_done:
            on_done(outcome)
        return outcome

    if on_wait and prompts:  # until the first answer, nothing else tells what the run is waiting for
        on_wait(
            f"waiting for the first answer from {config.base_url or OPENAI_BASE_URL} ({config.model}; given "
            f"up after {run.timeout:g} s without one)"
        )
    try:
        return list(await asyncio.gather(*(one(i, p) for i, p in enumerate(prompts))))
    finally:
        await run.client.close()


async def _complete_one(run: _Run, index: int, messages: list[dict]) -> Outcome:
    """One prompt, retried as the policy says: 429s, 5xx and dropped connections up to `max_retries`
    times (a 429 while other requests get answered is the provider's pace and does not count),
    timeouts up to `timeout_retry_limit` times. A server that has never answered and keeps timing
    out dooms the other requests too: they would each wait out the same timeouts."""
    config, rng = run.config, random.Random(index)
    retries = timeouts = over_rate = attempts = 0
    completions_at_last_429 = 0  # the run's completions when this prompt was last refused with a 429
    tokens = run.token_charge(messages)
    while True:
        ticket = await run.take_slot(first_attempt=not attempts, tokens=tokens)
        if run.fatal:
            run.limiter.release(ticket, answered=False)
            return Failure(index, run.fatal[0], attempts)
        attempts += 1
        status, headers, timed_out, error = None, None, False, None
        sent, timeout = time.perf_counter(), run.timeout
        try:  # the slot is held for the request only, never during a backoff
            raw = await run.client.chat.completions.with_raw_response.create(
                **chat_request(config, messages, run.request_options), timeout=timeout
            )
            status, headers = raw.status_code, raw.headers
        except openai.APIStatusError as exc:
            status, headers, error = exc.status_code, exc.response.headers, exc
        except CONNECTION_ERRORS as exc:  # timeouts included
            timed_out, error = is_timeout(exc), exc
        finally:
            run.limiter.release(ticket, status, timed_out, headers)
        if error is None:
            try:
                completion = parse_completion(
                    index,
                    raw.parse(),
                    attempts,
                    time.perf_counter() - sent,
                    f"{config.base_url or OPENAI_BASE_URL}/chat/completions",
                )
            except (MalformedResponse, *MALFORMED_ERRORS) as exc:  # this answer failed, not the run
                run.mark_answered()
                return Failure(index, describe_error(exc), attempts)
            run.completed(completion)
            return completion
        if status is not None:
            run.mark_answered()
            if is_fatal(error):
                return Failure(index, run.doom(describe_error(error)), attempts)
            if not is_retryable(error):
                return Failure(index, describe_error(error), attempts)
        if timed_out and not run.answered:
            run.stalled = True
        if status == 429:
            progressed, completions_at_last_429 = run.completions > completions_at_last_429, run.completions
            if progressed and over_rate < MAX_OVER_RATE_RETRIES:
                over_rate += 1  # the provider answers others: this one came over its rate, not to a failing server
                await asyncio.sleep(retry_delay(0, retry_after_seconds(error), rng))
                continue
        used, limit = (timeouts, config.timeout_retry_limit) if timed_out else (retries, config.max_retries)
        if used >= limit:
            message = f"gave up after {attempts} attempts: {describe_error(error)}"
            if timed_out and not run.answered:
                return Failure(
                    index,
                    run.doom(
                        f"{message} (the server has not answered any request within {timeout:g} s; one that is only "
                        "slow to start needs a longer first-answer timeout)"
                    ),
                    attempts,
                )
            return Failure(index, message, attempts)
        delay = retry_delay(used, retry_after_seconds(error), rng)
        if run.on_wait:
            run.on_wait(wait_line(error, used + 1, limit, delay))
        if timed_out:
            timeouts += 1
        else:
            retries += 1
        await asyncio.sleep(delay)


def request_key(config: LLMConfig, messages: list[dict], request_options: dict | None = None) -> str:
    """A cache key holding everything that changes an answer: the endpoint and the request as sent
    (model, messages, sampling, options): the same model name at another base URL is another answer."""
    parts = [config.base_url or OPENAI_BASE_URL, chat_request(config, messages, request_options or {})]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


def chat_request(config: LLMConfig, messages: list[dict], request_options: dict) -> dict:
    """The body of one chat completion request, as complete_many sends it and a Batch API line holds it."""
    sampling = {} if config.temperature is None else {"temperature": config.temperature}
    return {"model": config.model, "messages": messages, **sampling, **request_options}
