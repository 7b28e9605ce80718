"""The job panel: a run's progress, ETA, Cancel (and Stop and keep best, for a training) and live chart,
polled while the run is active; a reload or another tab re-attaches to the run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import streamlit as st

from app_pages.basics import literal, workspace
from app_pages.state import State
from app_pages.widgets.errors import errors_shown
from ragtune_core import jobs
from ragtune_core.jobs.results import TRAINING_KINDS, TrainingRunResult
from ragtune_core.runs import JobState
from ragtune_core.timing import clock

POLL_SECONDS = 1.0
log = logging.getLogger(__name__)


def run_panel(kinds: Iterable[str], started: State, chart: Callable[[list[dict]], None] | None = None) -> str | None:
    """The job panel of the run this session started (its id under `started`), or else of the
    newest queued or running run of these kinds: a reload or another tab re-attaches to it, and then
    follows it as its own, so its result stays on screen when it ends. A damaged status or catalogue
    is named in an st.error; the page goes on. Returns the run shown."""
    run_id = None
    with errors_shown(stop=False):
        run_id = st.session_state.get(started) or _newest_active_run(kinds)
        if run_id:
            st.session_state[started] = run_id
            _job_panel(run_id, chart)
    return run_id


def _newest_active_run(kinds: Iterable[str]) -> str | None:
    active = [run for kind in kinds for run in workspace().list_runs(kind) if run.state in jobs.ACTIVE_STATES]
    return max(active, key=lambda run: run.created).id if active else None


def _job_panel(run_id: str, chart: Callable[[list[dict]], None] | None) -> None:
    """Progress, ETA, cancel (and stop keeping the best model, for a training) and an optional live
    chart of the run's events.

    Polls (st.fragment with run_every) only while the job is active; when it starts or ends, the whole
    page reruns once so it can show the new state and the results.
    """
    status = jobs.read_status(workspace(), run_id)
    _run_caption(run_id)

    @st.fragment(run_every=POLL_SECONDS if status.is_active else None)
    def panel():
        with errors_shown(stop=False):  # the files may be damaged while the job runs
            current = jobs.read_status(workspace(), run_id)
            _render_status(current)
            if chart is not None:
                _chart_events(chart, jobs.read_events(workspace(), run_id))
            if current.state != status.state:
                st.rerun()  # started or ended: the rest of the page (its run history, results) shows it too

    panel()


def _run_caption(run_id: str) -> None:
    """Which run the panel follows, and on which dataset: the page's pickers may have moved on to another."""
    ws = workspace()
    run = ws.get_run(run_id)
    dataset = {d.id: d.name for d in ws.list_datasets()}.get(run.dataset_id) if run.dataset_id else None
    on = (
        f" · on dataset **{literal(dataset)}**" if dataset else (" · its dataset was deleted" if run.dataset_id else "")
    )
    st.caption(f"Run **{literal(run.name)}**{on}")


def _chart_events(chart: Callable[[list[dict]], None], events: list[dict]) -> None:
    """Chart the events; events that are well-formed lines but not what the chart reads (a field
    missing, of another type) are said in a warning instead of the chart."""
    try:
        chart(events)
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("events not charted: %r", exc, exc_info=True)
        st.warning(
            f"The run's events (events.jsonl) hold something this chart cannot read "
            f"({literal(type(exc).__name__)}: {literal(exc)}); the chart is left out."
        )


def _render_status(status: jobs.JobStatus) -> None:
    label = f"{status.kind.replace('_', ' ')} · {status.state}"
    if status.is_active:
        detail = f"{status.done}/{status.total}" if status.total else "starting…"
        st.progress(
            status.fraction,
            text=f"{label} · {detail} · {literal(status.message)} · "
            f"elapsed {clock(status.elapsed)} · ETA {clock(status.eta_seconds)}",
        )
        _job_buttons(status)
    elif status.state == JobState.SUCCEEDED:  # a model no better than its start is said in a warning
        (st.warning if _verdict(status) else st.success)(
            f"{label} in {clock(status.elapsed)}. {literal(status.message)}"
        )
    elif status.state == JobState.CANCELLED:
        st.warning(f"{label}: cancelled by the user.")
    else:
        st.error(f"{label}: {literal(status.error or status.message)}")


def _verdict(status: jobs.JobStatus) -> str | None:
    """A training's verdict (training.verdict): the sentence saying its model does not beat what it started
    from; None when it does, and for the other job kinds."""
    if status.kind not in TRAINING_KINDS:
        return None
    return TrainingRunResult.read(status.result, status.run_id).verdict


def _job_buttons(status: jobs.JobStatus) -> None:
    """Cancel stops any job at once and keeps nothing; a training can also stop after its current
    step and keep its best model so far, registered (jobs.request_stop)."""
    cancel, stop = st.columns(2)
    if cancel.button(
        "Cancel", key=f"cancel-{status.run_id}", icon=":material/stop_circle:", help="Stop now; nothing is kept."
    ):
        jobs.cancel_job(workspace(), status.run_id)
        st.rerun()
    if status.kind not in jobs.STOPPABLE_KINDS:
        return
    if jobs.stop_pending(workspace(), status):
        stop.caption("Stopping after the current step; the best model so far will be kept.")
    elif stop.button(
        "Stop and keep best",
        key=f"stop-{status.run_id}",
        icon=":material/save:",
        help="Stop after the current step and register the best model evaluated so far.",
    ):
        jobs.request_stop(workspace(), status.run_id)
        st.rerun()
