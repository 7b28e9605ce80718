"""Progress lines for the CLI, on stderr: stdout carries only the command's JSON summary."""

from __future__ import annotations

import sys
import time

from ..timing.work import UNIT_SECONDS, Eta, clock


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


class EtaPrinter:
    """An `on_progress(done, total, message)` for work measured in estimated seconds (timing.Meter):
    "LABEL: 41% · 2m 10s elapsed · 3m 05s left · message", at most a line a second, and the last.
    `expected_share`: of the work, what the run is expected to do (Eta)."""

    def __init__(self, label: str, expected_share: float = 1.0):
        self._lines = ProgressPrinter(label)
        self._eta = Eta(expected_share=expected_share, unit_seconds=UNIT_SECONDS)

    def __call__(self, done: int, total: int, message: str) -> None:
        elapsed = command_seconds()  # the estimate counts loading the libraries and the model too
        self._eta.report(elapsed, done)
        left = self._eta.seconds_left(elapsed, done, total)
        shown = f"{done / total:.0%} · {clock(elapsed)} elapsed · {clock(left)} left"
        self._lines(done, total, f"{shown} · {message}")


_command_started = time.monotonic()


def command_started() -> None:
    """Mark the start of a command (cli.main): what its estimate and its `seconds` count from."""
    global _command_started
    _command_started = time.monotonic()


def command_seconds() -> float:
    """Seconds since the command started."""
    return time.monotonic() - _command_started
