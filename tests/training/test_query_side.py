"""Query-side training of a QA embedding: the question encoder learns, the passages' stays the base model's."""

import pytest
import torch

from ragtune_core.store.models import EMBEDDING, load_embedder, load_model
from ragtune_core.training import query_side
from ragtune_core.training.config import EmbeddingTrainConfig
from ragtune_core.training.embedding import train_embedding
from tests.training.test_training import tiny_dataset

pytestmark = pytest.mark.slow


def _query_weight(model) -> torch.Tensor:
    return next(query_side.query_route(model).parameters())


def test_base_share_averages_the_question_encoder_with_the_base_model_and_puts_it_back():
    model = query_side.asymmetric(load_model(EMBEDDING))
    base = next(query_side.document_route(model).parameters()).detach().clone()
    with torch.no_grad():
        _query_weight(model).add_(1.0)
    tuned = _query_weight(model).detach().clone()
    with query_side.with_base_share(model, 0.25):
        assert torch.allclose(_query_weight(model), 0.75 * tuned + 0.25 * base)
    assert torch.equal(_query_weight(model), tuned)  # measured averaged, trained on as it was
    query_side.merge_base_share(model, 0.5)
    assert torch.allclose(_query_weight(model), 0.5 * tuned + 0.5 * base)


def test_questions_train_against_the_passages_of_the_documents_they_ask_of_only():
    dataset = tiny_dataset()
    model = query_side.asymmetric(load_model(EMBEDDING))
    corpus = query_side.passage_embeddings(model, dataset)
    recipe = query_side.recipe(model, dataset, corpus, EmbeddingTrainConfig(name_swaps=0))
    val_docs = {
        dataset.passage_docs[p] for q, part in dataset.split.items() if part == "val" for p in dataset.relevant_docs[q]
    }
    trained = [p for p in dataset.corpus if dataset.passage_docs[p] not in val_docs]
    assert recipe.loss.passages.shape[0] == len(trained) == 9
    rows = recipe.train_dataset
    assert len(rows) == 18
    for question, label in zip(rows["anchor"], rows["label"], strict=True):  # each label is its own passage's row
        qid = next(q for q, text in dataset.queries.items() if text == question)
        assert trained[label] == dataset.relevant_docs[qid][0]


def test_a_qa_model_tunes_its_questions_and_keeps_the_base_models_passage_embeddings(tmp_path):
    dataset = tiny_dataset()
    config = EmbeddingTrainConfig(epochs=2, batch_size=4, max_seq_length=64, eval_steps=2)
    result = train_embedding(config, dataset, tmp_path / "qa-model")
    tuned, base = load_embedder(str(tmp_path / "qa-model")), load_embedder(None)
    passages = list(dataset.corpus.values())
    assert torch.allclose(
        tuned.encode_document(passages, convert_to_tensor=True),
        base.encode_document(passages, convert_to_tensor=True),
        atol=1e-5,
    )
    questions = list(dataset.queries.values())
    assert not torch.allclose(
        tuned.encode_query(questions, convert_to_tensor=True),
        base.encode_query(questions, convert_to_tensor=True),
        atol=1e-3,
    )
    assert result.best_step > 0 and result.metrics_after["ndcg@10"] >= result.metrics_before["ndcg@10"]
    questions_encoder, base_encoder = query_side.query_route(tuned)[0].auto_model, base[0].auto_model
    assert torch.equal(questions_encoder.get_input_embeddings().weight, base_encoder.get_input_embeddings().weight)


def test_a_qa_run_takes_the_question_encoders_batch_size_and_learning_rate_and_a_router_run_its_own():
    from ragtune_core.training.register import planned_schedule, run_config

    config = EmbeddingTrainConfig(query_batch_size=6, query_learning_rate=2e-4)
    qa = tiny_dataset()
    assert (run_config(qa, config).batch_size, run_config(qa, config).learning_rate) == (6, 2e-4)
    assert planned_schedule(qa, config).steps_per_epoch == 3  # 18 train pairs at 6 a step
    changed = EmbeddingTrainConfig(batch_size=9, learning_rate=3e-5, query_batch_size=6)  # --batch-size, --lr given
    assert (run_config(qa, changed).batch_size, run_config(qa, changed).learning_rate) == (9, 3e-5)
    router = qa.__class__(**{**vars(qa), "kind": "router", "source": None, "version": None})
    assert run_config(router, config) == config


def test_a_learning_rate_given_on_the_command_line_is_the_question_encoders_too_even_at_a_default():
    import argparse

    from ragtune_core.cli.train import config_from_options
    from ragtune_core.training.register import run_config

    qa, default_rate = tiny_dataset(), EmbeddingTrainConfig().learning_rate
    given = config_from_options(EmbeddingTrainConfig, argparse.Namespace(learning_rate=default_rate))
    assert run_config(qa, given).learning_rate == default_rate
    assert run_config(qa, EmbeddingTrainConfig()).learning_rate == EmbeddingTrainConfig().query_learning_rate
