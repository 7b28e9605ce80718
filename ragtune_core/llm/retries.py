"""The retry policy of LLM requests: what is retried, how long to wait, and how a failure reads.

429s, 5xx and dropped connections are retried with exponential backoff and jitter, honouring (a
capped) Retry-After; 401/403/404 doom every other request too; a body that is not a chat
completion fails its request only.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import TypeVar

import openai
import pydantic

from ..errors import RagtuneError

try:  # the HTTP library under the SDK: httpx2 in openai 3.5x, httpx before
    import httpx2 as _http
except ImportError:  # pragma: no cover - an older SDK
    import httpx as _http

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 20.0  # also the most a server's Retry-After can make us wait
RETRYABLE_STATUS = {408, 409, 429}  # plus every 5xx
# Answers after which every other request would fail the same way: stop sending them.
FATAL_STATUS = {401, 403, 404}
# A 429 that no wait cures: the account's quota or credit is spent.
FATAL_RATE_LIMIT_CODES = {"insufficient_quota", "billing_hard_limit_reached"}
# What the network and the SDK raise for an answer that is not a chat completion; anything else is a bug
# of ours and surfaces.
MALFORMED_ERRORS = (
    json.JSONDecodeError,
    UnicodeDecodeError,
    pydantic.ValidationError,
    openai.APIResponseValidationError,
    _http.HTTPError,
)
CONNECTION_ERRORS = (openai.APIConnectionError, _http.TransportError)  # timeouts included
T = TypeVar("T")


class MalformedResponse(RagtuneError):
    """A 200 answer that is not a chat completion (a proxy's HTML page, no choices...)."""


def is_retryable(exc: Exception) -> bool:
    if isinstance(exc, CONNECTION_ERRORS):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in RETRYABLE_STATUS or exc.status_code >= 500)


def is_fatal(exc: openai.APIStatusError) -> bool:
    """An answer after which every other request would fail the same way (bad key, wrong URL, no quota, a
    redirect: with a host allow-list, redirects are not followed)."""
    return (
        exc.status_code in FATAL_STATUS
        or is_redirect(exc)
        or (exc.status_code == 429 and error_code(exc) in FATAL_RATE_LIMIT_CODES)
    )


def is_redirect(exc: Exception) -> bool:
    return isinstance(exc, openai.APIStatusError) and 300 <= exc.status_code < 400


def error_code(exc: openai.APIStatusError) -> str | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) else None


def is_timeout(exc: Exception) -> bool:
    return isinstance(exc, (openai.APITimeoutError, _http.TimeoutException))


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
    return min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt) * rng.uniform(0.5, 1.0)


def wait_line(exc: Exception, retry: int, limit: int, delay: float) -> str:
    """What a caller waiting out a backoff is told: "waiting for the server (HTTP 503), retry 2/5 in 8 s"."""
    seconds = f"{delay:.0f}" if delay >= 10 else f"{delay:.1f}"
    return f"waiting for the server ({short_reason(exc)}), retry {retry}/{limit} in {seconds} s"


def call_retrying(
    request: Callable[[], T],
    retries: int,
    on_wait: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """What `request` (one synchronous SDK call) returns, sent again after a 429, a 5xx or a dropped
    connection up to `retries` times with backoff, each wait told to `on_wait`; the last error raised."""
    attempt = 0
    while True:
        try:
            return request()
        except Exception as exc:
            if attempt >= retries or not is_retryable(exc):
                raise
            delay = retry_delay(attempt, retry_after_seconds(exc))
            attempt += 1
            if on_wait:
                on_wait(wait_line(exc, attempt, retries, delay))
            sleep(delay)


def describe_error(exc: Exception) -> str:
    if is_timeout(exc):
        return "the request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return f"could not connect: {exc}"
    if isinstance(exc, _http.TransportError):
        return f"the connection failed ({type(exc).__name__}: {exc})"
    if is_redirect(exc):
        return (
            f"HTTP {exc.status_code}: the endpoint redirects to {exc.response.headers.get('location') or 'nowhere'}, "
            "which is not followed (the server's host allow-list is on): give the address it redirects to as "
            "the base URL, if its host is allowed"
        )
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {exc.message}"
    if isinstance(exc, MalformedResponse):
        return f"malformed response ({exc})"
    return f"malformed response ({type(exc).__name__}: {exc})"


def short_reason(exc: Exception) -> str:
    if is_timeout(exc):
        return "no answer in time"
    if isinstance(exc, CONNECTION_ERRORS):
        return "connection failed"
    if isinstance(exc, openai.APIStatusError):
        return "rate limited" if exc.status_code == 429 else f"HTTP {exc.status_code}"
    return type(exc).__name__
