"""The job panel and the Fine-tune page over damaged run files: a clear message naming the file,
the rest of the page still there, never a traceback."""

import json

import pytest

from ragtune_core.jobs.runner import events_path, status_path
from ragtune_core.store.workspace import Workspace
from tests.fake_job import running_job, tiny_qa_workspace
from tests.page_helpers import open_page, shown


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    return tiny_qa_workspace(tmp_path / "ws")


def running_training(ws: Workspace) -> str:
    """A training run that looks alive (its worker is this test process)."""
    return running_job(ws, dataset_id=ws.list_datasets()[0].id)


@pytest.mark.fault(
    "A running job's status.json is damaged",
    sees="the job panel names the file and key; the run history still shows",
    kept="the run and its files",
)
def test_a_damaged_status_is_named_and_the_history_still_shows(ws):
    run_id = running_training(ws)
    status_path(ws, run_id).write_text('{"run_id": "x", "kind": "train_embedding", "state": "running", "done": "2"}')
    at = open_page("finetune")
    assert not at.exception, at.exception
    assert f"the status of run {run_id}, status.json: done: expected an integer" in shown(at.error)
    assert "Run history" in [h.value for h in at.subheader]
    assert any("qa-minilm" in df.value.to_string() for df in at.dataframe)


@pytest.mark.fault(
    "A job's events.jsonl has a damaged line",
    sees="the progress still shows, with an error naming the file and line",
    kept="the run and its files",
)
def test_a_damaged_event_line_is_named_with_the_progress_still_shown(ws):
    run_id = running_training(ws)
    events_path(ws, run_id).write_text('{"event": "train_step", "time": 1, "step": 1, "loss": 0.5}\n{"event": \n')
    at = open_page("finetune")
    assert not at.exception, at.exception
    assert at.get("progress")  # the status itself was readable
    assert f"events.jsonl of run {run_id}, line 2, is damaged" in shown(at.error)


def test_events_a_chart_cannot_read_are_said_instead_of_the_chart(ws):
    run_id = running_training(ws)
    events_path(ws, run_id).write_text('{"event": "schedule", "time": 1}\n')  # no reason, no eval_steps
    at = open_page("finetune")
    assert not at.exception, at.exception
    assert "hold something this chart cannot read (KeyError: 'reason')" in shown(at.warning)


@pytest.mark.fault(
    "A dataset.json damaged on disk, opened on the Fine-tune page",
    sees="an error naming dataset.json and the key; runs and models still show",
    kept="the dataset file as it is",
)
def test_a_damaged_dataset_is_named_on_the_fine_tune_page(ws):
    path = ws.dataset_path(ws.list_datasets()[0].id)
    data = json.loads(path.read_text())
    data["ragtune"]["split"]["q0"] = "holdout"
    path.write_text(json.dumps(data))
    at = open_page("finetune")
    assert not at.exception, at.exception
    assert 'dataset.json: ragtune.split["q0"]: expected one of "train", "val", "test", got "holdout"' in shown(at.error)
    assert "Run history" in [h.value for h in at.subheader]
