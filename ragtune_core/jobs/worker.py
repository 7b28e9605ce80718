"""Entry point of a job's worker process: `python -m ragtune_core.jobs.worker WORKSPACE RUN_ID`.

Runs the task named in the run's spec.json, turning its progress and events into the run's
status.json and events.jsonl.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Annotated

import pydantic

from ..llm.config import JOB_API_KEY_ENV
from ..runs import EventKind, JobState
from ..store.files import read_json
from ..store.shapes import FILE_SHAPE, expect
from ..store.workspace import Workspace
from ..timing.work import UNIT_SECONDS
from .runner import events_path, finish_status, load_status, write_status
from .tasks import TASKS


class JobContext:
    """What a task sees of its run: parameters, a folder, and ways to report progress."""

    def __init__(self, ws: Workspace, run_id: str):
        self.workspace = ws
        self.run_id = run_id
        self.run_dir = ws.run_dir(run_id)
        self._status = load_status(ws, run_id)
        self._events = events_path(ws, run_id).open("a", encoding="utf-8")
        self._last_write = 0.0

    def emit(self, event: EventKind, **data) -> None:
        """Append one event (a training step's loss, an evaluation's metrics...) to the log."""
        record = {"event": event, "time": time.time(), **data}
        self._events.write(json.dumps(record) + "\n")
        self._events.flush()

    def progress(self, done: int, total: int, message: str | None = None, force: bool = False) -> None:
        self._status.advance(done, total)
        if message is not None:
            self._status.message = message
        now = time.time()
        # Status writes are throttled: a fast task must not spend its time rewriting a file.
        if force or done >= total or now - self._last_write > 0.25:
            self._status.updated = now
            write_status(self.workspace, self._status)
            self._last_write = now

    def count_in_estimated_seconds(self, expected_share: float = 1.0) -> None:
        """The run reports its progress in a timing.Meter's units, estimated seconds (Eta.unit_seconds), and
        of its total work is expected to do `expected_share` (Eta.expected_share): its ETA aims there."""
        self._status.eta.expected_share = expected_share
        self._status.eta.unit_seconds = UNIT_SECONDS

    def complete(self, message: str) -> None:
        """The bar full, with the run's closing line (what it reached)."""
        total = self._status.total or 1
        self.progress(total, total, message, force=True)

    def elapsed(self) -> float:
        """Seconds since the run started."""
        return time.time() - (self._status.started or time.time())

    def note(self, message: str) -> None:
        """A passing state on the progress line ("waiting for the server, retry 2/5 in 8 s"), shown
        until the next progress."""
        self.progress(self._status.done, self._status.total, message, force=True)

    def start(self) -> None:
        self._status.state = JobState.RUNNING
        self._status.pid = os.getpid()
        self._status.started = self._status.updated = time.time()
        write_status(self.workspace, self._status)
        self.workspace.update_run(self.run_id, state=JobState.RUNNING)

    def finish(self, state: JobState, result: dict | None = None, error: str | None = None) -> None:
        self._events.close()
        self._status.result = result or {}
        finish_status(self.workspace, self._status, state, message=self._status.message, error=error)


def main(argv: list[str]) -> int:
    root, run_id = argv
    _adopt_secrets()
    ws = Workspace(root, recover=False)  # cleaning up is for the app and the CLI, not for each job
    ctx = JobContext(ws, run_id)
    ctx.start()
    try:
        task, params = read_spec(ctx)
        result = task(ctx, params)
    except Exception as exc:  # the worker's job is to report any failure, whatever it is
        traceback.print_exc()
        ctx.emit(EventKind.ERROR, message=str(exc))
        ctx.finish(JobState.FAILED, error=f"{type(exc).__name__}: {exc}")
        return 1
    ctx.finish(JobState.SUCCEEDED, result=result)
    return 0


def read_spec(ctx: JobContext):
    """The task and parameters of the run's spec.json; a damaged one is a ValueError naming it."""
    spec = read_json(ctx.run_dir / "spec.json", f"the spec of run {ctx.run_id},", RunSpec)
    return TASKS[spec.kind], spec.params


JobKindName = Annotated[str, expect(lambda kind: kind in TASKS, "a job kind (" + ", ".join(TASKS) + ")")]


class RunSpec(pydantic.BaseModel):
    """spec.json: what a run does (one of the job kinds) and with which parameters."""

    model_config = FILE_SHAPE
    kind: JobKindName
    params: dict


def _adopt_secrets() -> None:
    """The key the launcher vetted becomes the LLM client's key for this job, and leaves the
    environment, so that no process the task starts inherits it."""
    key = os.environ.pop(JOB_API_KEY_ENV, None)
    if key:
        from ..llm.config import adopt_job_key

        adopt_job_key(key)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
