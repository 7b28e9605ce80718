"""Where a training ends, a model no better than what it started from says so: in its job's closing
line and result (training.verdict), and as a warning, not a green success, on the Fine-tune page."""

import time
from dataclasses import asdict
from pathlib import Path

from ragtune_core import jobs
from ragtune_core.jobs.results import TrainingRunResult
from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.training.fit import TrainResult
from ragtune_core.training.verdict import worse_than_start
from tests.page_helpers import open_page, shown


def result(before: float, after: float, embedder: float | None = None, best_step: int = 40) -> TrainResult:
    return TrainResult(
        Path("m"),
        "accuracy@1",
        {"accuracy@1": before},
        {"accuracy@1": after},
        best_step,
        40,
        "auto",
        100,
        1.0,
        metrics_embedder={} if embedder is None else {"accuracy@1": embedder},
    )


def test_a_better_model_has_no_verdict():
    assert worse_than_start(result(0.70, 0.85)) is None
    assert worse_than_start(result(0.70, 0.96, embedder=0.95)) is None


def test_a_reranker_worse_than_its_embedder_says_so_with_both_numbers():
    verdict = worse_than_start(result(0.60, 0.844, embedder=0.956))
    assert verdict.startswith("Worse than the embedder it reranks: validation accuracy@1 0.844 against 0.956")
    assert "Keep the embedder" in verdict


def test_a_model_that_never_beat_its_start_says_so():
    assert "No better than the model it started from: validation accuracy@1 0.700 against 0.700" in worse_than_start(
        result(0.70, 0.70, best_step=0)
    )


def test_the_fine_tune_page_warns_instead_of_announcing_success(workspace, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(workspace.root))
    save_dataset(workspace, "qa", QADataset({"q": "x"}, {"p": "y"}, {"q": ["p"]}), None, {})
    trained = result(0.60, 0.844, embedder=0.956)
    verdict = worse_than_start(trained)
    kept = TrainingRunResult(**asdict(trained), model_id="m1", model_name="reranker", model_path="m", verdict=verdict)
    run = workspace.create_run(jobs.JobKind.TRAIN_CROSS_ENCODER, "reranker", {})
    jobs.runner.write_status(
        workspace,
        jobs.JobStatus(
            run_id=run.id,
            kind=jobs.JobKind.TRAIN_CROSS_ENCODER,
            state="succeeded",
            started=time.time(),
            finished=time.time(),
            message=f"validation accuracy@1 0.600 → 0.844. {verdict}",
            result=kept.to_dict(),
        ),
    )
    at = open_page("finetune")
    at.session_state["training_run"] = run.id
    at.run()
    assert not at.exception
    assert "Worse than the embedder it reranks" in shown(at.warning)
    assert "Worse than the embedder" not in shown(at.success)
