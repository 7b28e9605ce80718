"""A local OpenAI-compatible server for tests and benchmarks: no network, no key, no cost.

`FakeOpenAIServer` listens on an ephemeral 127.0.0.1 port and answers the few endpoints RAGTune
uses (chat completions, models, fine-tuning jobs). It can inject latency, 429s with Retry-After,
5xx errors and malformed answers, and it records what it saw (requests, in-flight peak), so a
test can check retries, concurrency bounds and caching against a real HTTP exchange.

    with FakeOpenAIServer(latency=0.1, rate_limit_every=5) as server:
        config = LLMConfig(base_url=server.base_url, model="fake-model")
        ...
        assert server.max_in_flight <= 8

Fault injection is deterministic: `*_every=N` hits every Nth chat request; `*_fraction` draws
from the seed, the request's content and how often that same request was sent before, so a
sequential and a concurrent client see the very same faults on the same prompts whatever the
order their requests arrive in.

`rpm=` and `tpm=` enforce a provider's limits: a requests-per-minute and a tokens-per-minute
bucket, each refilled continuously and holding `bucket_seconds` worth of its limit (a provider
enforces a minute's limit over shorter windows). A request is charged its prompt tokens plus its
`max_tokens` (else the completion it gets) when admitted; one over either bucket gets a 429 at
once with Retry-After (the wait until both hold enough). With `rate_limit_headers` (default on),
every answer carries OpenAI's `x-ratelimit-limit/remaining/reset-requests` and `-tokens` headers.
`admissions` records (time, tokens) of each request let through, for measuring throughput;
`latency_max=` draws each answer's latency uniformly between `latency` and it.

`batches=True` serves the Batch API (/v1/files, /v1/batches; see tests/fake_batches.py), each
batch ending as `batch_outcomes` say: completed, partial (some lines failed), expired, cancelled.

`fault=` makes chat requests fail the way a broken network or endpoint does (see FAULTS): "hang"
(no answer for `hang_seconds`, then the connection is closed), "reset" (the connection is reset),
"truncated_json" (a JSON body cut short), "html" (an HTML page with status 200, as a proxy's
error page), "empty_choices" (a completion without choices). `fault_count=N` faults only the
first N chat requests, so a test can check that the retry after them succeeds. Everything stays
on 127.0.0.1 and every hang is bounded: closing the server ends it at once.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Responder = Callable[[dict], "str | dict"]

_CONTEXT = re.compile(r"-{5,}\n(.*?)\n-{5,}", re.S)
_CAPITALISED = re.compile(r"\b[A-Z][a-z]{3,}\b")
# What a malformed answer looks like, in turn: nothing, prose without a question, a broken body.
MALFORMED_KINDS = ("empty", "garbage", "invalid_json")
FAULTS = ("hang", "reset", "truncated_json", "html", "empty_choices")
MAX_HANG_SECONDS = 30.0  # a hang is bounded even when a test forgets to close the server


class _Reset(Exception):
    """Raised by _chat: the handler resets the connection instead of answering."""


def question_responder(request: dict) -> str:
    """Answer a question-generation prompt with numbered questions built from its context."""
    prompt = "\n".join(str(m.get("content") or "") for m in request.get("messages", []))
    match = _CONTEXT.search(prompt)
    context = match.group(1) if match else prompt
    wanted = re.search(r"(?:setup|Write) (\d+) (?:questions|search queries)", prompt)
    n = int(wanted.group(1)) if wanted else 2
    names = list(dict.fromkeys(_CAPITALISED.findall(context))) or ["this passage"]
    lines = [f"Here are {n} questions:"]
    for i in range(n):
        lines.append(f"{i + 1}. What does the text say about {names[i % len(names)]} (point {i + 1})?")
    return "\n".join(lines)


@dataclass
class RecordedRequest:
    time: float
    path: str
    body: dict | None
    status: int  # 0: no answer (the connection was reset or hung up)
    authorization: str | None


class FakeOpenAIServer:
    def __init__(
        self,
        responder: Responder = question_responder,
        latency: float = 0.0,
        rate_limit_every: int | None = None,
        rate_limit_fraction: float = 0.0,
        retry_after: float | None = 0.2,
        server_error_every: int | None = None,
        malformed_fraction: float = 0.0,
        fine_tuning: bool = False,
        models: tuple[str, ...] = ("fake-model",),
        seed: int = 0,
        fault: str | None = None,
        fault_count: int | None = None,
        hang_seconds: float = 5.0,
        rpm: float | None = None,
        tpm: float | None = None,
        bucket_seconds: float = 60.0,
        rate_limit_headers: bool = True,
        latency_max: float | None = None,
        batches: bool = False,
        batch_outcomes: tuple[str, ...] = (),
    ):
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"fault must be one of {', '.join(FAULTS)}, not {fault!r}")
        self.responder = responder
        self.latency = latency
        self.rate_limit_every = rate_limit_every
        self.rate_limit_fraction = rate_limit_fraction
        self.retry_after = retry_after
        self.server_error_every = server_error_every
        self.malformed_fraction = malformed_fraction
        self.fine_tuning = fine_tuning
        self.models = models
        self.seed = seed
        self.fault = fault
        self.fault_count = fault_count
        self.hang_seconds = min(hang_seconds, MAX_HANG_SECONDS)
        self.latency_max = latency_max
        self.buckets = {
            kind: _Bucket(limit, bucket_seconds) for kind, limit in (("requests", rpm), ("tokens", tpm)) if limit
        }
        self.rate_limit_headers = rate_limit_headers
        self.admissions: list[tuple[float, float]] = []  # (time, tokens charged) of each request let through
        self.faults = 0  # chat requests answered with `fault`
        self._closing = threading.Event()  # set on exit: ends every hang at once
        self._sent_before: dict[str, int] = {}  # request content hash -> times seen
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.chat_requests = 0
        self.rate_limited = 0
        self.server_errors = 0
        self.malformed = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ft = FakeFineTuning()  # files and fine-tuning jobs (served when fine_tuning=True)
        self.batches = None  # the Batch API (batches=True): tests/fake_batches.py
        if batches:
            from tests.fake_batches import FakeBatches

            self.batches = FakeBatches(self, batch_outcomes)

    # lifecycle -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "the server is not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeOpenAIServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.chat_requests = self.rate_limited = self.server_errors = self.malformed = self.faults = 0
            self.max_in_flight = 0
            self._sent_before.clear()
            self.admissions.clear()

    # request handling ----------------------------------------------------------------------
    def _chat(self, body: dict) -> tuple[int, dict, bytes]:
        """Status, extra headers and body for one chat completion request."""
        with self._lock:
            self.chat_requests += 1
            n = self.chat_requests
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            key = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
            attempt = self._sent_before.get(key, 0)
            self._sent_before[key] = attempt + 1
            draws = random.Random(f"{self.seed}:{key}:{attempt}")
            rate_limit = bool(self.rate_limit_every and n % self.rate_limit_every == 0) or (
                draws.random() < self.rate_limit_fraction
            )
            server_error = bool(self.server_error_every and n % self.server_error_every == 0)
            malformed = draws.random() < self.malformed_fraction
            fault = self.fault if self.fault and (self.fault_count is None or self.faults < self.fault_count) else None
            if fault:
                self.faults += 1
            latency = draws.uniform(self.latency, self.latency_max) if self.latency_max else self.latency
        try:
            # A limited server charges a request's completion when it is admitted: the answer is known first.
            answer = self.responder(body) if self.buckets and not (fault or rate_limit or malformed) else None
            limits = self._admit(body, answer) if self.buckets and not fault else {"admitted": True, "headers": {}}
            if fault:
                return self._fault(fault, body)
            if rate_limit or not limits["admitted"]:  # a real limiter answers at once, before any model work
                with self._lock:
                    self.rate_limited += 1
                return (
                    429,
                    {**limits["headers"], **self._retry_after_headers(limits.get("wait"))},
                    _error_body("Rate limit reached", "rate_limit_exceeded"),
                )
            time.sleep(latency)
            if server_error:
                with self._lock:
                    self.server_errors += 1
                return 500, self._retry_after_headers(), _error_body("The server had an error", "server_error")
            if malformed:
                return 200, {}, self._malformed_body(body)
            answer = self.responder(body) if answer is None else answer
            return 200, limits["headers"], json.dumps(_completion(body, answer)).encode()
        finally:
            with self._lock:
                self.in_flight -= 1

    def _admit(self, body: dict, answer: str | dict | None) -> dict:
        """Charge a request to the buckets: {"admitted", "headers", "wait" (seconds, when refused)}."""
        usage = _completion(body, answer or "")["usage"]
        completion = body.get("max_tokens") or body.get("max_completion_tokens") or usage["completion_tokens"]
        needs = {"requests": 1.0, "tokens": float(usage["prompt_tokens"] + completion)}
        with self._lock:
            now = time.monotonic()
            wait = max(bucket.wait_for(needs[kind], now) for kind, bucket in self.buckets.items())
            if wait <= 0:
                for kind, bucket in self.buckets.items():
                    bucket.take(needs[kind], now)
                self.admissions.append((now, needs["tokens"]))
            headers = {}
            if self.rate_limit_headers:
                for kind, bucket in self.buckets.items():
                    headers.update(bucket.headers(kind, now))
        return {"admitted": wait <= 0, "headers": headers, "wait": wait}

    def _fault(self, kind: str, body: dict) -> tuple[int, dict, bytes]:
        if kind == "hang":  # no answer until the client gives up (or the hang ends): then hang up
            self._closing.wait(self.hang_seconds)
            raise _Reset("hung")
        if kind == "reset":
            raise _Reset("reset")
        if kind == "truncated_json":
            return 200, {}, json.dumps(_completion(body, "Is this cut short?")).encode()[:40]
        if kind == "html":
            page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
            return 200, {"Content-Type": "text/html"}, page
        completion = _completion(body, "")
        completion["choices"] = []
        return 200, {}, json.dumps(completion).encode()

    def _retry_after_headers(self, seconds: float | None = None) -> dict:
        seconds = self.retry_after if seconds is None else seconds
        if seconds is None:
            return {}
        return {"retry-after-ms": str(math.ceil(seconds * 1000)), "retry-after": str(math.ceil(seconds))}

    def _malformed_body(self, body: dict) -> bytes:
        with self._lock:
            kind = MALFORMED_KINDS[self.malformed % len(MALFORMED_KINDS)]
            self.malformed += 1
        if kind == "invalid_json":
            return b'{"id": "chatcmpl-broken", "choices": [{"message": '
        content = "" if kind == "empty" else "I am sorry, I cannot help with that."
        return json.dumps(_completion(body, content)).encode()

    def _record(self, path: str, body: dict | None, status: int, authorization: str | None) -> None:
        with self._lock:
            self.requests.append(RecordedRequest(time.monotonic(), path, body, status, authorization))


class _Bucket:
    """A provider's per-minute limit: refilled continuously, holding `seconds` worth of it."""

    def __init__(self, per_minute: float, seconds: float):
        self.per_minute = per_minute
        self.rate = per_minute / 60
        self.capacity = max(1.0, self.rate * seconds)
        self.level = self.capacity
        self.at = time.monotonic()

    def _refill(self, now: float) -> None:
        self.level, self.at = min(self.capacity, self.level + self.rate * (now - self.at)), now

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until `amount` fits (a request larger than the bucket waits for a full one)."""
        self._refill(now)
        return max(0.0, (min(amount, self.capacity) - self.level) / self.rate)

    def take(self, amount: float, now: float) -> None:
        self._refill(now)
        self.level -= amount

    def headers(self, kind: str, now: float) -> dict:
        self._refill(now)
        return {
            f"x-ratelimit-limit-{kind}": str(int(self.per_minute)),
            f"x-ratelimit-remaining-{kind}": str(max(0, int(self.level))),
            f"x-ratelimit-reset-{kind}": _duration((self.capacity - self.level) / self.rate),
        }


def _duration(seconds: float) -> str:
    """OpenAI's form of a reset time: "120ms", "1.5s", "6m0s"."""
    if seconds < 1:
        return f"{max(0, round(seconds * 1000))}ms"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.3g}s" if minutes else f"{rest:.3g}s"


