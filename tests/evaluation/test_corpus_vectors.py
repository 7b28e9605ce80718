"""Corpus vectors kept per document encoder: the same encoder never encodes the same passages twice."""

import copy
import os

import pytest
import torch

from ragtune_core.evaluation import corpus_vectors
from ragtune_core.evaluation.corpus_vectors import encoder_key, encodes_corpus, vectors_path
from ragtune_core.evaluation.duration import ENCODING, evaluation_phases
from ragtune_core.evaluation.retrieval import encode_corpus
from ragtune_core.questions.qa_dataset import QADataset
from ragtune_core.store.models import load_embedder
from ragtune_core.training.query_side import asymmetric
from tests.fake_pace import MEASURED_PACE

PASSAGES = [f"The {word} section of the report, paragraph {i}." for i, word in enumerate(["first", "second", "third"])]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_CACHE", str(tmp_path))
    corpus_vectors.model_encoder_key.cache_clear()
    yield tmp_path / corpus_vectors.FOLDER
    corpus_vectors.model_encoder_key.cache_clear()


def counting(model, monkeypatch) -> list[int]:
    """The number of texts each of the model's encode_document calls received."""
    calls, encode = [], model.encode_document
    monkeypatch.setattr(model, "encode_document", lambda texts, **kw: calls.append(len(texts)) or encode(texts, **kw))
    return calls


def test_a_question_encoder_shares_its_base_models_document_encoder_and_other_weights_do_not():
    base = load_embedder(None)
    tuned = asymmetric(copy.deepcopy(base))
    assert encoder_key(tuned) == encoder_key(base)
    with torch.no_grad():
        tuned[0].sub_modules["query"][0].auto_model.embeddings.word_embeddings.weight[5, 0] += 1.0
    assert encoder_key(tuned) == encoder_key(base)  # the query route does not encode passages
    with torch.no_grad():
        tuned[0].sub_modules["document"][0].auto_model.embeddings.word_embeddings.weight[5, 0] += 1.0
    assert encoder_key(tuned) != encoder_key(base)
    assert encoder_key(object()) is None  # a stand-in encoder is not keyed


def test_the_same_encoder_reads_kept_vectors_and_reports_them_done(cache, monkeypatch):
    first, second = load_embedder(None), asymmetric(copy.deepcopy(load_embedder(None)))
    first_calls, second_calls = counting(first, monkeypatch), counting(second, monkeypatch)
    encoded = encode_corpus(first, PASSAGES, 2, lambda batch: None)
    assert sum(first_calls) == len(PASSAGES) and vectors_path(encoder_key(first), PASSAGES).is_file()
    reported = []
    kept = encode_corpus(second, PASSAGES, 2, reported.append)
    assert second_calls == [] and reported == [PASSAGES]
    assert torch.equal(kept, encoded.float())
    encode_corpus(second, PASSAGES[:2], 2, lambda batch: None)  # other passages: encoded
    assert sum(second_calls) == 2


def test_an_unreadable_file_is_encoded_again_and_replaced(cache, monkeypatch):
    model = load_embedder(None)
    calls = counting(model, monkeypatch)
    path = vectors_path(encoder_key(model), PASSAGES)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an array")
    vectors = encode_corpus(model, PASSAGES, 8, lambda batch: None)
    assert calls == [3] and vectors.shape == (3, 384)
    assert torch.equal(encode_corpus(model, PASSAGES, 8, lambda batch: None), vectors)
    assert calls == [3]


def test_the_least_recently_used_files_go_over_the_size_bound(tmp_path):
    for age, name in enumerate(["new", "middle", "old"]):
        path = tmp_path / f"{name}.npy"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1000 - age, 1000 - age))
    corpus_vectors._evict(tmp_path, 250)
    assert sorted(path.stem for path in tmp_path.glob("*.npy")) == ["middle", "new"]


def test_an_estimate_counts_a_corpus_once_per_encoder_and_not_when_kept(cache):
    dataset = QADataset(
        {"q": "what does the second section say"},
        dict(zip(["a", "b", "c"], PASSAGES, strict=True)),
        {"q": ["b"]},
        split={"q": "val"},
    )

    def encoding_seconds(models):
        return evaluation_phases(dataset, "val", models, lambda model: MEASURED_PACE).phases[ENCODING]

    one, twice = encoding_seconds([None]), encoding_seconds([None, None])
    question_only = twice - one
    assert 0 < question_only < one  # the second model of the same encoder encodes only the question
    assert encodes_corpus(None, PASSAGES)
    encode_corpus(load_embedder(None), PASSAGES, 8, lambda batch: None)
    assert not encodes_corpus(None, PASSAGES)
    assert encoding_seconds([None]) == pytest.approx(question_only)
