"""The provider's pace: rate-limit headers, AIMD, no chunk lost, and the cache resuming after kill -9."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import openai
import pytest

from ragtune_core.corpus.documents import Chunk
from ragtune_core.llm.client import Completion, complete_many
from ragtune_core.llm.config import LLMConfig
from ragtune_core.llm.limits import AdaptiveLimiter, Bucket, BucketReading, parse_duration, read_rate_limits
from ragtune_core.llm.retries import is_fatal
from ragtune_core.questions.llm_generator import LLMQuestionGenerator
from tests.fake_openai import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("plain_llm_environment")


def _prompts(n: int, words: int = 40) -> list[list[dict]]:
    return [[{"role": "user", "content": f"prompt {i} " + "word " * words}] for i in range(n)]


def _rate(admissions: list[tuple[float, float]], first: float, last: float) -> tuple[float, float]:
    """Requests and tokens per second admitted between the shares `first` and `last` of the admissions."""
    a, b = int(len(admissions) * first), int(len(admissions) * last) - 1
    span = admissions[b][0] - admissions[a][0]
    return (b - a) / span, sum(tokens for _, tokens in admissions[a:b]) / span


# headers ---------------------------------------------------------------------------------------
def test_reset_durations_read_as_openai_writes_them():
    assert parse_duration("1s") == 1.0 and parse_duration("6m0s") == 360.0
    assert parse_duration("59.5ms") == pytest.approx(0.0595) and parse_duration("1h2m3s") == 3723.0
    assert parse_duration("0.25") == 0.25
    assert parse_duration("soon") is None and parse_duration("1s and more") is None and parse_duration(None) is None


def test_rate_limit_headers_give_each_bucket_and_its_capacity():
    readings = read_rate_limits(
        {
            "x-ratelimit-limit-requests": "600",
            "x-ratelimit-remaining-requests": "4",
            "x-ratelimit-reset-requests": "600ms",
            "x-ratelimit-limit-tokens": "90000",
            "x-ratelimit-remaining-tokens": "not a number",
        }
    )
    assert set(readings) == {"requests"}  # a bucket without a readable remaining is left out
    requests = readings["requests"]
    assert requests.per_minute == 600 and requests.remaining == 4
    assert requests.capacity == pytest.approx(10)  # 4 left + 0.6 s at 10 a second: a one-second window
    assert BucketReading(600, 4, None).capacity == 600
    assert read_rate_limits({}) == {} and read_rate_limits(None) == {}


def test_the_bucket_mirror_refills_and_takes_the_later_requests_into_account():
    bucket = Bucket(BucketReading(600, 0, 1.0), now=0.0)  # 10 a second, holds 10
    assert bucket.wait_for(1, 0.0) == pytest.approx(0.1)
    assert bucket.available(5.0) == 10  # never more than it holds
    # The server said 2 left when it admitted request 3 (sent at t=1); we sent 4 more since; now is t=1.5.
    bucket.sync(BucketReading(600, 2, 0.8), seq=3, sent_at=1.0, charged_since=4, now=1.5)
    assert bucket.available(1.5) == pytest.approx(2 + 5 - 4)
    bucket.sync(BucketReading(600, 9, 0.1), seq=2, sent_at=0.5, charged_since=0, now=1.5)  # older news: ignored
    assert bucket.available(1.5) == pytest.approx(3)


# AIMD ----------------------------------------------------------------------------------------------
def _answer_round(limiter: AdaptiveLimiter, statuses: list[int]) -> None:
    """One round trip: a request per status sent at once, then answered in that order."""

    async def run():
        tickets = [await limiter.acquire() for _ in statuses]
        for ticket, status in zip(tickets, statuses, strict=True):
            limiter.release(ticket, status)

    asyncio.run(run())


def _run_requests(limiter: AdaptiveLimiter, n: int) -> None:
    """n requests queued at once, each answered 200 after 10 ms."""

    async def one():
        ticket = await limiter.acquire()
        await asyncio.sleep(0.01)
        limiter.release(ticket, 200)

    async def run():
        await asyncio.gather(*(one() for _ in range(n)))

    asyncio.run(run())


def test_aimd_grows_while_requests_wait_for_a_slot():
    limiter = AdaptiveLimiter(cap=64, initial_window=4)
    _run_requests(limiter, 3)
    assert limiter.allowed == 4  # nobody waited: no reason to grow
    _run_requests(limiter, 60)
    assert limiter.allowed >= 32  # slow start: about doubling per round trip
    capped = AdaptiveLimiter(cap=6, initial_window=4)
    _run_requests(capped, 60)
    assert capped.allowed == 6


def test_aimd_shrinks_on_a_congested_round_trip_only():
    limiter = AdaptiveLimiter(cap=64, initial_window=20)
    _answer_round(limiter, [200] * 19 + [429])
    assert limiter.decreases == 0  # one 429 in a round trip delays its request only
    _answer_round(limiter, [200] * 15 + [429, 503, 429, 429, 429])  # the last two were sent before the decrease
    assert limiter.decreases == 1 and limiter.allowed == 14 and not limiter.slow_start
    _answer_round(limiter, [429] * 3 + [200] * 11)
    assert limiter.decreases == 2 and limiter.allowed == 9


def test_the_window_grows_past_eight_when_the_server_keeps_up():
    with FakeOpenAIServer(latency=0.2) as server:
        outcomes = complete_many(LLMConfig(server.base_url, "fake-model"), _prompts(120))
    assert all(isinstance(o, Completion) for o in outcomes)
    assert 16 <= server.max_in_flight <= 64


# at the provider's limit -------------------------------------------------------------------------
@pytest.mark.parametrize("headers", [True, False])
def test_a_limited_server_is_kept_to_its_limit_and_no_prompt_is_lost(headers):
    # How near the limit a run gets is the benchmark's to measure (bench/bench_llm_limits.py), not a test's.
    # 900 requests a minute (15 a second, 1 s window) and 3,000 tokens a second (about 50 tokens a prompt).
    with FakeOpenAIServer(
        latency=0.1, latency_max=0.3, rpm=900, tpm=180_000, bucket_seconds=1.0, rate_limit_headers=headers
    ) as server:
        outcomes = complete_many(LLMConfig(server.base_url, "fake-model", max_retries=1), _prompts(120))
    assert all(isinstance(o, Completion) for o in outcomes), [o for o in outcomes if not isinstance(o, Completion)][:3]
    requests_per_s, tokens_per_s = _rate(server.admissions, 0.25, 1.0)
    share = max(requests_per_s / 15, tokens_per_s / 3000)
    assert share <= 1.1, (share, server.rate_limited)
    if headers:  # paced by the headers: few requests come over the limit
        assert server.rate_limited <= 12, server.rate_limited


def test_tokens_per_minute_count_the_expected_completion():
    # Each request asks for 300 completion tokens: the token bucket (6,000 a second) allows 20 a second,
    # well under the request bucket. Pacing by prompt tokens alone sends all 60 at once: 40 or more 429s.
    # Paced right, a few 429s at the bucket's edges (up to 12 seen on a loaded 2-core machine).
    with FakeOpenAIServer(latency=0.05, rpm=6000, tpm=360_000, bucket_seconds=1.0) as server:
        outcomes = complete_many(LLMConfig(server.base_url, "fake-model"), _prompts(60, words=0), max_tokens=300)
    assert all(isinstance(o, Completion) for o in outcomes)
    assert server.rate_limited <= 25, server.rate_limited


def test_a_spent_quota_is_fatal_but_a_rate_limit_is_not():
    def error(code: str) -> openai.APIStatusError:
        response = httpx2.Response(429, request=httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions"))
        return openai.RateLimitError("limited", response=response, body={"code": code, "message": "limited"})

    assert is_fatal(error("insufficient_quota"))
    assert not is_fatal(error("rate_limit_exceeded"))


# the per-chunk cache after kill -9 -----------------------------------------------------------------
CHILD = """
import sys
from pathlib import Path
from ragtune_core.corpus.documents import Chunk
from ragtune_core.llm.config import LLMConfig
from ragtune_core.questions.llm_generator import LLMQuestionGenerator
chunks = [Chunk(f"c{i}", "doc", f"Chunk {i} tells how Riverton built its harbour in {1800 + i}.") for i in range(40)]
config = LLMConfig(sys.argv[1], "fake-model", max_concurrency=2)
LLMQuestionGenerator(config, cache_dir=Path(sys.argv[2])).generate(chunks, 2)
"""


def test_a_run_killed_mid_way_resumes_from_the_cache_without_paying_twice(tmp_path):
    cache = tmp_path / "cache"
    chunks = [
        Chunk(f"c{i}", "doc", f"Chunk {i} tells how Riverton built its harbour in {1800 + i}.") for i in range(40)
    ]
    with FakeOpenAIServer(latency=0.1) as server:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, server.base_url, str(cache)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        deadline = time.monotonic() + 20
        while len(list(cache.rglob("*.json"))) < 8 and time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
        cached_before = len(list(cache.rglob("*.json")))
        paid_before = server.chat_requests
        assert 8 <= cached_before < 40, cached_before
        server.reset_counts()
        result = LLMQuestionGenerator(LLMConfig(server.base_url, "fake-model"), cache_dir=cache).generate(chunks, 2)
        assert result.cached == cached_before and not result.failures
        assert server.chat_requests == 40 - cached_before  # only what no answer was kept for is asked again
    assert {q.chunk_id for q in result.questions} == {c.chunk_id for c in chunks}
    assert paid_before <= cached_before + 2  # at most the two in flight at the kill were paid and lost
