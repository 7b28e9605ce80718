"""What a job task uses of the worker's JobContext (jobs.worker), recorded for tests."""

from __future__ import annotations

import json
import os

import psutil

from ragtune_core.jobs.runner import JobStatus, write_status
from ragtune_core.store import Workspace


class FakeContext:
    def __init__(self, ws: Workspace, fail_on: str | None = None):
        self.workspace, self.run_id, self.run_dir = ws, None, ws.root
        self.events: list[tuple[str, dict]] = []
        self.progress_calls: list[tuple[int, int, str | None]] = []
        self.fail_on = fail_on  # an event name: raise at its first emit
        self.expected_share = 1.0  # of the work, what the run said it is expected to do

    def emit(self, event: str, **data) -> None:
        if event == self.fail_on:
            raise RuntimeError(f"stopped at the first {event}")
        self.events.append((event, data))

    def progress(self, done: int, total: int, message: str | None = None, force: bool = False) -> None:
        self.progress_calls.append((done, total, message))

    def count_in_estimated_seconds(self, expected_share: float = 1.0) -> None:
        self.expected_share = expected_share

    def note(self, message: str) -> None:
        """A passing state on the progress line, as JobContext.note shows it."""
        self.progress(*(self.progress_calls[-1][:2] if self.progress_calls else (0, 0)), message)

    def complete(self, message: str) -> None:
        total = self.progress_calls[-1][1] if self.progress_calls else 1
        self.progress(total, total, message)

    def elapsed(self) -> float:
        return 1.0


def running_job(
    ws: Workspace, kind: str = "train_embedding", name: str = "qa-minilm", dataset_id: str | None = None
) -> str:
    """A run of `kind` that looks alive (its worker is this test process); its id."""
    run = ws.create_run(kind, name, {}, dataset_id)
    ws.update_run(run.id, state="running")
    write_status(ws, JobStatus(run_id=run.id, kind=kind, state="running", started=1.0, done=2, total=10))
    me = psutil.Process(os.getpid())
    (ws.run_dir(run.id) / "worker.json").write_text(json.dumps({"pid": me.pid, "create_time": me.create_time()}))
    return run.id


def tiny_qa_workspace(root) -> Workspace:
    """A workspace at `root` holding "qa": four questions, each with its passage, two documents, split
    half and half: what a job panel or Fine-tune page test needs besides its run."""
    from ragtune_core.questions.qa_dataset import QADataset, save_dataset

    ws = Workspace(root)
    dataset = QADataset(
        {f"q{i}": f"Question {i}?" for i in range(4)},
        {f"p{i}": f"Passage {i}." for i in range(4)},
        {f"q{i}": [f"p{i}"] for i in range(4)},
        passage_docs={f"p{i}": f"d{i % 2}" for i in range(4)},
        split={f"q{i}": "train" if i % 2 else "val" for i in range(4)},
    )
    save_dataset(ws, "qa", dataset, None, {})
    return ws
