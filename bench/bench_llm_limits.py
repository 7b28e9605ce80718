"""Benchmark: LLM question generation at a provider's rate limits, adaptive vs fixed vs sequential.

A loopback OpenAI-compatible server (tests/fake_openai.py) enforces a requests-per-minute and a
tokens-per-minute bucket (429 with Retry-After when over; OpenAI's x-ratelimit-* headers on every
answer unless switched off) and answers in 0.3-1.0 s. In the same run, over the same Wikipedia
chunks, it measures:

- RAGTune's LLMQuestionGenerator with its adaptive client, the server sending rate-limit headers;
- the same with the headers switched off (pure AIMD);
- the client before issue 12 (a fixed 8 in flight), loaded from git as it was;
- a sequential loop with the openai client (on fewer chunks: it is the slowest by far).

For each: throughput in steady state (the admissions between 20% and 90% of the run, as the
server counts them) as a share of the server's binding limit, chunks lost, 429s. Writes the
"## LLM calls at the provider's limit" section of bench/RESULTS.md.

    .venv/bin/python bench/bench_llm_limits.py            # about 3 minutes
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the repository root only: tests/bench would shadow bench/ if tests/ were on the path

import openai  # noqa: E402

from bench.bench_generation import load_chunks  # noqa: E402
from bench.results import publish  # noqa: E402
from ragtune_core import llm  # noqa: E402
from ragtune_core.corpus.documents import Chunk  # noqa: E402
from ragtune_core.questions.llm_generator import LLMQuestionGenerator  # noqa: E402
from ragtune_core.questions.prompts import DEFAULT_QA_PROMPT, parse_questions, render_prompt  # noqa: E402
from tests.fake_openai import FakeOpenAIServer  # noqa: E402

SECTION = "LLM calls at the provider's limit"
QUESTIONS_PER_CHUNK = 2
CLIENT_BEFORE = "3fb1dc0"  # the last commit whose client sent a fixed number of requests in flight
STEADY = (0.2, 0.9)  # the share of a run's admissions that counts as its steady state


@dataclass
class Row:
    label: str
    chunks: int
    wall_s: float
    lost: int
    rate_limited: int
    requests: int
    max_in_flight: int
    requests_per_s: float  # in steady state, as the server admitted them
    tokens_per_s: float

    def share(self, args) -> float:
        """The steady-state throughput as a share of the server's binding limit."""
        return max(self.requests_per_s / (args.rpm / 60), self.tokens_per_s / (args.tpm / 60))


def _server(args, headers: bool = True) -> FakeOpenAIServer:
    return FakeOpenAIServer(
        latency=args.latency_min,
        latency_max=args.latency_max,
        rpm=args.rpm,
        tpm=args.tpm,
        bucket_seconds=args.bucket_seconds,
        rate_limit_headers=headers,
        seed=args.seed,
    )


def _prompt(chunk: Chunk) -> list[dict]:
    return [{"role": "user", "content": render_prompt(DEFAULT_QA_PROMPT, chunk.text, QUESTIONS_PER_CHUNK)}]


def _row(label: str, chunks: list[Chunk], server: FakeOpenAIServer, wall: float, answered: set[str]) -> Row:
    admissions = server.admissions
    first, last = int(len(admissions) * STEADY[0]), int(len(admissions) * STEADY[1]) - 1
    span = admissions[last][0] - admissions[first][0]
    tokens = sum(t for _, t in admissions[first:last])
    return Row(
        label,
        len(chunks),
        wall,
        sum(c.chunk_id not in answered for c in chunks),
        server.rate_limited,
        server.chat_requests,
        server.max_in_flight,
        (last - first) / span,
        tokens / span,
    )


def run_adaptive(chunks: list[Chunk], args, headers: bool) -> Row:
    with _server(args, headers) as server:
        config = llm.LLMConfig(server.base_url, "fake-model")
        start = time.perf_counter()
        result = LLMQuestionGenerator(config, cache_dir=None).generate(chunks, QUESTIONS_PER_CHUNK)
        wall = time.perf_counter() - start
        label = f"adaptive (cap {config.max_concurrency}), {'with' if headers else 'without'} rate-limit headers"
        return _row(label, chunks, server, wall, {q.chunk_id for q in result.questions})


