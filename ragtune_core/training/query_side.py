"""Query-side fine-tuning: the questions' encoder learns, the passages' stays the base model's.

A QA embedding trains only the route that encodes questions (a sentence-transformers `Router` with
a query and a document route); passages keep the base model's embeddings. So:

- a corpus is encoded once, by the frozen document route: for every validation run, and for an
  index users already built with the base model, which stays valid for the fine-tuned model;
- a training step encodes a batch of short questions only, and scores each question against every
  passage of the documents trained on (a softmax over hundreds of wrong passages, where in-batch
  negatives give fifteen), at a fraction of a full step's cost;
- the questions' encoder keeps half of the base model's weights (`base_share`: weight averaging as in
  WiSE-FT, Wortsman et al. 2022): generated questions teach it what people ask about, the base
  model's own weights keep the wordings no generator writes.

Passages of documents not trained on are never wrong answers in training: a split by document
would otherwise teach "that document is never right" and hurt its validation questions.

This module imports torch: training.embedding imports it only when a training starts.
"""

from __future__ import annotations

import contextlib
import copy

import torch
from torch.nn.functional import cross_entropy, normalize

from ..evaluation.retrieval import Progress, corpus_and_progress
from ..questions.qa_dataset import TRAIN, QADataset
from .config import EmbeddingTrainConfig
from .fit import EVAL_BATCH_SIZE, TrainerRecipe
from .name_swap import renamed_pairs

QUERY, DOCUMENT = "query", "document"
# Cosine similarities x 40 before the softmax: sharper than in-batch losses' x 20, among hundreds of passages.
SCALE = 40.0


def asymmetric(model):
    """A SentenceTransformer whose query route is a trainable copy of `model`'s modules and whose
    document route is `model`'s own modules, frozen."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Router

    documents = list(model.children())
    queries = copy.deepcopy(documents)  # before freezing: the copy learns
    for module in documents:
        module.requires_grad_(False)
    router = Router.for_query_document(query_modules=queries, document_modules=documents)
    tuned = SentenceTransformer(modules=[router], device=str(model.device))
    tuned.model_card_data = model.model_card_data
    return tuned


def query_route(model):
    return model[0].sub_modules[QUERY]


def document_route(model):
    return model[0].sub_modules[DOCUMENT]


@contextlib.contextmanager
def with_base_share(model, base_share: float):
    """The query route's weights averaged with the document route's (the base model's) while inside."""
    query = query_route(model)
    saved = copy.deepcopy(query.state_dict())
    merge_base_share(model, base_share)
    try:
        yield model
    finally:
        query.load_state_dict(saved)


def merge_base_share(model, base_share: float) -> None:
    """Average the query route's weights with the base model's for good (the model kept)."""
    with torch.no_grad():
        for tuned, original in zip(query_route(model).parameters(), document_route(model).parameters(), strict=True):
            tuned.mul_(1 - base_share).add_(original, alpha=base_share)


def passage_embeddings(
    model, dataset: QADataset, on_progress: Progress | None = None, batch_size: int = EVAL_BATCH_SIZE
):
    """Every passage of the corpus encoded once by the frozen document route, in corpus order."""
    passages = list(dataset.corpus.values())
    encoded, _ = corpus_and_progress(model, passages, [], batch_size, on_progress)
    return normalize(encoded, dim=-1)


def recipe(model, dataset: QADataset, corpus_embeddings, config: EmbeddingTrainConfig) -> TrainerRecipe:
    """Train questions, and copies of those naming their document renamed (training.name_swap), against the
    passages of the documents they were asked of."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    train = dataset.subset(TRAIN)
    trained_docs = {dataset.passage_docs.get(p, p) for pids in train.relevant_docs.values() for p in pids}
    candidates = [i for i, pid in enumerate(dataset.corpus) if dataset.passage_docs.get(pid, pid) in trained_docs]
    position = {pid: i for i, pid in enumerate(dataset.corpus)}
    at = {corpus_index: row for row, corpus_index in enumerate(candidates)}
    rows = [(question, at[position[p]]) for question, p in renamed_pairs(train, config.name_swaps, config.seed)]
    train_dataset = Dataset.from_dict({"anchor": [q for q, _ in rows], "label": [p for _, p in rows]})
    passages = corpus_embeddings[torch.tensor(candidates)]
    return TrainerRecipe(
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
        train_dataset,
        PassageSoftmaxLoss(model, passages),
        arguments={"router_mapping": {"anchor": QUERY}},
        on_kept=lambda kept, step: merge_base_share(kept, config.base_share),
    )


class PassageSoftmaxLoss(torch.nn.Module):
    """Cross-entropy of each question over fixed passage embeddings (its own passage is the label)."""

    def __init__(self, model, passages):
        super().__init__()
        self.model = model
        self.register_buffer("passages", passages, persistent=False)

    def forward(self, sentence_features, labels):
        questions = normalize(self.model(sentence_features[0])["sentence_embedding"], dim=-1)
        return cross_entropy(SCALE * questions @ self.passages.T, labels)


def evaluator_class(corpus_embeddings, base_share: float) -> type:
    """An InformationRetrievalEvaluator that takes the corpus's embeddings as given (the document
    route never changes) and measures the query route as it will be kept (base share averaged in)."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    class QuerySideEvaluator(InformationRetrievalEvaluator):
        def __call__(self, model, output_path=None, epoch=-1, steps=-1, *args, **kwargs):
            with with_base_share(model, base_share), encoding_here(model):
                return super().__call__(
                    model, output_path, epoch, steps, *args, corpus_embeddings=corpus_embeddings, **kwargs
                )

    return QuerySideEvaluator


@contextlib.contextmanager
def encoding_here(model):
    """`model` encodes in this process while inside. During a distributed training (training.devices) the
    trainer has rank 0 evaluate and share its encoding out to the other ranks, whose question encoders
    lack the base share averaged into rank 0's: the questions, few and short, are encoded here."""
    shared, model._distributed_inference = model._distributed_inference, None
    try:
        yield model
    finally:
        model._distributed_inference = shared
