"""Many chat completions through a provider's Batch API: cheaper, slower, resumable.

`complete_in_batch` writes the requests as JSONL, uploads them (files API, purpose "batch"),
creates a batch, polls it with progress, downloads and parses its output and error files, and
sends again, in a new batch, only the lines that failed for a reason a retry can cure (5xx, 429,
expired before they ran), at most `max_batches` times per line. Everything it learns goes to a
state file (`state_path`) as it happens: the batch in flight (its input file before it is
created, its id after), each line's answer or final failure. A run stopped anywhere (kill -9, app
restart, network gone) and called again with the same state path picks the batch up where it was
and never pays for a line twice. Lines are named by their content, so a call with fewer prompts
(some answered from a cache meanwhile) still finds theirs. A job being stopped cancels its batches
at the provider (`cancel_batches_in_flight`); started again, it sends the lines they did not run.

`batch_unavailable_reason` tells whether an endpoint offers /v1/batches at all (OpenAI and Azure
do; Ollama, LM Studio and vLLM's server do not).
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import openai

from ..errors import RagtuneError
from ..network import Answer, read_answer
from ..store.files import atomic_write_text
from .client import WaitCallback, chat_request, make_client, wait_callback
from .config import OPENAI_BASE_URL, LLMConfig
from .outcomes import Completion, Failure, Outcome, parse_completion
from .retries import CONNECTION_ERRORS, MALFORMED_ERRORS, MalformedResponse, describe_error, retry_delay
from .schemas import BatchAnswer, BatchFailure, BatchLine, BatchList, FileAnswer, LineResponse

ENDPOINT = "/v1/chat/completions"
TERMINAL = ("completed", "failed", "expired", "cancelled")
# Polls come quickly at first (a small batch may be done in a minute), then every minute at most.
FIRST_POLL_SECONDS = 2.0
MAX_POLL_SECONDS = 60.0
# A batch ends within its 24 h completion window (expired, at worst); past this margin, polling stops.
MAX_WAIT_SECONDS = 25 * 3600.0
MAX_BATCHES_PER_LINE = 3
MAX_POLL_FAILURES = 8  # consecutive failed polls before giving up for now (the state keeps the batch)
UNRUN_CODES = {"batch_expired": True, "batch_cancelled": False}  # lines a batch never ran: retry them?
STATE_VERSION = 1
# State file -> config of each complete_in_batch going on in this process: what a stopped job cancels.
_in_flight: dict[Path, LLMConfig] = {}


class BatchError(RagtuneError):
    """The Batch API cannot go on now (the endpoint refuses, the network is gone); the state file keeps
    the batch, so calling again resumes it."""


@dataclass
class _State:
    """What the state file holds: lines answered or failed for good, and the batch in flight."""

    results: dict[str, dict] = field(default_factory=dict)  # custom_id -> {content, prompt/completion tokens}
    failures: dict[str, str] = field(default_factory=dict)  # custom_id -> why, for good
    errors: dict[str, str] = field(default_factory=dict)  # custom_id -> its last error, to be retried
    sent: dict[str, int] = field(default_factory=dict)  # custom_id -> batches it was in
    batch: dict | None = None  # {"input_file_id", "id" (None until created), "custom_ids"}
    history: list[dict] = field(default_factory=list)  # every batch's id, status and counts

    @classmethod
    def load(cls, path: Path) -> _State:
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BatchError(f"the batch state {path} cannot be read ({exc}); move it away to start over") from exc
        if data.get("version") != STATE_VERSION:
            raise BatchError(f"the batch state {path} is of another version; move it away to start over")
        return cls(**{k: v for k, v in data.items() if k != "version"})

    def save(self, path: Path) -> None:
        atomic_write_text(path, json.dumps({"version": STATE_VERSION, **self.__dict__}))


# is there a Batch API? --------------------------------------------------------------------------
def batch_unavailable_reason(config: LLMConfig, timeout: float = 10.0) -> str | None:
    """None when the endpoint answers /v1/batches; else why the batch mode cannot be used there."""
    where = config.base_url or "OpenAI's API"
    try:
        make_client(config, timeout=timeout).batches.list(limit=1)
    except openai.APIStatusError as exc:
        if exc.status_code in (404, 405, 501):
            return f"{where} has no Batch API (/v1/batches answered HTTP {exc.status_code})"
        return f"{where} refused the Batch API: {describe_error(exc)}"
    except CONNECTION_ERRORS as exc:
        return f"{where} could not be asked for its Batch API: {describe_error(exc)}"
    except (MalformedResponse, *MALFORMED_ERRORS) as exc:
        return f"{where} answered /v1/batches with something else: {describe_error(exc)}"
    return None


# one batch run ------------------------------------------------------------------------------------
def complete_in_batch(
    config: LLMConfig,
    prompts: list[list[dict]],
    state_path: Path,
    on_done: Callable[[Outcome], None] | None = None,
    on_wait: WaitCallback | None = None,
    poll_seconds: float | None = None,
    max_batches: int = MAX_BATCHES_PER_LINE,
    sleep: Callable[[float], None] | None = None,
    max_wait_seconds: float = MAX_WAIT_SECONDS,
    **request_options,
) -> list[Outcome]:
    """Send every prompt through the Batch API; one Completion or Failure per prompt, in prompt order.

    `on_done` is called for each prompt as its answer (or final failure) arrives; `on_wait` (default:
    the `report_waits` callback in effect) with a line for each poll ("batch batch_abc in_progress:
    120/300 requests done"); polls come every `poll_seconds`, by default after 2 s, then half as long
    again each time up to a minute, for at most `max_wait_seconds` per batch. Raises BatchError when the
    endpoint cannot be used right now, answers in another shape (schemas.py) or the batch outlasts its
    wait: the state file at `state_path` keeps the batch, so the same call later resumes it.

    Example::

        outcomes = complete_in_batch(replace(config, batch=True), prompts, run_dir / "batch.json")
    """
    state_path = Path(state_path)
    bodies = [chat_request(config, p, request_options) for p in prompts]
    ids = [_custom_id(body) for body in bodies]
    by_id = {cid: body for cid, body in zip(ids, bodies, strict=True)}
    first = {cid: index for index, cid in reversed(list(enumerate(ids)))}  # a repeated prompt's usage counts once
    state = _State.load(state_path)
    run = _BatchRun(
        make_client(config),
        config.base_url or OPENAI_BASE_URL,
        state,
        state_path,
        wait_callback(on_wait),
        poll_seconds,
        sleep or time.sleep,
        max_wait_seconds,
    )
    reported: set[int] = set()

    def report_new() -> None:
        for index, cid in enumerate(ids):
            if index not in reported and (cid in state.results or cid in state.failures):
                reported.add(index)
                if on_done:
                    on_done(_outcome(state, cid, index, first=first[cid] == index))

    report_new()
    _in_flight[state_path] = config
    try:
        while True:
            if state.batch is not None:
                run.finish_batch(max_batches)
                report_new()
            pending = [cid for cid in dict.fromkeys(ids) if cid not in state.results and cid not in state.failures]
            if not pending:
                break
            for cid in [c for c in pending if state.sent.get(c, 0) >= max_batches]:
                state.failures[cid] = f"gave up after {state.sent[cid]} batches: {state.errors.get(cid, 'no answer')}"
            pending = [cid for cid in pending if cid not in state.failures]
            if pending:
                run.submit({cid: by_id[cid] for cid in pending})
            else:
                state.save(state_path)
    finally:
        _in_flight.pop(state_path, None)
    report_new()
    return [_outcome(state, cid, index, first=first[cid] == index) for index, cid in enumerate(ids)]


def cancel_batch(config: LLMConfig, state_path: Path) -> str | None:
    """Ask the provider to cancel the batch in flight of this state file; its id, or None if there is none.
    Lines the batch answered before it stopped are kept when the run is resumed; the rest fail as cancelled."""
    state = _State.load(Path(state_path))
    batch_id = (state.batch or {}).get("id")
    if batch_id:
        make_client(config).batches.cancel(batch_id)
    return batch_id


def cancel_batches_in_flight() -> dict[str, str]:
    """Cancel at the provider every batch a `complete_in_batch` of this process is waiting for, as a
    stopped job does: {batch id: "cancelled", or why it could not be}. Unlike `cancel_batch` alone, the
    run is marked stopped, so that started again it sends the lines the batch did not run."""
    outcomes = {}
    for path, config in list(_in_flight.items()):
        state = _State.load(path)
        batch_id = (state.batch or {}).get("id")
        if not batch_id:
            continue  # not created yet: started again, the run creates it from its uploaded file
        try:
            make_client(config).batches.cancel(batch_id)
        except (openai.APIStatusError, *CONNECTION_ERRORS) as exc:
            outcomes[batch_id] = describe_error(exc)
            continue
        state.batch["stopped"] = True
        state.save(path)
        outcomes[batch_id] = "cancelled"
    return outcomes


def _custom_id(body: dict) -> str:
    """A line's name: its request's content, so the same request is the same line across runs."""
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def _outcome(state: _State, cid: str, index: int, first: bool) -> Outcome:
    """A prompt's outcome; a repeated prompt shares its line's answer but its usage is counted once."""
    attempts = state.sent.get(cid, 0)
    if cid in state.results:
        result = state.results[cid]
        tokens = (result["prompt_tokens"], result["completion_tokens"]) if first else (0, 0)
        return Completion(index, result["content"], *tokens, attempts=attempts, tool_calls=result.get("tool_calls", []))
    return Failure(index, state.failures.get(cid, "no answer"), attempts)


@dataclass
class _BatchRun:
    client: openai.OpenAI
    endpoint: str  # the base URL, for messages
    state: _State
    path: Path
    on_wait: WaitCallback | None
    poll_seconds: float | None  # None: FIRST_POLL_SECONDS, growing to MAX_POLL_SECONDS
    sleep: Callable[[float], None]
    max_wait_seconds: float

    def submit(self, bodies: dict[str, dict]) -> None:
        """Upload the lines and create their batch, saving the state after each step."""
        lines = "".join(
            json.dumps({"custom_id": cid, "method": "POST", "url": ENDPOINT, "body": body}) + "\n"
            for cid, body in bodies.items()
        )
        upload = self._read(
            FileAnswer,
            "/files",
            self._call(
                lambda: self.client.files.create(
                    file=("ragtune-batch.jsonl", io.BytesIO(lines.encode("utf-8")), "application/jsonl"),
                    purpose="batch",
                )
            ),
        )
        self.state.batch = {"input_file_id": upload.id, "id": None, "custom_ids": list(bodies)}
        for cid in bodies:
            self.state.sent[cid] = self.state.sent.get(cid, 0) + 1
        self.state.save(self.path)
        self._create()

    def _create(self) -> None:
        batch = self._read(
            BatchAnswer,
            "/batches",
            self._call(
                lambda: self.client.batches.create(
                    input_file_id=self.state.batch["input_file_id"],
                    endpoint=ENDPOINT,
                    completion_window="24h",
                    metadata={"created_by": "ragtune"},
                )
            ),
        )
        self.state.batch["id"] = batch.id
        self.state.save(self.path)

    def finish_batch(self, max_batches: int) -> None:
        """Wait for the batch in flight to end, then keep its answers and sort its failures."""
        batch_id = self.state.batch["id"] or self._created_before()
        if batch_id is None:  # stopped between upload and create: create it now
            self._create()
            batch_id = self.state.batch["id"]
        batch = self._poll(batch_id)
        counts = batch.request_counts.model_dump() if batch.request_counts else {}
        self.state.history.append({"id": batch.id, "status": batch.status, **counts})
        unseen = set(self.state.batch["custom_ids"])
        if batch.status == "failed":
            why = (
                "; ".join(e.message or e.code or "" for e in (batch.errors.data if batch.errors else []))
                or "no reason given"
            )
            for cid in unseen:
                self.state.failures[cid] = f"the batch {batch.id} failed: {why}"
        else:
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    for line in self._call(
                        lambda file_id=file_id: self.client.files.content(file_id)
                    ).text.splitlines():
                        if line.strip():
                            unseen.discard(self._read_line(self._line(line, file_id), batch))
            for cid in unseen:
                self._unrun(cid, batch, retry=batch.status == "expired")
        self.state.batch = None
        self.state.save(self.path)

    def _created_before(self) -> str | None:
        """The batch made from our uploaded file, if the run stopped after creating it but before saving its id."""
        file_id = self.state.batch["input_file_id"]
        listed = self._read(BatchList, "/batches", self._call(lambda: self.client.batches.list(limit=100)))
        for batch in listed.data:
            if batch.input_file_id == file_id:
                self.state.batch["id"] = batch.id
                self.state.save(self.path)
                return batch.id
        return None

    def _poll(self, batch_id: str) -> BatchAnswer:
        """The batch once it ends; BatchError if it has not after `max_wait_seconds` (the state keeps it)."""
        wait, deadline = FIRST_POLL_SECONDS, time.monotonic() + self.max_wait_seconds
        while True:
            batch = self._read(
                BatchAnswer, f"/batches/{batch_id}", self._call(lambda: self.client.batches.retrieve(batch_id))
            )
            counts = batch.request_counts
            done = f", {counts.completed + counts.failed}/{counts.total} requests done" if counts else ""
            if batch.status in TERMINAL:
                if self.on_wait:
                    self.on_wait(f"batch {batch.id} {batch.status}{done}")
                return batch
            pause = wait if self.poll_seconds is None else self.poll_seconds
            if time.monotonic() + pause > deadline:
                raise BatchError(
                    f"batch {batch.id} is still {batch.status} after {self.max_wait_seconds / 3600:.3g} h "
                    f"of waiting for it to end; the batch is kept in {self.path}: run again to resume it"
                )
            if self.on_wait:
                self.on_wait(f"waiting for batch {batch.id} to end: {batch.status}{done}")
            self.sleep(pause)
            wait = min(MAX_POLL_SECONDS, wait * 1.5)

    def _read(self, shape: type[Answer], path: str, answer):
        return read_answer(shape, answer, f"{self.endpoint}{path}", BatchError)

    def _line(self, line: str, file_id: str) -> BatchLine:
        """One line of a batch's output or error file; BatchError naming the file for a line of another shape."""
        try:
            data = json.loads(line)
        except ValueError:
            data = line
        return self._read(BatchLine, f"/files/{file_id}/content", data)

    def _read_line(self, line: BatchLine, batch: BatchAnswer) -> str | None:
        """Keep one output or error line's answer or failure; its custom_id."""
        cid = line.custom_id
        if cid not in self.state.batch["custom_ids"]:
            return None
        response, error = line.response or LineResponse(), line.error or BatchFailure()
        status = response.status_code
        if status == 200:
            try:
                completion = parse_completion(
                    0, response.body, self.state.sent.get(cid, 1), endpoint=f"the batch {batch.id}'s line {cid}"
                )
            except (MalformedResponse, *MALFORMED_ERRORS) as exc:
                self.state.failures[cid] = describe_error(exc)
            else:
                self.state.results[cid] = {
                    "content": completion.content,
                    "prompt_tokens": completion.prompt_tokens,
                    "completion_tokens": completion.completion_tokens,
                    "tool_calls": completion.tool_calls,
                }
                self.state.errors.pop(cid, None)
            return cid
        if error.code in UNRUN_CODES:
            self._unrun(cid, batch, retry=UNRUN_CODES[error.code])
            return cid
        message = _error_message(response.body) or error.message or "no reason"
        why = f"HTTP {status}: {message}" if status else f"{error.code or 'error'}: {message}"
        if status in (408, 409, 429) or (status or 0) >= 500:
            self.state.errors[cid] = why
        else:
            self.state.failures[cid] = why
        return cid

    def _unrun(self, cid: str, batch, retry: bool) -> None:
        """A line the batch never ran: sent again if it expired or its run was stopped (a cancelled job
        started over), failed for good if it was cancelled otherwise."""
        why = f"the batch {batch.id} was {batch.status} before this request ran"
        if retry or self.state.batch.get("stopped"):
            self.state.errors[cid] = why
        else:
            self.state.failures[cid] = why

    def _call(self, request: Callable):
        """One Batch or files API call, retried through short outages; BatchError when they last."""
        for attempt in range(MAX_POLL_FAILURES):
            try:
                return request()
            except openai.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code not in (408, 409, 429):
                    raise BatchError(f"the Batch API refused: {describe_error(exc)}") from exc
                error = exc
            except CONNECTION_ERRORS as exc:
                error = exc
            if self.on_wait:
                self.on_wait(f"waiting for the Batch API ({describe_error(error)})")
            self.sleep(retry_delay(attempt))
        raise BatchError(
            f"the Batch API did not answer ({describe_error(error)}); the batch is kept in "
            f"{self.path}: run again to resume it"
        )


def _error_message(body) -> str | None:
    """The message of an error body ({"error": {"message": ...}}), whatever else the body holds."""
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None
