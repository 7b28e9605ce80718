"""Progress lines for the CLI, on stderr: stdout carries only the command's JSON summary."""

from __future__ import annotations

import sys
import time


class ProgressPrinter:
    """An `on_progress(done, total, message)` printing "LABEL: message": the first call, then at
    most a line a second, and the last (done == total)."""

    def __init__(self, label: str):
        self._label = label
        self._last = float("-inf")

    def __call__(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if done >= total or now - self._last >= 1.0:
            self._last = now
            print(f"{self._label}: {message}", file=sys.stderr, flush=True)

    def chunks(self, done: int, total: int, failed: int) -> None:
        """The question generators' on_progress(chunks done, chunks in all, chunks failed)."""
        self(done, total, f"{done}/{total} chunks, {failed} failed")