def _completion(request: dict, answer: str | dict) -> dict:
    message = answer if isinstance(answer, dict) else {"role": "assistant", "content": answer}
    prompt_chars = sum(len(str(m.get("content") or "")) for m in request.get("messages", []))
    completion_chars = len(json.dumps(message) if isinstance(answer, dict) else answer)
    prompt_tokens, completion_tokens = max(1, prompt_chars // 4), completion_chars // 4
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return {
        "id": f"chatcmpl-fake-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake-model"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _error_body(message: str, code: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": code, "param": None, "code": code}}).encode()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 drops connection bursts, and a dropped SYN costs the
    # client a 1 s retransmit: a delay of the fake server's making that no real API shows.
    request_queue_size = 256

    def handle_error(self, request, client_address) -> None:
        # A client that timed out and hung up is part of what tests provoke, not a server fault.
        pass


class _Handler(BaseHTTPRequestHandler):
    # The fine-tuning routes (files, jobs, events, checkpoints) are in the block at the end.
    protocol_version = "HTTP/1.1"  # keep-alive, as real API servers do
    # Headers and body go out in two writes; with Nagle on, delayed ACKs add ~40 ms to each answer.
    disable_nagle_algorithm = True
    fake: FakeOpenAIServer

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if self._batch_route("GET", path, b"") or _fine_tuning_route(self, "GET", path, b""):
            return
        if path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.fake.models]
            self._send(path, None, 200, {}, json.dumps({"object": "list", "data": data}).encode())
        else:
            self._send(path, None, 404, {}, _error_body(f"no route {path}", "not_found"))

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self._batch_route("POST", path, raw) or _fine_tuning_route(self, "POST", path, raw):
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(path, None, 400, {}, _error_body("the body is not JSON", "invalid_request_error"))
            return
        if path not in ("/v1/chat/completions", "/inference/v1/chat/completions"):  # the second: Fireworks' path
            self._send(path, body, 404, {}, _error_body(f"no route {path}", "not_found"))
            return
        try:
            status, headers, payload = self.fake._chat(body)
        except _Reset:
            self._reset(path, body)
            return
        self._send(path, body, status, headers, payload)

    def _batch_route(self, method: str, path: str, raw: bytes) -> bool:
        """Answer a files or batches request (when the fake serves batches); False otherwise."""
        return self.fake.batches is not None and self.fake.batches.route(self, method, path, raw)

    def _reset(self, path: str, body: dict) -> None:
        """Close the connection with a TCP reset (SO_LINGER 0), as a crashed proxy does."""
        self.fake._record(path, body, 0, self.headers.get("Authorization"))
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # the reset goes out once the handler's files close too
        except OSError:
            pass

    def _send(self, path: str, body: dict | None, status: int, headers: dict, payload: bytes) -> None:
        self.fake._record(path, body, status, self.headers.get("Authorization"))
        self.send_response(status)
        headers = {"Content-Type": "application/json", **headers}
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


# --- fine-tuning: /v1/files and /v1/fine_tuning/jobs (issue 11; Together's and Fireworks' paths: fake_together.py,
# fake_fireworks.py) ---
# A job advances one state each time it is retrieved: validating_files -> queued -> running (one
# training step, with a metrics event, per retrieve; a checkpoint each `checkpoint_every` steps) ->
# succeeded (model "ft:<base>:fake::<job>"). `fail_at_step` makes it fail there; a training file
# whose lines are not chat lines fails it at validation; cancel stops it. Only `fine_tunable` base
# models are accepted. `upload_errors` uploads are answered 500 before any is taken. Nothing here runs
# unless the server is made with fine_tuning=True.
_FT_ROUTE = re.compile(r"^/v1/fine_tuning/jobs(?:/([^/]+)(?:/(cancel|events|checkpoints))?)?$")


class FakeFineTuning:
    def __init__(
        self,
        fine_tunable: tuple[str, ...] = ("fake-base",),
        steps: int = 4,
        checkpoint_every: int = 2,
        fail_at_step: int | None = None,
    ):
        self.fine_tunable = fine_tunable
        self.steps = steps
        self.checkpoint_every = checkpoint_every
        self.fail_at_step = fail_at_step
        self.upload_errors = 0
        self.files: dict[str, dict] = {}
        self.jobs: dict[str, dict] = {}
        self.events: dict[str, list[dict]] = {}
        self.checkpoints: dict[str, list[dict]] = {}
        self.lock = threading.Lock()

    def upload(self, fields: dict[str, bytes], filename: str) -> tuple[int, dict]:
        purpose = fields.get("purpose", b"").decode()
        if "file" not in fields or not purpose:
            return 400, {"error": {"message": "file and purpose are required", "type": "invalid_request_error"}}
        with self.lock:
            if self.upload_errors:
                self.upload_errors -= 1
                return 500, {"error": {"message": "The server had an error", "type": "server_error"}}
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = {"content": fields["file"], "purpose": purpose, "filename": filename}
        return 200, {
            "id": file_id,
            "object": "file",
            "bytes": len(fields["file"]),
            "created_at": int(time.time()),
            "filename": filename,
            "purpose": purpose,
            "status": "processed",
        }

    def create(self, body: dict) -> tuple[int, dict]:
        model, training_file = body.get("model"), body.get("training_file")
        if model not in self.fine_tunable:
            return 400, {
                "error": {
                    "message": f"Model {model} is not available for fine-tuning",
                    "type": "invalid_request_error",
                    "param": "model",
                    "code": "model_not_available",
                }
            }
        for key in ("training_file", "validation_file"):
            if body.get(key) is not None and body[key] not in self.files:
                return 400, {"error": {"message": f"{key} {body[key]} not found", "type": "invalid_request_error"}}
        with self.lock:
            job_id = f"ftjob-{len(self.jobs) + 1}"
            self.jobs[job_id] = {
                "id": job_id,
                "object": "fine_tuning.job",
                "created_at": int(time.time()),
                "error": None,
                "fine_tuned_model": None,
                "finished_at": None,
                "model": model,
                "organization_id": "org-fake",
                "result_files": [],
                "seed": 0,
                "status": "validating_files",
                "trained_tokens": None,
                "training_file": training_file,
                "validation_file": body.get("validation_file"),
                "hyperparameters": {"n_epochs": "auto", "batch_size": "auto", "learning_rate_multiplier": "auto"},
                "method": body.get("method"),
                "suffix": body.get("suffix"),
                "step": 0,
            }
            self.events[job_id], self.checkpoints[job_id] = [], []
            self._event(job_id, f"Created fine-tuning job: {job_id}")
            return 200, self._public(job_id)

    def retrieve(self, job_id: str) -> dict:
        with self.lock:
            self._advance(self.jobs[job_id])
            return self._public(job_id)

    def cancel(self, job_id: str) -> dict:
        with self.lock:
            job = self.jobs[job_id]
            if job["status"] not in ("succeeded", "failed", "cancelled"):
                job.update(status="cancelled", finished_at=int(time.time()))
                self._event(job_id, "Fine-tuning job cancelled")
            return self._public(job_id)

    def _advance(self, job: dict) -> None:
        job_id, status = job["id"], job["status"]
        if status == "validating_files":
            problem = self._bad_training_file(job["training_file"])
            if problem:
                self._finish(
                    job, "failed", error={"code": "invalid_training_file", "message": problem, "param": "training_file"}
                )
            else:
                job["status"] = "queued"
                self._event(job_id, "Files validated, moving job to queued state")
        elif status == "queued":
            job["status"] = "running"
            self._event(job_id, "Fine-tuning job started")
        elif status == "running":
            job["step"] += 1
            step = job["step"]
            if step == self.fail_at_step:
                self._finish(
                    job,
                    "failed",
                    error={"code": "server_error", "message": "The job failed due to an internal error", "param": None},
                )
                return
            metrics = {
                "step": step,
                "train_loss": round(2.0 / step, 4),
                "train_mean_token_accuracy": round(min(1.0, 0.5 + 0.1 * step), 4),
                "total_steps": self.steps,
            }
            self._event(job_id, f"Step {step}/{self.steps}: training loss={metrics['train_loss']}", "metrics", metrics)
            if step % self.checkpoint_every == 0 or step == self.steps:
                self.checkpoints[job_id].append(
                    {
                        "id": f"ftckpt-{job_id}-{step}",
                        "object": "fine_tuning.job.checkpoint",
                        "created_at": int(time.time()),
                        "fine_tuned_model_checkpoint": f"ft:{job['model']}:fake::{job_id}:ckpt-step-{step}",
                        "fine_tuning_job_id": job_id,
                        "step_number": step,
                        "metrics": {
                            "step": step,
                            "train_loss": metrics["train_loss"],
                            "train_mean_token_accuracy": metrics["train_mean_token_accuracy"],
                        },
                    }
                )
            if step >= self.steps:
                job["fine_tuned_model"] = f"ft:{job['model']}:fake::{job_id}"
                job["trained_tokens"] = 1000 * self.steps
                self._finish(job, "succeeded")
                self._event(job_id, "The job has successfully completed")

    def _bad_training_file(self, file_id: str) -> str | None:
        for number, line in enumerate(self.files[file_id]["content"].decode().splitlines(), start=1):
            try:
                ok = isinstance(json.loads(line).get("messages"), list)
            except (json.JSONDecodeError, AttributeError):
                ok = False
            if not ok:
                return f"Invalid file format. Line {number}: not a chat example with messages"
        return None

    def _finish(self, job: dict, status: str, error: dict | None = None) -> None:
        job.update(status=status, finished_at=int(time.time()), error=error)
        if error:
            self._event(job["id"], error["message"], level="error")

    def _event(
        self, job_id: str, message: str, kind: str = "message", data: dict | None = None, level: str = "info"
    ) -> None:
        events = self.events[job_id]
        events.append(
            {
                "id": f"ftevent-{job_id}-{len(events) + 1}",
                "object": "fine_tuning.job.event",
                "created_at": int(time.time()),
                "level": level,
                "message": message,
                "type": kind,
                "data": data or {},
            }
        )

    def _public(self, job_id: str) -> dict:
        return {k: v for k, v in self.jobs[job_id].items() if k not in ("step", "suffix")}

    def answer(self, method: str, path: str, raw: bytes, content_type: str) -> tuple[int, dict] | None:
        """(status, body) for a files or fine-tuning request; None for any other path."""
        if method == "POST" and path == "/v1/files":
            fields, filename = _multipart(raw, content_type)
            return self.upload(fields, filename)
        match = _FT_ROUTE.match(path)
        if not match:
            return None
        job_id, action = match.groups()
        if job_id is None:
            if method == "POST":
                return self.create(json.loads(raw or b"{}"))
            return 200, {"object": "list", "data": [self._public(j) for j in reversed(self.jobs)], "has_more": False}
        if job_id not in self.jobs:
            return 404, {"error": {"message": f"No fine-tuning job {job_id}", "type": "invalid_request_error"}}
        if action == "cancel" and method == "POST":
            return 200, self.cancel(job_id)
        if action == "events":  # newest first, as OpenAI lists them
            return 200, {"object": "list", "data": self.events[job_id][::-1], "has_more": False}
        if action == "checkpoints":
            return 200, {"object": "list", "data": self.checkpoints[job_id][::-1], "has_more": False}
        return 200, self.retrieve(job_id)


def _multipart(raw: bytes, content_type: str) -> tuple[dict[str, bytes], str]:
    """The fields of a multipart/form-data body, and the uploaded file's name."""
    from email.parser import BytesParser
    from email.policy import HTTP

    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    fields, filename = {}, ""
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields[name] = part.get_payload(decode=True)
        filename = part.get_filename() or filename
    return fields, filename


def _fine_tuning_route(handler: _Handler, method: str, path: str, raw: bytes) -> bool:
    """Answer a files or fine-tuning request (when the fake serves fine-tuning); False otherwise."""
    if not handler.fake.fine_tuning:
        return False
    from tests import fake_fireworks, fake_together

    content_type = handler.headers.get("Content-Type", "")
    answer = (
        handler.fake.ft.answer(method, path, raw, content_type)
        or fake_together.answer(handler.fake.ft, method, path, raw, content_type, _multipart)
        or fake_fireworks.answer(handler.fake.ft, method, path, raw, content_type, _multipart)
    )
    if answer is None:
        return False
    status, body = answer
    handler._send(path, None, status, {}, json.dumps(body).encode())
    return True
