"""The sidebar beside every page: the workspace's folder, and a line per running job."""

from __future__ import annotations

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.widgets.errors import errors_shown
from ragtune_core import jobs


def workspace_sidebar() -> None:
    """The workspace's folder, then the running jobs: work in progress is seen from any page. A damaged
    job status is named there; the page goes on."""
    root = workspace().root
    with st.sidebar:
        st.caption(f"Workspace: `{root}`")
        with errors_shown(stop=False):
            _running_jobs()


def _running_jobs() -> None:
    for status in jobs.active_jobs(workspace()):
        st.caption(f":material/progress_activity: {literal(status.kind.replace('_', ' '))} · {status.fraction:.0%}")
