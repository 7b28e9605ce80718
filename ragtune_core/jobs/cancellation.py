"""A cancelled job's worker (Cancel sends SIGTERM) exits through Python, once, so the `finally` clean-ups
that remove a partial folder or file run."""

from __future__ import annotations

import signal
import sys
import threading


def exit_on_sigterm() -> None:
    """Cancel sends SIGTERM: exiting through Python runs the `finally` that removes the partial folder."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, exit_once)


def exit_once(signum, frame) -> None:
    # Cancel signals the whole process group and then each process: a second SIGTERM must not
    # interrupt the clean-up that the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(128 + signum)
