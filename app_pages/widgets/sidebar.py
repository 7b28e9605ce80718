"""The sidebar beside every page: the workspace's folder, and a line per running job."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.widgets.errors import errors_shown
from ragtune_core import jobs

POLL_SECONDS = 2.0  # the sidebar's lines follow the jobs less closely than a job's own panel


def workspace_sidebar() -> None:
    """The workspace's folder as the user would type it, then the running jobs: work in progress is
    seen from any page. A damaged job status is named there; the page goes on."""
    root = workspace().root
    with st.sidebar:
        st.caption(f"Workspace: `{readable_path(root)}`")
        with errors_shown(stop=False):
            _running_jobs()


def readable_path(path: Path, cwd: Path | None = None, home: Path | None = None) -> str:
    """An absolute `path` relative to the current directory when under it, `~/…` when under the home
    directory, else as it is (a folder that is the file system's root counts as neither)."""
    cwd, home = (cwd or Path.cwd()).resolve(), (home or Path.home()).resolve()
    if _within(path, cwd):
        return str(path.relative_to(cwd))
    if _within(path, home):
        return str(Path("~") / path.relative_to(home))
    return str(path)


def _within(path: Path, folder: Path) -> bool:
    return folder != Path(folder.anchor) and path.is_relative_to(folder)


def _running_jobs() -> None:
    """A line per running job, polled while there is one (as the job panel polls its own run)."""
    if not jobs.active_jobs(workspace()):
        return

    @st.fragment(run_every=POLL_SECONDS)
    def lines():
        with errors_shown(stop=False):
            for status in jobs.active_jobs(workspace()):
                kind = literal(status.kind.replace("_", " "))
                st.caption(f":material/progress_activity: {kind} · {status.fraction:.0%}")

    lines()
