"""Corpus vectors kept per document encoder: the same encoder never encodes the same passages twice.
Each test keeps them in a folder of its own (conftest.own_corpus_vectors)."""

import copy
import os

import pytest
import torch

from ragtune_core.evaluation import corpus_vectors
from ragtune_core.evaluation.corpus_vectors import encoder_key, encodes_corpus, model_encoder_key, vectors_path
from ragtune_core.evaluation.duration import ENCODING, evaluation_phases
from ragtune_core.evaluation.retrieval import corpus_and_progress, encoding_works, text_work
from ragtune_core.questions.qa_dataset import QADataset
from ragtune_core.store.models import load_embedder
from ragtune_core.training.query_side import asymmetric
from tests.fake_pace import MEASURED_PACE

PASSAGES = [f"The {word} section of the report, paragraph {i}." for i, word in enumerate(["first", "second", "third"])]


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


def vectors(model, passages=PASSAGES, questions=(), on_progress=None):
    return corpus_and_progress(model, passages, list(questions), 2, on_progress)[0]


def test_the_same_encoder_reads_kept_vectors_and_its_progress_counts_only_what_it_encodes(monkeypatch):
    first, second = load_embedder(None), asymmetric(copy.deepcopy(load_embedder(None)))
    first_calls, second_calls = counting(first, monkeypatch), counting(second, monkeypatch)
    reported = []
    encoded = vectors(first, questions=["a question"], on_progress=lambda *report: reported.append(report))
    assert sum(first_calls) == len(PASSAGES) and vectors_path(encoder_key(first), PASSAGES).is_file()
    assert reported[-1][1] == text_work([*PASSAGES, "a question"])  # still to encode: the question
    reported.clear()
    kept, advance = corpus_and_progress(second, PASSAGES, ["a question"], 2, lambda *report: reported.append(report))
    advance(["a question"])
    assert second_calls == [] and torch.equal(kept, encoded.float())
    assert reported == [(text_work(["a question"]), text_work(["a question"]), "encoded 1/1 texts")]
    vectors(second, PASSAGES[:2])  # other passages: encoded
    assert sum(second_calls) == 2


def test_an_evaluation_counts_the_corpus_for_the_first_model_of_an_encoder_only():
    base, tuned = load_embedder(None), asymmetric(copy.deepcopy(load_embedder(None)))
    question = ["what does it say"]
    assert encoding_works([base, tuned], PASSAGES, question) == [text_work(PASSAGES + question), text_work(question)]
    vectors(base)
    assert encoding_works([base, tuned], PASSAGES, question) == [text_work(question)] * 2


def test_an_unreadable_file_is_encoded_again_and_replaced(monkeypatch):
    model = load_embedder(None)
    calls = counting(model, monkeypatch)
    path = vectors_path(encoder_key(model), PASSAGES)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an array")
    encoded = vectors(model)
    assert calls == [3] and encoded.shape == (3, 384)
    assert torch.equal(vectors(model), encoded)
    assert calls == [3]


def test_the_least_recently_used_files_go_over_the_size_bound(tmp_path):
    for age, name in enumerate(["new", "middle", "old"]):
        path = tmp_path / f"{name}.npy"
        path.write_bytes(b"x" * 100)
        os.utime(path, (1000 - age, 1000 - age))
    corpus_vectors._evict(tmp_path, 250)
    assert sorted(path.stem for path in tmp_path.glob("*.npy")) == ["middle", "new"]


def test_an_estimate_counts_a_corpus_once_per_encoder_and_not_when_kept():
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
    assert encodes_corpus(model_encoder_key(None), PASSAGES)
    vectors(load_embedder(None))
    assert not encodes_corpus(model_encoder_key(None), PASSAGES)
    assert encoding_seconds([None]) == pytest.approx(question_only)
