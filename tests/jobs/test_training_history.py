"""The Fine-tune page's run history: one row per training run, newest first."""

from ragtune_core.jobs import JobKind, JobState
from ragtune_core.jobs.results import training_history
from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from tests.jobs.test_job_types import TRAINING_RESULT


def test_each_training_run_is_a_row_newest_first_with_what_it_kept(workspace):
    dataset = QADataset({"q": "Question?"}, {"p": "Passage."}, {"q": ["p"]})
    dataset_id = save_dataset(workspace, "bridges", dataset, None, {}).id
    done = workspace.create_run(JobKind.TRAIN_EMBEDDING, "bridges-minilm", {}, dataset_id=dataset_id)
    workspace.update_run(
        done.id,
        state=JobState.SUCCEEDED,
        finished=done.created + 185,
        result={**TRAINING_RESULT, "trials": [{"number": 0}, {"number": 1}]},
    )
    failed = workspace.create_run(JobKind.TRAIN_CROSS_ENCODER, "bridges-reranker", {}, dataset_id="dataset-gone")
    workspace.update_run(failed.id, state=JobState.FAILED, created=done.created + 1, finished=done.created + 4)
    workspace.create_run(JobKind.SLEEP, "not a training", {})

    newest, oldest = training_history(workspace)
    assert (newest["model"], newest["type"], newest["state"]) == ("bridges-reranker", "cross-encoder", "failed")
    assert newest["dataset"] == "dataset-gone"  # a deleted dataset is named by its id
    assert (newest["kept step"], newest["ndcg@10"], newest["estimated"], newest["duration"]) == (None, None, "", "3s")
    assert (oldest["model"], oldest["type"], oldest["dataset"]) == ("bridges-minilm", "embedding", "bridges")
    assert (oldest["schedule"], oldest["kept step"], oldest["steps run"], oldest["search trials"]) == ("auto", 4, 5, 2)
    assert (oldest["estimated"], oldest["duration"]) == ("3 s", "3m 05s")
    assert (oldest["ndcg@10"], oldest["mrr@10"]) == (0.2, None)


def test_no_training_run_is_no_row(workspace):
    assert training_history(workspace) == []
