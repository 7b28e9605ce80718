"""How many LLM requests to send, and when: the provider's own limit, found as the run goes.

Providers limit requests and tokens per minute, not requests in flight, so no fixed concurrency
is right for every endpoint. `AdaptiveLimiter` combines two controls, within the user's cap:

- **The rate-limit headers**, when the server sends them (OpenAI, Azure and many compatible
  servers: `x-ratelimit-limit/remaining/reset-requests` and `-tokens`): a mirror of each of the
  server's per-minute buckets, refilled at the server's rate and corrected by every answer's
  `remaining`, paces requests so they arrive as fast as the buckets refill. A request's token
  charge counts its prompt and the completion it is expected to produce, as the provider does.
- **AIMD** on the number in flight, always: additive increase while answers come back (doubling
  per round trip until the first sign of overload), multiplicative decrease when the answers of
  one round trip hold several 429s, 503s or timeouts. An isolated 429 only delays its request:
  servers refuse the odd request under load, and halving for each would starve the run.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

INITIAL_WINDOW = 8  # requests in flight before the first answer says more
DECREASE_FACTOR = 0.7  # the window after a round trip with too many congestion signals
# A round trip is congested when at least this share of its answers (and at least 2) were 429/503/timeouts.
CONGESTED_SHARE = 0.1
MIN_CONGESTED = 2
CONGESTION_STATUS = {429, 503}
MAX_PACING_SLEEP_S = 0.25  # a waiting request looks again this often (a slot may free up meanwhile)

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str | None) -> float | None:
    """Seconds in a reset header: "1s", "6m0s", "59.5ms", "1h2m3s", or a bare number of seconds."""
    if text is None:
        return None
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _DURATION_UNITS[unit] for number, unit in parts)


@dataclass(frozen=True)
class BucketReading:
    """One of the server's per-minute buckets as an answer's headers describe it."""

    per_minute: float
    remaining: float
    reset_s: float | None  # until the bucket is full again

    @property
    def capacity(self) -> float:
        """How much the bucket holds when full: its remaining plus what refills before the reset.
        Servers that enforce a minute's limit over a shorter window hold less than `per_minute`."""
        if self.reset_s is None:
            return self.per_minute
        return min(self.per_minute, max(1.0, self.remaining + self.reset_s * self.per_minute / 60))


def read_rate_limits(headers: Mapping[str, str] | None) -> dict[str, BucketReading]:
    """{"requests": ..., "tokens": ...} for each bucket whose limit and remaining the headers give."""
    readings = {}
    for kind in ("requests", "tokens"):
        try:
            limit = float(headers[f"x-ratelimit-limit-{kind}"])
            remaining = float(headers[f"x-ratelimit-remaining-{kind}"])
        except (KeyError, TypeError, ValueError):
            continue
        if limit > 0:
            readings[kind] = BucketReading(
                limit, max(0.0, remaining), parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
            )
    return readings


class Bucket:
    """A client-side mirror of a server's per-minute bucket, refilled at the server's rate."""

    def __init__(self, reading: BucketReading, now: float):
        self.rate = reading.per_minute / 60
        self.capacity = reading.capacity
        self.level = reading.remaining
        self.at = now
        self.synced_seq = -1

    def available(self, now: float) -> float:
        return min(self.capacity, self.level + self.rate * (now - self.at))

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until `amount` is available (a request larger than the bucket waits for a full one)."""
        return max(0.0, (min(amount, self.capacity) - self.available(now)) / self.rate)

    def take(self, amount: float, now: float) -> None:
        self.level, self.at = self.available(now) - amount, now

    def sync(self, reading: BucketReading, seq: int, sent_at: float, charged_since: float, now: float) -> None:
        """Correct the mirror with what the server said when it admitted request `seq` (sent at
        `sent_at`): its remaining then, refilled since, less what our later requests took."""
        if seq <= self.synced_seq:
            return  # an older answer arriving late: a newer one has corrected the mirror already
        self.synced_seq = seq
        self.rate, self.capacity = reading.per_minute / 60, reading.capacity
        refilled = min(self.capacity, reading.remaining + self.rate * (now - sent_at))
        self.level, self.at = refilled - charged_since, now


@dataclass
class Ticket:
    """One request's admission: what it was charged and when, for the answer to report back."""

    seq: int
    sent_at: float
    tokens: float
    charged_requests: float  # the limiter's running totals when this request was sent, itself included
    charged_tokens: float


