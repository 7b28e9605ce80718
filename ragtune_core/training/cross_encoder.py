"""Fine-tuning a cross-encoder: a tool selector on router datasets, a reranker on QA datasets.

Follows sentence-transformers' reranker recipe: for each train question, the right passage (or
tool) labelled 1 and the wrong ones an embedder ranks highest (hard negatives) labelled 0. It trains
on each question's candidates as one list with `ListNetLoss` (a softmax over the candidates: putting
the right one first is what it learns). Each evaluation
reranks the validation questions' embedder candidates, all tools of a router dataset (so
accuracy@1 is the router's match rate) or the top RERANK_TOP_K passages of a QA dataset, and
scores them with evaluation.metrics' retrieval metrics, at the blend with its first stage and word match
that scores best (evaluation.reranking.best_blend): the shares the model kept, and the embedder it blends
with, save in its config. A QA reranker's wrong passages come only from the documents its train questions ask of. The
training itself (events, atomic save) is fit.py's.

torch and sentence-transformers are imported inside functions: pages import this module for the
config alone and must stay quick to load.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..evaluation.blend import SCORES_ALONE, Blend, keep_blend, keep_first_stage
from ..evaluation.corpus_vectors import encoder_key, encodes_corpus
from ..evaluation.metrics import TOP_K
from ..evaluation.reranking import (
    RERANK_TOP_K,
    FirstStage,
    best_blend,
    cross_encoder_scores,
    first_stage,
    reranked,
    retrieval_report,
)
from ..evaluation.retrieval import text_work
from ..questions.qa_dataset import TEST, TRAIN, VAL, QADataset
from ..runs import EventKind
from ..store.models import CROSS_ENCODER, load_embedder, transformer_folder
from .config import MAX_HARD_NEGATIVES, CrossEncoderTrainConfig, is_int, require
from .fit import (
    EVAL_BATCH_SIZE,
    OnEvent,
    TrainerRecipe,
    TrainResult,
    check_free,
    check_parts,
    fit_and_publish,
    load_base_model,
    primary_metric,
    test_sample,
    validation_sample,
)
from .name_swap import NameSwapper

MODEL_KIND = CROSS_ENCODER

Triple = tuple[str, str, float]  # (question, passage, label)
# Each validation run reranks every sampled question's candidates (a forward pass per pair): the sample
# is sized by the tokens those passes read, about 40 s of scoring on 2 CPU cores.
VALIDATION_TOKENS = 250_000
MIN_VALIDATION_QUESTIONS = 40


def labelled_pairs(first: FirstStage, k: int, name_swaps: int = 0, seed: int = 0, easy: int = 0) -> list[Triple]:
    """For each question of a ranked part: its right passages (label 1.0), then the k wrong ones the
    embedder ranks highest and `easy` wrong ones drawn at random from the rest (label 0.0). In a router
    dataset the right tool's document's other tools come first among the wrong ones, whatever their
    rank: "specific facts" or "summary" of the same document is the confusion that matters; and each
    question that names its document gets `name_swaps` copies with that name invented anew (see
    name_swap.py)."""
    require(is_int(k) and 1 <= k <= MAX_HARD_NEGATIVES, f"k must be 1 to {MAX_HARD_NEGATIVES} hard negatives")
    questions, corpus = first.questions, first.questions.corpus
    router = questions.kind == "router"
    tools_of = _passages_by_document(questions) if router else {}
    swapper = NameSwapper(corpus, questions.passage_docs, name_swaps, seed) if router and name_swaps else None
    candidates = set(corpus) if router else _passages_asked_of(questions)
    rng = random.Random(seed)
    triples = []
    for qid, ranked in zip(questions.queries, first.indices, strict=True):
        question, right = questions.queries[qid], questions.relevant_docs[qid]
        siblings = [pid for pid in right for pid in tools_of.get(questions.passage_docs.get(pid), [])]
        ranked_ids = (first.corpus_ids[i] for i in ranked)
        wrong = [pid for pid in dict.fromkeys([*siblings, *ranked_ids]) if pid not in right and pid in candidates]
        hard = wrong[: max(k, len(set(siblings) - set(right)))]
        pairs = [(pid, 1.0) for pid in dict.fromkeys(right)]
        pairs += [(pid, 0.0) for pid in hard + _drawn(candidates, {*right, *hard}, easy, rng)]
        triples += [(question, corpus[pid], label) for pid, label in pairs]
        if swapper:
            triples += swapper.copies_of(question, right, pairs)
    return triples


def _passages_asked_of(questions: QADataset) -> set[str]:
    """The passages of the documents the questions are asked of (all passages when documents are not
    known). With a split by document, another document's passages are never right in training: as
    wrong passages they teach a QA reranker to tell the documents apart instead of question from
    passage (docs/decisions.md, "QA reranker negatives")."""
    asked_of = {questions.passage_docs.get(pid) for right in questions.relevant_docs.values() for pid in right}
    return {pid for pid in questions.corpus if questions.passage_docs.get(pid) in asked_of}


def _drawn(candidates: set[str], taken: set[str], n: int, rng: random.Random) -> list[str]:
    """`n` of the candidate passages drawn at random, none of `taken` (fewer if there are fewer)."""
    drawn: list[str] = []
    ids = sorted(candidates)
    while len(drawn) < min(n, len(ids) - len(taken)):
        pid = rng.choice(ids)
        if pid not in taken and pid not in drawn:
            drawn.append(pid)
    return drawn


def _passages_by_document(dataset: QADataset) -> dict[str, list[str]]:
    by_document: dict[str, list[str]] = {}
    for pid, doc_id in dataset.passage_docs.items():
        by_document.setdefault(doc_id, []).append(pid)
    return by_document


# --- training ----------------------------------------------------------------------------------
def train_cross_encoder(
    config: CrossEncoderTrainConfig,
    dataset: QADataset,
    output_dir: Path,
    on_event: OnEvent | None = None,
    model_card_name: str | None = None,
) -> TrainResult:
    """Fine-tune `start_model(config)` as a cross-encoder on the dataset's train questions.

    `on_event(name, data)` receives "prepare" {done, total, message} while the embedder ranks the
    corpus, then the same events as training.train_embedding. The result's metrics_embedder are the
    embedder's own validation metrics, for comparison. Validation runs rerank at most
    validation_questions() questions, and so do the test part's measures of the base and kept models, at the
    blend weight validation chose. `output_dir` must not exist: it appears, complete, only when
    everything went well.
    """
    output_dir = Path(output_dir)
    check_free(output_dir)
    check_parts(dataset)
    emit = on_event or (lambda event, data: None)

    primary, router = primary_metric(dataset), dataset.kind == "router"
    # A router's tools are all reranked; a QA corpus only up to the reranker's usual depth.
    top_k = min(TOP_K, len(dataset.corpus)) if router else RERANK_TOP_K
    embedder = load_embedder(config.embedder)
    sample_size = validation_questions(dataset, top_k, config.max_length)
    val_sample, test_part = validation_sample(dataset, sample_size), test_sample(dataset, sample_size)
    # One "prepare" progress over the rankings: the corpus and validation questions, then the train (and test) ones.
    passages = list(dataset.corpus.values())
    corpus_work = text_work(passages) if encodes_corpus(encoder_key(embedder), passages) else 0
    val_work = corpus_work + text_work(list(val_sample.subset(VAL).queries.values()))
    train_work = text_work(list(dataset.subset(TRAIN).queries.values()))
    all_work = val_work + train_work + text_work(list(test_part.queries.values()) if test_part else [])

    def prepare(before: int):
        return lambda done, total, message: emit(
            EventKind.PREPARE, {"done": before + done, "total": all_work, "message": f"hard negatives: {message}"}
        )

    val_first = first_stage(embedder, val_sample, VAL, EVAL_BATCH_SIZE, on_progress=prepare(0))
    train_first = first_stage(embedder, dataset, TRAIN, EVAL_BATCH_SIZE, val_first.corpus_embeddings, prepare(val_work))
    test_first = (
        None
        if test_part is None
        else first_stage(
            embedder, test_part, TEST, EVAL_BATCH_SIZE, val_first.corpus_embeddings, prepare(val_work + train_work)
        )
    )
    triples = labelled_pairs(train_first, config.hard_negatives, config.name_swaps, config.seed, config.easy_negatives)
    require(
        any(label == 0.0 for _, _, label in triples),
        "no train question has a wrong passage to learn from: every passage answers them all",
    )
    metrics_embedder = retrieval_report(val_first, "embedder").metrics

    model = load_base_model(CROSS_ENCODER, start_model(config), config.max_length, model_card_name, config.seed)
    evaluator = _make_evaluator(val_first, top_k, primary, emit)
    test_evaluator = None if test_first is None else _make_evaluator(test_first, top_k, primary, emit, evaluator)

    def keep_step_blend(kept, step: int) -> None:
        keep_blend(kept, evaluator.blends.get(step, SCORES_ALONE))
        keep_first_stage(kept, config.embedder)

    recipe = _listwise_recipe(model, triples, config.target_steps(dataset.kind), keep_step_blend)
    result = fit_and_publish(config, model, evaluator, recipe, primary, output_dir, emit, test_evaluator)
    return replace(result, metrics_embedder=metrics_embedder, blend=evaluator.blends.get(result.best_step))


def validation_questions(dataset: QADataset, top_k: int, max_length: int) -> int:
    """How many validation questions a validation run reranks: VALIDATION_TOKENS of (question, passage)
    pairs, top_k a question, each as long as the corpus's average passage (about 4 characters a token)
    and at most max_length; never fewer than MIN_VALIDATION_QUESTIONS."""
    passage_tokens = sum(len(text) for text in dataset.corpus.values()) / max(1, len(dataset.corpus)) / 4
    pair_tokens = min(max_length, passage_tokens + 16)
    return max(MIN_VALIDATION_QUESTIONS, int(VALIDATION_TOKENS / (top_k * pair_tokens)))


def start_model(config: CrossEncoderTrainConfig) -> str | None:
    """The weights a cross-encoder starts from: its base model, else its embedder's (None: the bundled
    model), with a new score head. An encoder fine-tuned on the same data already tells right from
    wrong, so the head learns sooner (docs/decisions.md, "cross-encoder starts from its embedder").
    A QA embedder's weights are its question encoder's (store.models.transformer_folder)."""
    return config.base_model or (transformer_folder(config.embedder) if config.embedder else None)


def _make_evaluator(first: FirstStage, top_k: int, primary: str, emit: OnEvent, weights=None):
    """Reranks one part's embedder candidates; metrics named as evaluation.metrics names them: those of
    the best blend with the first stage and word match (best_blend), which it keeps apart, in `blends` by
    step. A few hundred steps on a CPU can leave the cross-encoder alone below its fine-tuned first stage,
    and the blend keeps only what it adds (docs/decisions.md, "QA reranker blend", "Router cross-encoder
    blend"). With `weights` (the validation evaluator: for the test part), it chooses nothing: it blends
    as `weights` chose for the same step. Scoring, which takes seconds, is reported to `emit`
    as VALIDATING progress."""
    from sentence_transformers.base.evaluation.evaluator import BaseEvaluator

    class RerankEvaluator(BaseEvaluator):
        def __init__(self):
            super().__init__()
            self.primary_metric = primary
            self.blends: dict[int, Blend] = {}  # step -> the blend its metrics were measured at

        def scored(self, done: int, total: int, message: str) -> None:
            run = "test run" if first.part == TEST else "validation run"
            emit(EventKind.VALIDATING, {"done": done, "total": total, "message": f"{run}: {message}"})

        def __call__(self, model, output_path=None, epoch=-1, steps=-1) -> dict[str, float]:
            scores = cross_encoder_scores(model, first, top_k, EVAL_BATCH_SIZE, self.scored)
            if weights is not None:
                chosen = weights.blends.get(steps, SCORES_ALONE)
                return self.prefix_name_to_metrics(reranked(first, scores, first.part, chosen).metrics, first.part)
            self.blends[steps], report = best_blend(first, scores, first.part, primary)
            return self.prefix_name_to_metrics(report.metrics, first.part)

    return RerankEvaluator()


def _listwise_recipe(
    model, triples: list[Triple], target_steps: int, on_kept: Callable[[object, int], None]
) -> TrainerRecipe:
    """Each question's candidates as one row, a softmax over them (ListNet): it learns sooner and further
    than pairwise binary cross-entropy (docs/decisions.md, "listwise cross-encoder loss")."""
    from datasets import Dataset
    from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.losses import ListNetLoss

    rows = candidate_lists(triples)
    data = Dataset.from_dict(
        {
            "query": [question for question, _, _ in rows],
            "docs": [passages for _, passages, _ in rows],
            "labels": [labels for _, _, labels in rows],
        }
    )
    return TrainerRecipe(
        CrossEncoderTrainer,
        CrossEncoderTrainingArguments,
        data,
        ListNetLoss(model),
        # Every weight takes part in every step: under a launcher, DDP's search for unused ones fails on this model.
        arguments={"ddp_find_unused_parameters": False},
        pairs_per_row=max(1, round(len(triples) / len(rows))),
        on_kept=on_kept,
        target_steps=target_steps,
    )


def candidate_lists(triples: list[Triple]) -> list[tuple[str, list[str], list[float]]]:
    """(question, passages, labels) per question, from labelled_pairs' triples: a question's run of
    triples, its right passages first (a question asked twice starts a new list at its next right one)."""
    rows: list[tuple[str, list[str], list[float]]] = []
    for question, passage, label in triples:
        if not rows or rows[-1][0] != question or (label == 1.0 and 0.0 in rows[-1][2]):
            rows.append((question, [], []))
        rows[-1][1].append(passage)
        rows[-1][2].append(label)
    return rows
