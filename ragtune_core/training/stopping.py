"""Stopping a training at the user's request while keeping the best model so far.

Whoever runs a training says how a request shows (a job: a file in its run's folder; the CLI: a
first Ctrl-C) with `stop_when`; the training asks `stop_requested()` after every step (fit) and a
hyperparameter search before every trial (search). A request ends the training as early stopping
does: the last step evaluated, the best evaluated weights kept, saved and registered. Cancel is
the other way to stop: it kills the process and keeps nothing.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_check: ContextVar[Callable[[], bool] | None] = ContextVar("stop_check", default=None)


@contextmanager
def stop_when(check: Callable[[], bool]) -> Iterator[None]:
    """Trainings in the block stop, keeping their best model, once `check()` is true (it is called
    after every step: it must be cheap)."""
    token = _check.set(check)
    try:
        yield
    finally:
        _check.reset(token)


def stop_requested() -> bool:
    """True once the user asked the training in progress to stop and keep its best model."""
    check = _check.get()
    return check is not None and check()


@contextmanager
def stop_on_first_interrupt(label: str) -> Iterator[None]:
    """In the block, a first Ctrl-C asks the training to stop and keep its best model (said on stderr,
    prefixed with `label`); a second one aborts it with KeyboardInterrupt, as Ctrl-C does elsewhere."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread handles signals
        yield
        return
    requested = threading.Event()

    def on_interrupt(signum, frame) -> None:
        if requested.is_set():
            raise KeyboardInterrupt
        requested.set()
        print(
            f"{label}: stopping after this step and keeping the best model so far (Ctrl-C again aborts)",
            file=sys.stderr,
            flush=True,
        )

    before = signal.signal(signal.SIGINT, on_interrupt)
    try:
        with stop_when(requested.is_set):
            yield
    finally:
        signal.signal(signal.SIGINT, before)
