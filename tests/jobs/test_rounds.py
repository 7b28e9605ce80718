"""A curation round: the same training on the new version, both models compared with intervals."""

import dataclasses

import numpy as np
import pytest
import torch

from ragtune_core.evaluation.retrieval import evaluate_retrieval, save_report
from ragtune_core.jobs import JobKind
from ragtune_core.jobs.rounds import earlier_models, retrain_params, round_gains
from ragtune_core.questions.qa_dataset import DatasetError, load_dataset, save_dataset, split_dataset
from ragtune_core.questions.versions import save_version
from tests.questions.test_queue import dataset as flagged_dataset


class BagOfWords:
    """Stands in for a SentenceTransformer: counts the words of a fixed vocabulary (of `min_length` letters or more)."""

    def __init__(self, texts, min_length=1):
        self.vocabulary = sorted({w for t in texts for w in t.lower().split() if len(w) >= min_length})

    def encode(self, texts, **kwargs):
        rows = [[t.lower().split().count(w) for w in self.vocabulary] for t in texts]
        return torch.tensor(np.array(rows, dtype=float) + 1e-6, dtype=torch.float32)

    encode_query = encode_document = encode


@pytest.fixture
def versions(workspace):
    half_held_out = flagged_dataset()
    half_held_out.split = split_dataset(half_held_out, 0.5, "query", seed=0)
    first = save_dataset(workspace, "volcanoes", half_held_out, None, {})
    run = workspace.create_run(
        JobKind.TRAIN_EMBEDDING,
        "tuned",
        {"dataset_id": first.id, "model_name": "tuned", "config": {"epochs": 3}},
        dataset_id=first.id,
    )
    workspace.commit_model(workspace.reserve_model("tuned", "embedding", "base", run_id=run.id).id, dataset_id=first.id)
    workspace.commit_model(workspace.reserve_model("from-cli", "embedding", "base").id, dataset_id=first.id)
    edited = load_dataset(workspace, first.id)
    edited = dataclasses.replace(edited, relevant_docs={**edited.relevant_docs, "mislabelled": ["vesuvius"]})
    return first, save_version(workspace, first.id, edited)


def test_a_round_retrains_a_model_of_an_earlier_version_with_its_own_settings(workspace, versions):
    first, second = versions
    assert [m.name for m in earlier_models(workspace, second.id)] == ["tuned"]  # the CLI's has no run to repeat
    assert earlier_models(workspace, first.id) == []
    kind, params = retrain_params(workspace, earlier_models(workspace, second.id)[0], second.id, "tuned v2")
    assert kind == JobKind.TRAIN_EMBEDDING
    assert params == {"dataset_id": second.id, "model_name": "tuned v2", "config": {"epochs": 3}}
    with pytest.raises(DatasetError, match="'from-cli' was not fine-tuned here"):
        retrain_params(workspace, workspace.resolve("models", "from-cli"), second.id, "again")


def test_the_rounds_gains_come_with_intervals_once_both_models_are_evaluated(workspace, versions):
    _, second = versions
    assert round_gains(workspace, second.id, "tuned", "tuned v2") is None
    dataset = load_dataset(workspace, second.id)
    texts = [*dataset.queries.values(), *dataset.corpus.values()]
    save_report(workspace, evaluate_retrieval(BagOfWords(texts, min_length=8), dataset, "tuned", "val"), second.id)
    assert round_gains(workspace, second.id, "tuned", "tuned v2") is None
    save_report(workspace, evaluate_retrieval(BagOfWords(texts), dataset, "tuned v2", "val"), second.id)
    gains = round_gains(workspace, second.id, "tuned", "tuned v2")
    assert [g.metric for g in gains] == ["ndcg@10", "accuracy@5", "mrr@10"]
    for gain in gains:
        assert gain.ci_low <= gain.gain <= gain.ci_high and gain.queries == 4  # the version's validation half
        assert gain.gain == pytest.approx(gain.other - gain.base)
