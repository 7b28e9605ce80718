"""Entry point of a job's worker process: `python -m ragtune_core.worker WORKSPACE RUN_ID`.

Runs the task named in the run's spec.json, turning its progress and events into the run's
status.json and events.jsonl.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
import traceback

from .jobs import events_path, finish_status, load_status, write_status
from .workspace import Workspace

# Task kinds and the function that runs each: (module, function), imported only when needed so
# a worker loads just what its task uses.
TASKS = {
    "train_embedding": ("ragtune_core.training", "run_training_job"),
    "generate_questions": ("ragtune_core.generation", "run_generation_job"),
    "evaluate": ("ragtune_core.evaluation", "run_evaluation_job"),
    "generate_router_questions": ("ragtune_core.router", "run_router_job"),
    "train_cross_encoder": ("ragtune_core.cross_encoder", "run_cross_encoder_job"),
    "compare_selectors": ("ragtune_core.routing", "run_router_comparison_job"),
    "sleep": ("ragtune_core.worker", "run_sleep_job"),
}


class JobContext:
    """What a task sees of its run: parameters, a folder, and ways to report progress."""

    def __init__(self, ws: Workspace, run_id: str):
        self.workspace = ws
        self.run_id = run_id
        self.run_dir = ws.run_dir(run_id)
        self._status = load_status(ws, run_id)
        self._events = events_path(ws, run_id).open("a", encoding="utf-8")
        self._last_write = 0.0

    def emit(self, event: str, **data) -> None:
        """Append one event (a training step's loss, an evaluation's metrics...) to the log."""
        record = {"event": event, "time": time.time(), **data}
        self._events.write(json.dumps(record) + "\n")
        self._events.flush()

    def progress(self, done: int, total: int, message: str | None = None, force: bool = False) -> None:
        self._status.done, self._status.total = done, total
        if message is not None:
            self._status.message = message
        now = time.time()
        # Status writes are throttled: a fast task must not spend its time rewriting a file.
        if force or done >= total or now - self._last_write > 0.25:
            self._status.updated = now
            write_status(self.workspace, self._status)
            self._last_write = now

    def start(self) -> None:
        self._status.state = "running"
        self._status.pid = os.getpid()
        self._status.started = self._status.updated = time.time()
        write_status(self.workspace, self._status)
        self.workspace.update_run(self.run_id, state="running")

    def finish(self, state: str, result: dict | None = None, error: str | None = None) -> None:
        self._events.close()
        self._status.result = result or {}
        finish_status(self.workspace, self._status, state, message=self._status.message, error=error)


def run_sleep_job(ctx: JobContext, params: dict) -> dict:
    """A task that only counts: for testing the job machinery (cancel, re-attach) without a model."""
    steps = int(params.get("steps", 10))
    if params.get("child_seconds"):  # a grandchild, as dataloader or tokenizer pools start
        child = subprocess.Popen(["sleep", str(params["child_seconds"])])
        ctx.emit("child", pid=child.pid)
    for step in range(1, steps + 1):
        time.sleep(float(params.get("seconds_per_step", 0.1)))
        ctx.emit("step", step=step)
        ctx.progress(step, steps, f"step {step}/{steps}")
    if params.get("fail"):
        raise RuntimeError("asked to fail")
    return {"steps": steps}


def main(argv: list[str]) -> int:
    root, run_id = argv
    ws = Workspace(root)
    ctx = JobContext(ws, run_id)
    spec = json.loads((ctx.run_dir / "spec.json").read_text())
    ctx.start()
    try:
        module, function = TASKS[spec["kind"]]
        task = getattr(importlib.import_module(module), function)
        result = task(ctx, spec["params"])
    except Exception as exc:  # the worker's job is to report any failure, whatever it is
        traceback.print_exc()
        ctx.emit("error", message=str(exc))
        ctx.finish("failed", error=f"{type(exc).__name__}: {exc}")
        return 1
    ctx.finish("succeeded", result=result)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
