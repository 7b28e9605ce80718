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
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

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
    wanted = re.search(r"setup (\d+) questions", prompt)
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
    def __init__(self, responder: Responder = question_responder, latency: float = 0.0,
                 rate_limit_every: int | None = None, rate_limit_fraction: float = 0.0,
                 retry_after: float | None = 0.2, server_error_every: int | None = None,
                 malformed_fraction: float = 0.0, fine_tuning: bool = False,
                 models: tuple[str, ...] = ("fake-model",), seed: int = 0,
                 fault: str | None = None, fault_count: int | None = None, hang_seconds: float = 5.0):
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
                draws.random() < self.rate_limit_fraction)
            server_error = bool(self.server_error_every and n % self.server_error_every == 0)
            malformed = draws.random() < self.malformed_fraction
            fault = self.fault if self.fault and (self.fault_count is None or self.faults < self.fault_count) else None
            if fault:
                self.faults += 1
        try:
            if fault:
                return self._fault(fault, body)
            if rate_limit:  # a real limiter answers at once, before any model work
                with self._lock:
                    self.rate_limited += 1
                return 429, self._retry_after_headers(), _error_body("Rate limit reached", "rate_limit_exceeded")
            time.sleep(self.latency)
            if server_error:
                with self._lock:
                    self.server_errors += 1
                return 500, self._retry_after_headers(), _error_body("The server had an error", "server_error")
            if malformed:
                return 200, {}, self._malformed_body(body)
            answer = self.responder(body)
            return 200, {}, json.dumps(_completion(body, answer)).encode()
        finally:
            with self._lock:
                self.in_flight -= 1

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

    def _retry_after_headers(self) -> dict:
        if self.retry_after is None:
            return {}
        return {"retry-after-ms": str(int(self.retry_after * 1000)), "retry-after": str(math.ceil(self.retry_after))}

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
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
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
    protocol_version = "HTTP/1.1"  # keep-alive, as real API servers do
    # Headers and body go out in two writes; with Nagle on, delayed ACKs add ~40 ms to each answer.
    disable_nagle_algorithm = True
    fake: FakeOpenAIServer

    def log_message(self, format, *args) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/v1/models":
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.fake.models]
            self._send(path, None, 200, {}, json.dumps({"object": "list", "data": data}).encode())
        elif path == "/v1/fine_tuning/jobs" and self.fake.fine_tuning:
            self._send(path, None, 200, {}, json.dumps({"object": "list", "data": [], "has_more": False}).encode())
        else:
            self._send(path, None, 404, {}, _error_body(f"no route {path}", "not_found"))

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(path, None, 400, {}, _error_body("the body is not JSON", "invalid_request_error"))
            return
        if path != "/v1/chat/completions":
            self._send(path, body, 404, {}, _error_body(f"no route {path}", "not_found"))
            return
        try:
            status, headers, payload = self.fake._chat(body)
        except _Reset:
            self._reset(path, body)
            return
        self._send(path, body, status, headers, payload)

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