class AdaptiveLimiter:
    """Admits requests at the provider's pace, never more than `cap` in flight (see the module doc).

    Usage, around each attempt::

        ticket = await limiter.acquire(expected_tokens)
        ... send ...
        limiter.release(ticket, status=200 or the error's status, timed_out=..., headers=...)
    """

    def __init__(self, cap: int, initial_window: int = INITIAL_WINDOW, clock=time.monotonic):
        if cap < 1:
            raise ValueError("cap: at least 1 request must be allowed in flight")
        self.cap = cap
        self.window = float(min(cap, initial_window))
        self.slow_start = True  # doubling per round trip until the first congested one
        self.in_flight = 0
        self.buckets: dict[str, Bucket] = {}
        self._clock = clock
        self._seq = 0
        self._charged = {"requests": 0.0, "tokens": 0.0}
        self._last_decrease_seq = 0
        self._recent: deque[bool] = deque(maxlen=cap)  # congestion signals among recent answers
        self._gate = asyncio.Lock()  # one request at a time waits for budget: first come, first served
        self._freed = asyncio.Event()
        self._waiting = 0  # requests waiting for admission
        self.decreases = 0

    @property
    def allowed(self) -> int:
        return max(1, min(self.cap, int(self.window)))

    @property
    def paced(self) -> bool:
        """Whether the server's headers told its limits (else AIMD alone decides)."""
        return bool(self.buckets)

    def _budget_wait(self, tokens: float, now: float) -> float:
        needs = {"requests": 1.0, "tokens": tokens}
        return max((bucket.wait_for(needs[kind], now) for kind, bucket in self.buckets.items()), default=0.0)

    async def acquire(self, tokens: float = 0.0) -> Ticket:
        self._waiting += 1
        try:
            return await self._admit(tokens)
        finally:
            self._waiting -= 1

    async def _admit(self, tokens: float) -> Ticket:
        async with self._gate:
            while True:
                if self.in_flight >= self.allowed:
                    self._freed.clear()
                    await self._freed.wait()
                    continue
                wait = self._budget_wait(tokens, self._clock())
                if wait <= 0:
                    break
                await asyncio.sleep(min(wait, MAX_PACING_SLEEP_S))
            now = self._clock()
            for kind, bucket in self.buckets.items():
                bucket.take(1.0 if kind == "requests" else tokens, now)
            self._seq += 1
            self.in_flight += 1
            self._charged["requests"] += 1
            self._charged["tokens"] += tokens
            return Ticket(self._seq, now, tokens, self._charged["requests"], self._charged["tokens"])

    def release(
        self,
        ticket: Ticket,
        status: int | None = None,
        timed_out: bool = False,
        headers: Mapping[str, str] | None = None,
        answered: bool = True,
    ) -> None:
        """The attempt is over: `status` is the HTTP status (None: no answer), `headers` its headers.
        `answered=False` gives the slot back without any signal (the attempt never went out)."""
        self.in_flight -= 1
        self._freed.set()
        if not answered:
            return
        self._sync(ticket, read_rate_limits(headers))
        congested = timed_out or status in CONGESTION_STATUS
        self._recent.append(congested)
        if congested:
            self._maybe_decrease(ticket)
        elif status is not None and status < 400 and self._waiting:
            self._increase()

    def _sync(self, ticket: Ticket, readings: dict[str, BucketReading]) -> None:
        now = self._clock()
        for kind, reading in readings.items():
            charged = ticket.charged_requests if kind == "requests" else ticket.charged_tokens
            since = self._charged[kind] - charged
            if kind not in self.buckets:
                self.buckets[kind] = Bucket(reading, now)
            self.buckets[kind].sync(reading, ticket.seq, ticket.sent_at, since, now)

    def _increase(self) -> None:
        """One more per answer in slow start, else one more per window's worth of answers; only while
        requests wait for a slot (at the end of a run, a larger window would help nothing)."""
        self.window = min(float(self.cap), self.window + (1.0 if self.slow_start else 1.0 / self.window))

    def _maybe_decrease(self, ticket: Ticket) -> None:
        """Decrease once per round trip: only for requests sent after the last decrease, and only when
        that round trip's answers hold enough congestion signals."""
        if ticket.seq <= self._last_decrease_seq:
            return
        recent = list(self._recent)[-self.allowed :]
        if sum(recent) < max(MIN_CONGESTED, math.ceil(CONGESTED_SHARE * len(recent))):
            return
        self.window = max(1.0, self.window * DECREASE_FACTOR)
        self.slow_start = False
        self._last_decrease_seq = self._seq
        self._recent.clear()
        self.decreases += 1
