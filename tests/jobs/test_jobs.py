import json
import os
import signal
import time

import psutil
import pytest

from ragtune_core import jobs
from ragtune_core.jobs.runner import write_status


def test_job_runs_to_success_with_events_and_progress(workspace):
    status = jobs.start_job(workspace, "sleep", {"steps": 5, "seconds_per_step": 0.01}, name="count")
    final = jobs.wait(workspace, status.run_id, timeout=60)
    assert final.state == "succeeded"
    assert (final.done, final.total) == (5, 5)
    assert final.result == {"steps": 5}
    assert [e["step"] for e in jobs.read_events(workspace, status.run_id) if e["event"] == "step"] == [1, 2, 3, 4, 5]
    assert workspace.get_run(status.run_id).state == "succeeded"


def test_failure_is_reported_with_the_error(workspace):
    status = jobs.start_job(workspace, "sleep", {"steps": 1, "seconds_per_step": 0.01, "fail": True})
    final = jobs.wait(workspace, status.run_id, timeout=60)
    assert final.state == "failed"
    assert "asked to fail" in final.error


def _wait_running(workspace, run_id):
    deadline = time.monotonic() + 30
    while jobs.read_status(workspace, run_id).done < 1:
        assert time.monotonic() < deadline, "job never made progress"
        time.sleep(0.05)


def test_cancel_stops_the_whole_process_tree(workspace):
    status = jobs.start_job(workspace, "sleep", {"steps": 1000, "seconds_per_step": 0.05, "child_seconds": 60})
    _wait_running(workspace, status.run_id)
    worker = psutil.Process(status.pid)
    child_pid = next(e["pid"] for e in jobs.read_events(workspace, status.run_id) if e["event"] == "child")
    child = psutil.Process(child_pid)

    final = jobs.cancel_job(workspace, status.run_id, timeout=5)

    assert final.state == "cancelled"
    for proc in (worker, child):
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    assert workspace.get_run(status.run_id).state == "cancelled"


def test_reattach_sees_a_running_job_from_disk_alone(workspace, tmp_path):
    from ragtune_core.store.workspace import Workspace

    status = jobs.start_job(workspace, "sleep", {"steps": 1000, "seconds_per_step": 0.05})
    _wait_running(workspace, status.run_id)
    restarted = Workspace(workspace.root)  # a new app process knows only the folder
    assert [s.run_id for s in jobs.active_jobs(restarted)] == [status.run_id]
    assert jobs.read_status(restarted, status.run_id).state == "running"
    jobs.cancel_job(restarted, status.run_id)


def test_dead_worker_shows_as_interrupted_never_running(workspace):
    status = jobs.start_job(workspace, "sleep", {"steps": 1000, "seconds_per_step": 0.05})
    _wait_running(workspace, status.run_id)
    os.kill(status.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while jobs.read_status(workspace, status.run_id).state == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    final = jobs.read_status(workspace, status.run_id)
    assert final.state == "interrupted"
    assert json.loads(jobs.status_path(workspace, status.run_id).read_text())["state"] == "interrupted"
    assert workspace.get_run(status.run_id).state == "interrupted"


def test_secret_env_reaches_the_worker_but_no_file(workspace, monkeypatch):
    status = jobs.start_job(workspace, "sleep", {"steps": 1, "seconds_per_step": 0.01},
                            secret_env={jobs.runner.JOB_API_KEY_ENV: "sk-test-secret-123"})
    jobs.wait(workspace, status.run_id, timeout=60)
    for path in workspace.root.rglob("*"):
        if path.is_file():
            assert b"sk-test-secret-123" not in path.read_bytes(), path


def test_eta_from_pace():
    status = jobs.JobStatus(run_id="r", kind="k", state="running", started=time.time() - 10, done=5, total=10)
    assert status.eta_seconds == pytest.approx(10, abs=0.5)
    assert status.fraction == 0.5


def test_active_jobs_read_only_the_runs_the_catalogue_calls_active(workspace):
    finished = workspace.create_run("sleep", "done long ago", {})
    workspace.update_run(finished.id, state="succeeded")
    jobs.status_path(workspace, finished.id).write_text("not json: reading it would fail")
    queued = workspace.create_run("sleep", "just launched", {})
    write_status(workspace, jobs.JobStatus(run_id=queued.id, kind="sleep"))  # within the start grace

    assert [s.run_id for s in jobs.active_jobs(workspace)] == [queued.id]
