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
    status = jobs.start_job(
        workspace,
        "sleep",
        {"steps": 1, "seconds_per_step": 0.01},
        secret_env={jobs.runner.JOB_API_KEY_ENV: "sk-test-secret-123"},
    )
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


# --- a training holds its model's name from its start -------------------------------------------------
from ragtune_core.store.workspace import WorkspaceError  # noqa: E402
from ragtune_core.training.config import TrainingError  # noqa: E402
from ragtune_core.training.register import check_model_name  # noqa: E402


def _start_training(workspace, name="shared"):
    """A training job that would fail on its unknown dataset, stopped before it can: it holds `name`."""
    status = jobs.start_job(
        workspace, "train_embedding", {"dataset_id": "dataset-nope", "model_name": name, "config": {}}, name=name
    )
    os.kill(status.pid, signal.SIGSTOP)
    return status


def _pending_models(workspace):
    import sqlite3

    conn = sqlite3.connect(workspace.root / "catalogue.sqlite")
    try:
        return conn.execute("SELECT name, run_id FROM models WHERE writer IS NOT NULL").fetchall()
    finally:
        conn.close()


def test_a_second_training_with_a_running_ones_model_name_is_refused_at_once_naming_it(workspace):
    first = _start_training(workspace)
    try:
        assert _pending_models(workspace) == [("shared", first.run_id)]
        with pytest.raises(WorkspaceError, match=f"'shared' already exists: run {first.run_id} .*is training it"):
            jobs.start_job(workspace, "train_embedding", {"dataset_id": "d", "model_name": "shared", "config": {}})
        with pytest.raises(TrainingError, match=first.run_id):  # the page's and the CLI's preflight say it too
            check_model_name(workspace, "shared")
        assert [r.id for r in workspace.list_runs()] == [first.run_id]  # the refused start made nothing
        from ragtune_core.store.workspace import Workspace

        Workspace(workspace.root)  # another process opening the workspace keeps the live reservation
        assert _pending_models(workspace) == [("shared", first.run_id)]
    finally:
        final = jobs.cancel_job(workspace, first.run_id, timeout=2)
    assert final.state == "cancelled"
    assert _pending_models(workspace) == [] and not workspace.model_name_taken("shared")

    second = jobs.start_job(
        workspace, "train_embedding", {"dataset_id": "dataset-nope", "model_name": "shared", "config": {}}
    )
    final = jobs.wait(workspace, second.run_id, timeout=60)
    assert final.state == "failed" and "dataset-nope" in final.error
    assert _pending_models(workspace) == [] and check_model_name(workspace, "shared") == "shared"


def test_an_interrupted_training_gives_its_model_name_up(workspace):
    status = _start_training(workspace, "held")
    os.kill(status.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while jobs.read_status(workspace, status.run_id).state != "interrupted":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert _pending_models(workspace) == [] and not workspace.model_name_taken("held")


def test_a_damaged_spec_fails_the_run_naming_the_file(workspace):
    import subprocess
    import sys
    from pathlib import Path

    run = workspace.create_run("sleep", "damaged", {})
    write_status(workspace, jobs.JobStatus(run_id=run.id, kind="sleep"))
    (workspace.run_dir(run.id) / "spec.json").write_text('{"kind": "sle')
    done = subprocess.run(
        [sys.executable, "-m", "ragtune_core.jobs.worker", str(workspace.root), run.id],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    status = jobs.read_status(workspace, run.id)
    assert status.state == "failed" and "spec.json" in status.error and run.id in status.error
    assert workspace.get_run(run.id).state == "failed"


def test_an_llm_fine_tuning_holds_its_model_name_from_its_start(workspace):
    """As for the other trainers: a second start with the name is refused before any worker runs."""
    params = {"model_name": "shared-llm", "config": {"data_name": "nope", "model_name": "shared-llm"}}
    first = jobs.start_job(workspace, "train_llm", params)
    try:
        with pytest.raises(WorkspaceError, match=f"'shared-llm' already exists: run {first.run_id}"):
            jobs.start_job(workspace, "train_llm", params)
    finally:
        final = jobs.wait(workspace, first.run_id, timeout=60)
    assert final.state == "failed" and "nope" in final.error  # its chat data does not exist
    assert _pending_models(workspace) == [] and not workspace.model_name_taken("shared-llm")
