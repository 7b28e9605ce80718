"""Job states, kinds and event names are enums whose files keep the plain strings written before."""

import json

import pytest

from ragtune_core import jobs
from ragtune_core.jobs import EventKind, JobKind, JobState
from ragtune_core.jobs.runner import write_status
from ragtune_core.store.files import FileContentError


def test_a_status_file_keeps_plain_strings_and_reads_back_as_enums(workspace):
    run = workspace.create_run(JobKind.SLEEP, "a run", {})
    write_status(workspace, jobs.JobStatus(run_id=run.id, kind=JobKind.SLEEP, state=JobState.SUCCEEDED))
    stored = json.loads(jobs.status_path(workspace, run.id).read_text())
    assert (stored["kind"], stored["state"]) == ("sleep", "succeeded")
    status = jobs.read_status(workspace, run.id)
    assert status.state is JobState.SUCCEEDED and status.kind is JobKind.SLEEP and not status.is_active


def test_a_status_file_with_an_unknown_state_names_the_file_and_key(workspace):
    run = workspace.create_run(JobKind.SLEEP, "a run", {})
    write_status(workspace, jobs.JobStatus(run_id=run.id, kind=JobKind.SLEEP))
    path = jobs.status_path(workspace, run.id)
    path.write_text(path.read_text().replace('"queued"', '"paused"'))
    with pytest.raises(FileContentError, match='status.json: state: expected one of "queued", "running"'):
        jobs.read_status(workspace, run.id)


def test_events_are_logged_under_their_plain_names(workspace):
    status = jobs.start_job(workspace, JobKind.SLEEP, {"steps": 2, "seconds_per_step": 0.01})
    assert jobs.wait(workspace, status.run_id, timeout=60).state == JobState.SUCCEEDED
    events = jobs.read_events(workspace, status.run_id)
    assert [e["event"] for e in events] == [EventKind.STEP, EventKind.STEP]
    assert '"event": "step"' in (workspace.run_dir(status.run_id) / "events.jsonl").read_text()


def _training_run(workspace, state: JobState, result: dict):
    run = workspace.create_run(JobKind.TRAIN_EMBEDDING, "a training", {})
    workspace.update_run(run.id, state=state, result=result)
    return workspace.get_run(run.id)


TRAINING_RESULT = {
    "model_id": "model-1",
    "model_name": "m",
    "model_path": "/models/m",
    "dataset_kind": "qa",
    "primary_metric": "ndcg@10",
    "metrics_before": {"ndcg@10": 0.1},
    "metrics_after": {"ndcg@10": 0.2},
    "best_step": 4,
    "steps": 5,
    "schedule": "auto",
    "train_pairs": 10,
    "train_seconds": 1.5,
    "estimated_seconds": 3.0,
    "seconds": 2.0,
}


def test_a_training_result_is_read_typed_once_naming_the_run_and_key(workspace):
    from ragtune_core.jobs.results import TrainingRunResult

    result = TrainingRunResult.of_run(_training_run(workspace, JobState.SUCCEEDED, TRAINING_RESULT))
    assert (result.best_step, result.metrics_after, result.blend) == (4, {"ndcg@10": 0.2}, None)
    assert {key: result.to_dict()[key] for key in TRAINING_RESULT} == TRAINING_RESULT  # as it was kept
    older = TrainingRunResult.of_run(
        _training_run(workspace, JobState.SUCCEEDED, {**TRAINING_RESULT, "epochs": 2, "seconds": None})
    )
    assert older.seconds is None  # a key this version no longer keeps (epochs) is left out
    assert TrainingRunResult.of_run(_training_run(workspace, JobState.FAILED, {})) is None
    damaged = _training_run(workspace, JobState.SUCCEEDED, {**TRAINING_RESULT, "best_step": "four"})
    with pytest.raises(
        FileContentError, match=f"the result of run {damaged.id} in the catalogue: best_step: expected an integer"
    ):
        TrainingRunResult.of_run(damaged)


def test_a_training_verdict_is_a_typed_field_and_older_results_have_none(workspace):
    from ragtune_core.jobs.results import TrainingRunResult

    said = {**TRAINING_RESULT, "verdict": "No better than the model it started from"}
    result = TrainingRunResult.of_run(_training_run(workspace, JobState.SUCCEEDED, said))
    assert result.verdict == said["verdict"] and result.to_dict()["verdict"] == said["verdict"]
    assert TrainingRunResult.of_run(_training_run(workspace, JobState.SUCCEEDED, TRAINING_RESULT)).verdict is None
    damaged = _training_run(workspace, JobState.SUCCEEDED, {**TRAINING_RESULT, "verdict": 3})
    with pytest.raises(
        FileContentError, match=f"run {damaged.id} in the catalogue: verdict: expected a string or null"
    ):
        TrainingRunResult.of_run(damaged)
