"""Stop and keep the best model: a training asked to stop (`ragtune stop`, the job panel's button, a
first Ctrl-C) ends after its current step with its best evaluated model registered, and says so."""

import json
import os
import signal
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from ragtune_core import jobs
from ragtune_core.jobs.runner import STOP_REQUEST, finish_status, load_status
from ragtune_core.jobs.training_tasks import run_training_job
from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.training.stopping import stop_on_first_interrupt, stop_requested
from tests.fake_job import FakeContext, running_job
from tests.training.test_training import TINY, tiny_dataset


# --- the request -----------------------------------------------------------------------------------
def test_a_stop_request_reaches_a_running_training_through_its_run_folder(workspace):
    run_id = running_job(workspace)
    assert not jobs.stop_pending(workspace, jobs.read_status(workspace, run_id))
    assert jobs.request_stop(workspace, run_id).state == "running"
    assert (workspace.run_dir(run_id) / STOP_REQUEST).exists()  # what the worker's training looks for
    assert jobs.stop_pending(workspace, jobs.read_status(workspace, run_id))


def test_a_stop_request_is_refused_for_a_job_that_is_not_a_training_or_has_ended(workspace):
    with pytest.raises(ValueError, match="no run with id 'run-nope'"):
        jobs.request_stop(workspace, "run-nope")
    generation = running_job(workspace, kind="generate_questions")
    with pytest.raises(
        ValueError,
        match=f"run {generation} is a generate_questions job: only an embedding or cross-encoder training can stop",
    ):
        jobs.request_stop(workspace, generation)
    finished = running_job(workspace, kind="train_cross_encoder")
    finish_status(workspace, load_status(workspace, finished), "succeeded")
    with pytest.raises(ValueError, match=rf"run {finished} has ended \(succeeded\): there is nothing to stop"):
        jobs.request_stop(workspace, finished)
    assert not (workspace.run_dir(generation) / STOP_REQUEST).exists()
    assert not (workspace.run_dir(finished) / STOP_REQUEST).exists()


# --- the CLI ---------------------------------------------------------------------------------------
def test_cli_stop_asks_a_running_training_and_refuses_unknown_or_finished_runs(workspace, run_cli):
    code, out, err = run_cli("stop", "run-nope")
    assert (code, out) == (2, "") and err == "error: no run with id 'run-nope'\n"
    finished = running_job(workspace)
    finish_status(workspace, load_status(workspace, finished), "cancelled")
    code, out, err = run_cli("stop", finished)
    assert code == 2 and f"run {finished} has ended (cancelled): there is nothing to stop" in err
    assert "Traceback" not in err

    running = running_job(workspace)
    code, out, err = run_cli("stop", running)
    assert code == 0 and json.loads(out) == {"run_id": running, "state": "running", "stop_requested": True}
    assert jobs.stop_pending(workspace, jobs.read_status(workspace, running))


def test_a_first_ctrl_c_asks_to_stop_and_a_second_aborts(capsys):
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with stop_on_first_interrupt("train"):
            assert not stop_requested()
            os.kill(os.getpid(), signal.SIGINT)
            assert stop_requested()
            assert "train: stopping after this step and keeping the best model so far" in capsys.readouterr().err
            os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before and not stop_requested()


def test_cli_train_in_the_foreground_stops_on_ctrl_c_keeping_what_training_returns(workspace, run_cli, monkeypatch):
    from ragtune_core.cli import train as train_cli

    save_dataset(workspace, "tiny", tiny_dataset(), None, {})

    def interrupted_training(ws, dataset_id, model_name, config, on_event=None, run_id=None, search=None):
        os.kill(os.getpid(), signal.SIGINT)  # the user's Ctrl-C, while training
        return {"model_name": model_name, "stopped_by_user": stop_requested()}

    monkeypatch.setattr(train_cli, "train_and_register", interrupted_training)
    code, out, err = run_cli("train", "tiny", "--name", "mine", "--epochs", "1")
    assert code == 0 and json.loads(out)["stopped_by_user"] is True
    assert "train: stopping after this step and keeping the best model so far (Ctrl-C again aborts)" in err


# --- a real training (loads the bundled MiniLM) ------------------------------------------------------
class StopAtStep(FakeContext):
    """A job context whose user asks to stop (the file jobs.request_stop writes) when step `at` ends."""

    def __init__(self, ws, at: int):
        super().__init__(ws)
        self.at = at

    def emit(self, event: str, **data) -> None:
        super().emit(event, **data)
        if event == "progress" and data["step"] == self.at:
            (Path(self.run_dir) / STOP_REQUEST).write_text("{}")


@pytest.mark.slow
def test_a_training_stopped_by_the_user_registers_its_best_model_so_far_and_says_so(workspace):
    record = save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    ctx = StopAtStep(workspace, at=3)
    config = replace(TINY, epochs=4)  # 20 steps planned, evaluated every 2
    result = run_training_job(ctx, {"dataset_id": record.id, "model_name": "stopped", "config": asdict(config)})

    assert (result["stopped_by_user"], result["steps"], result["planned_steps"]) == (True, 3, 20)
    evals = [data for event, data in ctx.events if event == "eval"]
    assert [e["step"] for e in evals] == [0, 2, 3]  # the step it stopped at was evaluated too
    best = max(e["metrics"]["ndcg@10"] for e in evals)
    assert result["metrics_after"]["ndcg@10"] == best
    assert result["best_step"] == max(e["step"] for e in evals if e["metrics"]["ndcg@10"] == best)
    [model] = workspace.list_models("embedding")
    assert (model.name, model.metrics) == ("stopped", result["metrics_after"])
    card = (Path(model.path) / "README.md").read_text()
    assert "stopped by the user at step 3 of 20" in card
    assert f"Kept: {'the base model' if result['best_step'] == 0 else 'step ' + str(result['best_step'])}" in card
    [kept] = [data for event, data in ctx.events if event == "best"]
    assert kept["stopped_by_user"] and kept["step"] == result["best_step"]
    closing = ctx.progress_calls[-1][2]
    assert closing.startswith(
        f"stopped by the user at step 3 of 20, kept step {result['best_step']} · validation ndcg@10 "
    )


@pytest.mark.slow
def test_ragtune_stop_on_a_background_training_ends_it_succeeded_with_its_model_registered(workspace, run_cli):
    save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    code, out, _ = run_cli(
        "train",
        "tiny",
        "--name",
        "kept",
        "--background",
        "--epochs",
        "4",
        "--batch-size",
        "4",
        "--max-seq-length",
        "64",
    )
    run_id = json.loads(out)["run_id"]
    # Asked before its first step: deterministic, it stops after that step whatever the machine's pace.
    assert run_cli("stop", run_id)[0] == 0
    status = jobs.wait(workspace, run_id, timeout=300)
    assert status.state == "succeeded", (workspace.run_dir(run_id) / "worker.log").read_text()[-3000:]
    assert status.message.startswith(f"stopped by the user at step 1 of {status.result['planned_steps']}, kept step ")
    [model] = workspace.list_models("embedding")
    assert (model.name, model.run_id, model.metrics) == ("kept", run_id, status.result["metrics_after"])
    assert "stopped by the user at step 1 of" in (Path(model.path) / "README.md").read_text()
