"""How long an evaluation or a reranking will take, said before it starts (see timing.work).

Evaluating a model encodes the corpus and the questions once; reranking then scores each
question's top passages with a cross-encoder, one forward pass per (question, passage) pair, the
longer part by far on a CPU. Both are counted in tokens, at the pace this machine runs the model:
encoding at its encoding pace, scoring pairs at its scoring pace, two components of the pace that
each run corrects apart (timing.pace.Component), so an evaluation's correction never misleads a
reranking's estimate. A corpus whose vectors an encoder has kept (corpus_vectors) costs it nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from ..questions.qa_dataset import QADataset
from ..timing.pace import Component, Pace, machine_pace, token_counter
from ..timing.work import Estimate, sorted_batch_tokens
from .blend import saved_blend
from .corpus_vectors import encodes_corpus, model_encoder_key
from .retrieval import part_questions

START, FIRST_STAGE, RERANKING, ENCODING = "start", "first stage", "reranking", "encoding"
ENCODER_LENGTH, PAIR_LENGTH = 256, 512  # what an embedder and a cross-encoder read at most


def estimate_evaluation(
    sets: list[tuple[str, QADataset, str | None]],
    models: list[str | None],
    cross_encoders: list[str | None] = (),
    top_k: int = 0,
) -> Estimate:
    """Seconds to evaluate `models` on each (name, dataset, part) of `sets`, at this machine's kept
    pace (timing.machine_pace). With several sets, each phase is named after its set
    ("handwritten · encoding"), in the order they run."""
    estimate = Estimate().add(START, machine_pace(models[0]).start_seconds if models else 0.0, Component.START)
    for name, dataset, part in sets:
        phases = evaluation_phases(dataset, part, models, machine_pace, cross_encoders, top_k)
        for phase, seconds in phases.phases.items():
            estimate.add(set_phase(name, phase) if len(sets) > 1 else phase, seconds, phases.components[phase])
    return estimate


def set_phase(name: str, phase: str) -> str:
    return f"{name} · {phase}"


def evaluation_phases(
    dataset: QADataset,
    part: str | None,
    models: list[str | None],
    pace_of: Callable[[str | None], Pace],
    cross_encoders: list[str | None] = (),
    top_k: int = 0,
) -> Estimate:
    """Seconds of each phase of evaluating `models` on `part`, in the order they run: with
    `cross_encoders`, the first model ranks the corpus (FIRST_STAGE) and each cross-encoder reranks
    its top_k (RERANKING: pairs scored), unless its blend gives its score no share; every other model
    encodes the corpus and the questions (ENCODING). `pace_of(model)` is the machine's pace for a model."""
    _, questions = part_questions(dataset, part)
    phases = Estimate()
    if cross_encoders:  # in the order they run, before the other models' ENCODING
        phases.add(FIRST_STAGE, 0.0, Component.ENCODING).add(RERANKING, 0.0, Component.SCORING)
    passages, encoded = list(dataset.corpus.values()), set()
    for index, model in enumerate(models):
        lengths = token_counter(model, ENCODER_LENGTH)
        tokens = sorted_batch_tokens(lengths(questions.queries.values()))
        if encodes_corpus(model_encoder_key(model), passages, encoded):
            tokens += sorted_batch_tokens(lengths(passages))
        phase = FIRST_STAGE if cross_encoders and index == 0 else ENCODING
        phases.add(phase, pace_of(model).forward_seconds(tokens), Component.ENCODING)
    for model in (model for model in cross_encoders if saved_blend(model).reranker_share):
        lengths = token_counter(model, PAIR_LENGTH)
        question_tokens = sum(lengths(questions.queries.values())) / max(1, len(questions.queries))
        passage_tokens = sum(lengths(dataset.corpus.values())) / max(1, len(dataset.corpus))
        pairs = len(questions.queries) * min(top_k, len(dataset.corpus))
        tokens = pairs * (question_tokens + passage_tokens - 1)
        phases.add(RERANKING, pace_of(model).scoring_seconds(tokens), Component.SCORING)
    return phases
