"""The job panel's "Stop and keep best": beside Cancel for a running training only, asking the
training to stop (jobs.request_stop) and then saying it is stopping; a panel re-attached after a
reload stays to show how the run ended."""

from dataclasses import replace

import pytest

from ragtune_core import jobs
from ragtune_core.jobs.runner import write_status
from tests.fake_job import running_job, tiny_qa_workspace
from tests.page_helpers import open_page, texts


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    return tiny_qa_workspace(tmp_path / "ws")


def labels(at) -> list[str]:
    return [button.label for button in at.button]


def test_a_running_training_can_be_stopped_keeping_its_best_model(ws):
    run_id = running_job(ws, dataset_id=ws.list_datasets()[0].id)
    at = open_page("finetune")
    assert not at.exception, at.exception
    assert {"Cancel", "Stop and keep best"} <= set(labels(at))

    at.button(key=f"stop-{run_id}").click().run()
    assert not at.exception, at.exception
    assert jobs.stop_pending(ws, jobs.read_status(ws, run_id))  # the page asked the library
    assert jobs.read_status(ws, run_id).state == "running"  # unlike Cancel, nothing was killed
    assert "Stop and keep best" not in labels(at) and "Cancel" in labels(at)
    assert "Stopping after the current step; the best model so far will be kept." in texts(at.caption)


def test_a_job_that_is_not_a_training_has_cancel_only(ws):
    running_job(ws, kind="evaluate", name="evaluation")
    at = open_page("compare")
    assert not at.exception, at.exception
    assert "Cancel" in labels(at) and "Stop and keep best" not in labels(at)


def test_a_training_reattached_after_a_reload_keeps_its_outcome_on_screen_when_it_ends(ws):
    run_id = running_job(ws, dataset_id=ws.list_datasets()[0].id)
    at = open_page("finetune")  # a new session: it knows the run from the workspace alone
    assert at.get("progress"), "the running training's panel is not shown"

    status = jobs.read_status(ws, run_id)
    write_status(ws, replace(status, state="failed", error="the disk is full"))
    ws.update_run(run_id, state="failed")
    at.run()
    assert not at.exception, at.exception
    assert "train embedding · failed: the disk is full" in texts(at.error)
