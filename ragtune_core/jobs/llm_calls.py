"""What wraps a job's LLM calls: each retry wait shown on the run's progress line, and the Batch API's
batches cancelled at the provider when the job is cancelled."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..runs import EventKind
from .cancellation import exit_once


@contextmanager
def llm_waits_shown(ctx) -> Iterator[None]:
    """Every LLM retry wait in the block shows on the run's progress line ("waiting for the server
    (HTTP 503), retry 2/5 in 8 s") until the next progress: a slow or hung endpoint is visible."""
    from ..llm.client import report_waits

    with report_waits(ctx.note):
        yield


@contextmanager
def batches_cancelled_on_stop(ctx, configs: list) -> Iterator[None]:
    """A job whose LLM calls go through the Batch API (any of `configs` with batch set) cancels its
    batches at the provider when it is cancelled: the provider would otherwise run, and bill, them
    to the end. Each is a "batch_cancelled" event; the job started again sends what they left undone."""
    if (
        not any(config is not None and config.batch for config in configs)
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    from ..llm.batch import cancel_batches_in_flight

    def cancel_then_exit(signum, frame) -> None:
        # Here, in the handler: once SystemExit has unwound the batch call, its batch is no longer in flight.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            for batch_id, outcome in cancel_batches_in_flight().items():
                ctx.emit(EventKind.BATCH_CANCELLED, batch_id=batch_id, outcome=outcome)
        finally:
            exit_once(signum, frame)

    before = signal.signal(signal.SIGTERM, cancel_then_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
