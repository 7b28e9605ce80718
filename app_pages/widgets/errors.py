"""`errors_shown`: a user's error shown as its message, a bug as a bug; never a bare traceback."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import streamlit as st

from app_pages.basics import literal
from ragtune_core.errors import RagtuneBug, RagtuneError, bug_message

log = logging.getLogger(__name__)


@contextmanager
def errors_shown(stop: bool = True):
    """Bad input and damaged workspace files (a RagtuneError: WorkspaceError, DatasetError, a file's
    content named by key...; an OSError naming a file) become an st.error saying what is wrong, never a
    traceback; any other exception is a bug in RAGTune, shown as one with its traceback. With `stop` the
    page ends there. The details go to the server's log."""
    try:
        yield
    except (RagtuneError, OSError) as exc:
        log.warning("shown to the user: %s", exc, exc_info=True)
        st.error(literal(exc), icon=":material/error:")
        if stop:
            st.stop()
    except Exception as exc:
        log.error("a bug, shown to the user: %s", exc, exc_info=True)
        st.exception(RagtuneBug(bug_message(exc)).with_traceback(exc.__traceback__))
        if stop:
            st.stop()