def client_before():
    """ragtune_core/llm/client.py as of CLIENT_BEFORE, imported as a module of its own."""
    source = subprocess.run(
        ["git", "show", f"{CLIENT_BEFORE}:ragtune_core/llm/client.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    name = "ragtune_core.llm._client_before_issue_12"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))
    module.__package__ = "ragtune_core.llm"
    sys.modules[name] = module  # dataclasses look their module up by name
    exec(compile(source, f"{CLIENT_BEFORE}:client.py", "exec"), module.__dict__)
    return module


def run_fixed(chunks: list[Chunk], args, concurrency: int = 8) -> Row:
    before = client_before()
    with _server(args) as server:
        config = before.LLMConfig(server.base_url, "fake-model", max_concurrency=concurrency)
        start = time.perf_counter()
        outcomes = before.complete_many(config, [_prompt(c) for c in chunks])
        wall = time.perf_counter() - start
        answered = {
            chunks[o.index].chunk_id
            for o in outcomes
            if isinstance(o, before.Completion) and parse_questions(o.content, QUESTIONS_PER_CHUNK)
        }
        return _row(f"before issue 12: fixed {concurrency} in flight ({CLIENT_BEFORE})", chunks, server, wall, answered)


def run_sequential(chunks: list[Chunk], args) -> Row:
    """A plain loop with the openai client, one request at a time, retrying 429s as RAGTune does."""
    with _server(args) as server:
        config = llm.LLMConfig(server.base_url, "fake-model")
        client = llm.make_client(config)
        answered = set()
        start = time.perf_counter()
        for chunk in chunks:
            for attempt in range(config.max_retries + 1):
                try:
                    response = client.chat.completions.create(
                        model=config.model, messages=_prompt(chunk), temperature=config.temperature
                    )
                except openai.RateLimitError as exc:
                    time.sleep(llm.retry_delay(attempt, llm.retry_after_seconds(exc)))
                    continue
                if parse_questions(response.choices[0].message.content or "", QUESTIONS_PER_CHUNK):
                    answered.add(chunk.chunk_id)
                break
        wall = time.perf_counter() - start
        return _row("sequential loop (openai client)", chunks, server, wall, answered)


def render(rows: list[Row], source: str, args) -> str:
    sequential = rows[-1]
    base_rate = sequential.chunks / sequential.wall_s
    lines = [
        f"`bench/bench_llm_limits.py`: chunks from {source}, {QUESTIONS_PER_CHUNK} questions each, against "
        f"FakeOpenAIServer enforcing {args.rpm:,.0f} requests and {args.tpm:,.0f} tokens a minute (buckets holding "
        f"{args.bucket_seconds:g} s of each, refilled continuously; a request is charged its prompt and its "
        f"completion when admitted; 429 with Retry-After when over) and answering in {args.latency_min}-"
        f"{args.latency_max} s. Steady state: the requests admitted between {STEADY[0]:.0%} and {STEADY[1]:.0%} of "
        f"each run, as the server counted them; share of limit = the larger of requests/s over the request limit "
        f"and tokens/s over the token limit. Lost = chunks without a question. All rows in the same run. Machine: "
        f"{platform.machine()}, {os.cpu_count()} CPUs shared with other work, Python {platform.python_version()}.",
        "",
        "| client | chunks | wall time (s) | steady requests/s | steady tokens/s | share of limit | chunks/s vs "
        "sequential | max in flight | 429s | requests | lost chunks |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.chunks} | {row.wall_s:.1f} | {row.requests_per_s:.1f} | "
            f"{row.tokens_per_s:,.0f} | {row.share(args):.0%} | "
            f"{row.chunks / row.wall_s / base_rate:.1f}x | {row.max_in_flight} | {row.rate_limited} | "
            f"{row.requests} | {row.lost} |"
        )
    headers, pure, fixed = rows[0], rows[1], rows[2]
    lost = sum(r.lost for r in rows[:2])
    met = headers.share(args) >= 0.9 and pure.share(args) >= 0.8 and lost == 0
    lines += [
        "",
        (
            f"Limit: {args.rpm / 60:.0f} requests/s or {args.tpm / 60:,.0f} tokens/s, whichever binds first. With the "
            f"headers, the adaptive client holds {headers.share(args):.0%} of it in steady state, without them "
            f"{pure.share(args):.0%} (above 100%: the buckets hold {args.bucket_seconds:g} s of the limit, which a "
            f"window of a few tens of seconds sees as a few percent more); {lost} chunks lost. Targets (>= 90% with "
            "headers, >= 80% without, 0 lost): "
            f"{'met' if met else 'not met'}. The fixed 8 in flight reach {fixed.share(args):.0%}: 8 requests of "
            f"{(args.latency_min + args.latency_max) / 2:.2f} s on average cannot fill the limit, and a user had to "
            f"guess the number. Adaptive with headers over fixed 8: "
            f"{(headers.chunks / headers.wall_s) / (fixed.chunks / fixed.wall_s):.1f}x the chunks per second; over the "
            f"sequential loop: {(headers.chunks / headers.wall_s) / base_rate:.1f}x."
        ),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=600, help="chunks for the concurrent clients")
    parser.add_argument("--sequential-chunks", type=int, default=100, help="chunks for the sequential loop")
    parser.add_argument("--rpm", type=float, default=1200, help="the server's requests per minute")
    parser.add_argument("--tpm", type=float, default=300_000, help="the server's tokens per minute")
    parser.add_argument(
        "--bucket-seconds",
        type=float,
        default=1.0,
        help="how many seconds of its limit a bucket holds (providers enforce a minute's limit over shorter windows)",
    )
    parser.add_argument("--latency-min", type=float, default=0.3)
    parser.add_argument("--latency-max", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()

    chunks, source = load_chunks(args.chunks)
    rows = []
    for run in (
        lambda: run_adaptive(chunks, args, headers=True),
        lambda: run_adaptive(chunks, args, headers=False),
        lambda: run_fixed(chunks, args),
        lambda: run_sequential(chunks[: args.sequential_chunks], args),
    ):
        rows.append(run())
        row = rows[-1]
        print(
            f"{row.label}: {row.wall_s:.1f} s, {row.share(args):.0%} of the limit, {row.lost} lost, "
            f"{row.rate_limited} 429s",
            flush=True,
        )
    publish(SECTION, render(rows, source, args), write=not args.no_write)


if __name__ == "__main__":
    main()
