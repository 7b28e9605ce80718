"""Reranking: an embedder retrieves, a cross-encoder reorders the embedder's top passages.

Both rankings become evaluation.retrieval `RetrievalReport`s, with its metrics, its tie-break and its
top-100 cut, so the Compare page shows an embedder with and without a reranker side by side.
Reranking reorders the embedder's top_k and keeps the embedder's ranks after them: every metric,
whatever its cut-off, then compares like with like. A reranker trained here orders by its score
blended with the embedder's and with word match (lexical.py), at the shares its training picked on
validation (BLENDS).

The first stage (`first_stage`) is kept apart from reranking because cross-encoder training reuses
it: it mines hard negatives from the train questions' rankings and evaluates each checkpoint by
reranking the validation questions' rankings, which do not change while the cross-encoder trains.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from ..questions.qa_dataset import QADataset
from ..store.models import load_cross_encoder, load_embedder, resolve_model, score_pairs
from ..store.workspace import Workspace
from .blend import BLENDS, SCORES_ALONE, Blend, blended, kept_blend, saved_blend
from .duration import FIRST_STAGE, RERANKING
from .lexical import lexical_index
from .metrics import METRIC_NAMES, TOP_K, EvaluationError, per_query_metric_values
from .retrieval import (
    ModelSpec,
    Progress,
    RetrievalReport,
    Saved,
    corpus_and_progress,
    encode_in_slices,
    load_part,
    part_questions,
    query_result,
    rank_passages,
    save_report,
    sorted_positions,
)

PhaseProgress = Callable[[str, int, int, str], None]
RERANK_TOP_K = 20
BATCH_SIZE = 64
PAIRS_PER_SLICE = BATCH_SIZE  # pairs scored between two progress reports: a few seconds on a CPU


@dataclass
class FirstStage:
    """An embedder's ranking of the whole corpus (its top 100) for each question of one dataset part."""

    part: str  # "val" | "train" | "all"
    questions: QADataset  # the part's questions, with the whole corpus
    corpus_ids: list[str]
    indices: list[list[int]]  # per question (in questions.queries order): corpus positions, best first
    scores: list[list[float]]  # the cosine similarities, in the same order
    corpus_embeddings: object  # a tensor, rows in corpus order: another part's first stage reuses it
    latency_ms: float | None = None  # mean per question: encoding it and searching the corpus
    _word_scores: dict[int, list[np.ndarray]] = field(default_factory=dict, repr=False)

    def word_scores(self, top_k: int) -> list[np.ndarray]:
        """BM25 of each question against its top_k passages, in the first stage's order (computed once)."""
        if top_k not in self._word_scores:
            index = lexical_index(tuple(self.questions.corpus[pid] for pid in self.corpus_ids))
            self._word_scores[top_k] = [
                index.scores(question, row[:top_k])
                for question, row in zip(self.questions.queries.values(), self.indices, strict=True)
            ]
        return self._word_scores[top_k]


@dataclass
class RerankReports:
    retrieval: RetrievalReport  # the embedder alone
    reranked: RetrievalReport  # the embedder's top_k reordered by the cross-encoder
    top_k: int

    @property
    def reports(self) -> list[RetrievalReport]:
        return [self.retrieval, self.reranked]


def first_stage(
    embedder,
    dataset: QADataset,
    part: str | None = "val",
    batch_size: int = BATCH_SIZE,
    corpus_embeddings=None,
    on_progress: Progress | None = None,
) -> FirstStage:
    """Rank the corpus for each question of `part` ("val", "train"; None or "all": every one).

    `embedder` is a SentenceTransformer, or any object with an `encode(texts, batch_size=...,
    convert_to_tensor=True, show_progress_bar=False)` returning a tensor; its encode_query and
    encode_document are used when it has them, as evaluation.retrieval does.
    """

    part, questions = part_questions(dataset, part)
    corpus_ids = list(dataset.corpus)
    passages, question_texts = list(dataset.corpus.values()), list(questions.queries.values())
    corpus_embeddings, advance = corpus_and_progress(
        embedder, passages, question_texts, batch_size, on_progress, corpus_embeddings
    )
    encode_query = getattr(embedder, "encode_query", embedder.encode)
    started = time.perf_counter()
    query_embeddings = encode_in_slices(encode_query, question_texts, batch_size, advance)
    scores, indices = rank_passages(query_embeddings, corpus_embeddings, sorted_positions(corpus_ids))
    latency_ms = (time.perf_counter() - started) * 1000 / len(question_texts)
    return FirstStage(part, questions, corpus_ids, indices.tolist(), scores.tolist(), corpus_embeddings, latency_ms)


def retrieval_report(first: FirstStage, name: str) -> RetrievalReport:
    """The first stage's ranking as a report: the same as evaluation.evaluate_retrieval gives."""
    return replace(_report(first, name, first.indices, first.scores), latency_ms=first.latency_ms)


def rerank(
    cross_encoder,
    first: FirstStage,
    top_k: int,
    name: str,
    batch_size: int = BATCH_SIZE,
    blend: Blend | None = None,
    on_progress: Progress | None = None,
) -> RetrievalReport:
    """Reorder each question's top_k passages by the cross-encoder's score of (question, passage),
    blended by `blend` (None: the cross-encoder's own, see kept_blend); no cross-encoder (words_alone):
    the blend with its score left out. Equal scores keep the embedder's order. Its latency is the first
    stage's and the rescoring's, per question.
    """
    blend = kept_blend(cross_encoder) if blend is None else blend
    started = time.perf_counter()
    if blend.reranker_share and cross_encoder is not None:
        head_scores = cross_encoder_scores(cross_encoder, first, top_k, batch_size, on_progress)
    else:  # its score has no share in the order, or is left out: nothing to score
        head_scores = [np.zeros(len(row[:top_k])) for row in first.indices]
    rescoring_ms = (time.perf_counter() - started) * 1000 / len(first.indices)
    latency_ms = None if first.latency_ms is None else first.latency_ms + rescoring_ms
    return replace(reranked(first, head_scores, name, blend), latency_ms=latency_ms)


def cross_encoder_scores(
    cross_encoder, first: FirstStage, top_k: int, batch_size: int = BATCH_SIZE, on_progress: Progress | None = None
) -> list[np.ndarray]:
    """The cross-encoder's scores of each question's top_k passages, in the first stage's order,
    scored in slices of PAIRS_PER_SLICE so that `on_progress(pairs done, pairs, message)` moves."""
    _check_top_k(top_k)
    questions, corpus_ids = first.questions, first.corpus_ids
    heads = [row[:top_k] for row in first.indices]
    pairs = [
        (question, questions.corpus[corpus_ids[i]])
        for question, head in zip(questions.queries.values(), heads, strict=True)
        for i in head
    ]
    scores = []
    for start in range(0, len(pairs), PAIRS_PER_SLICE):
        part = pairs[start : start + PAIRS_PER_SLICE]
        scores.append(score_pairs(cross_encoder, part, batch_size))
        if on_progress:
            done = start + len(part)
            on_progress(done, len(pairs), f"reranked {done}/{len(pairs)} (question, passage) pairs")
    flat = np.concatenate(scores) if scores else np.zeros(0)
    return np.split(flat, np.cumsum([len(head) for head in heads])[:-1])


def reranked(
    first: FirstStage, head_scores: list[np.ndarray], name: str, blend: Blend = SCORES_ALONE
) -> RetrievalReport:
    """The first stage with each question's head (as many passages as it has scores) reordered by
    those scores, blended by `blend` (Blend(): the scores alone, Blend(1.0): the first stage)."""
    heads = max((len(scored) for scored in head_scores), default=0)
    words = first.word_scores(heads) if blend.lexical else [None] * len(head_scores)
    indices, scores = [], []
    for scored, row_indices, row_scores, row_words in zip(head_scores, first.indices, first.scores, words, strict=True):
        head = len(scored)
        scored = blended(scored, np.asarray(row_scores[:head], dtype=float), row_words, blend)
        order = np.argsort(-scored, kind="stable")
        indices.append([row_indices[i] for i in order] + row_indices[head:])
        scores.append(scored[order].tolist() + row_scores[head:])
    return _report(first, name, indices, scores)


def best_blend(
    first: FirstStage, head_scores: list[np.ndarray], name: str, metric: str
) -> tuple[Blend, RetrievalReport]:
    """The BLENDS blend that reranks best by `metric` with the smallest reranker's share it earns, and that
    reranking. The reranker's score gets a share only as large as validation shows it worth: among the
    blends within one standard error (of the per-question difference) of the best, the one with the
    smallest reranker's share, then the best of those (docs/decisions.md, "QA reranker's share")."""
    tried = [(blend, reranked(first, head_scores, name, blend)) for blend in BLENDS]
    values = [per_query_metric_values(report.per_query, metric) for _, report in tried]
    best = values[max(range(len(tried)), key=lambda i: values[i].mean())]
    earned = [i for i in range(len(tried)) if _within_noise(best - values[i])]
    chosen = min(earned, key=lambda i: (tried[i][0].reranker_share, -values[i].mean(), tried[i][0].lexical))
    return tried[chosen]


def _within_noise(differences: np.ndarray) -> bool:
    """Whether per-question metric differences average no more than their standard error."""
    count = len(differences)
    error = differences.std(ddof=1) / np.sqrt(count) if count > 1 else 0.0
    return float(differences.mean()) <= error + 1e-12


def rerank_report(
    embedder,
    cross_encoder,
    dataset: QADataset,
    part: str | None = "val",
    top_k: int = RERANK_TOP_K,
    embedder_name: str = "embedder",
    cross_encoder_name: str = "cross-encoder",
    batch_size: int = BATCH_SIZE,
    on_progress: Progress | None = None,
) -> RerankReports:
    """The embedder's retrieval report on `part`, and the same after reranking its top_k."""
    _check_top_k(top_k)
    first = first_stage(embedder, dataset, part, batch_size, on_progress=on_progress)
    return RerankReports(
        retrieval=retrieval_report(first, embedder_name),
        reranked=rerank(cross_encoder, first, top_k, reranked_name(embedder_name, cross_encoder_name), batch_size),
        top_k=top_k,
    )


def reranked_name(embedder_name: str, cross_encoder_name: str) -> str:
    return f"{embedder_name} + rerank {cross_encoder_name}"


def words_alone_name(embedder_name: str, cross_encoder_name: str) -> str:
    return f"{embedder_name} + word match ({cross_encoder_name}'s shares)"


def shows_words_alone(blend: Blend) -> bool:
    """Whether reranking with `blend` is also reported with its score left out (words_alone): where word
    match and the reranker's own score both have a share, a gain over the embedder could come from either."""
    return bool(blend.lexical and blend.reranker_share)


def rerank_names(embedder_name: str, cross_encoders: list[ModelSpec]) -> list[str]:
    """The reports rerank_and_save adds for `cross_encoders`, in order: each one's reranking, and its
    words_alone where shows_words_alone."""
    names = []
    for spec in cross_encoders:
        names.append(reranked_name(embedder_name, spec.label))
        if shows_words_alone(saved_blend(spec.path)):
            names.append(words_alone_name(embedder_name, spec.label))
    return names


def words_alone(first: FirstStage, blend: Blend, top_k: int, name: str) -> RetrievalReport:
    """The first stage's top_k reordered by `blend` with the reranker's own score left out: the embedder and
    word match at the shares the reranker kept. Its gain over the first stage is what the reranker owes
    to them; the reranker's over it, to what its training taught."""
    return rerank(None, first, top_k, name, blend=blend)


def rerank_and_save(
    ws: Workspace,
    dataset_id: str,
    embedder: ModelSpec,
    cross_encoders: list[ModelSpec],
    part: str = "val",
    top_k: int = RERANK_TOP_K,
    batch_size: int = BATCH_SIZE,
    on_phase: PhaseProgress | None = None,
    sample: int | None = None,
    on_saved: Saved | None = None,
) -> list[RetrievalReport]:
    """The embedder's report on a workspace dataset, then one per cross-encoder reranking its top_k (and
    its words_alone, where shows_words_alone), all saved where the Compare page finds them. The embedder
    ranks the corpus once for all of them.
    `on_phase(phase, done, total, message)` hears the FIRST_STAGE, then the RERANKING progress (a timing.Meter);
    with `sample`, at most that many of the part's questions are ranked (retrieval.load_part);
    `on_saved(report)` hears each report as it is saved.

    Every model loads before anything is computed or written, so a bad name changes nothing.
    """
    report = on_phase or (lambda phase, done, total, message: None)
    _check_top_k(top_k)
    dataset = load_part(ws, dataset_id, part, sample)
    embedding_model = load_embedder(embedder.path)
    scorers = [load_cross_encoder(spec.path) for spec in cross_encoders]
    first = first_stage(
        embedding_model,
        dataset,
        part,
        batch_size,
        on_progress=lambda done, total, message: report(FIRST_STAGE, done, total, message),
    )
    saved = on_saved or (lambda report: None)
    reports = [
        save_report(ws, retrieval_report(first, embedder.label), dataset_id, model_path=resolve_model(embedder.path))
    ]
    saved(reports[0])
    for index, (spec, scorer) in enumerate(zip(cross_encoders, scorers, strict=True)):

        def progress(done: int, total: int, message: str, index=index, label=spec.label) -> None:
            report(RERANKING, index * total + done, len(scorers) * total, f"{label}: {message}")

        reranking = rerank(
            scorer, first, top_k, reranked_name(embedder.label, spec.label), batch_size, on_progress=progress
        )
        made, blend = [reranking], kept_blend(scorer)
        if shows_words_alone(blend):
            made.append(words_alone(first, blend, top_k, words_alone_name(embedder.label, spec.label)))
        for made_report in made:
            reports.append(save_report(ws, made_report, dataset_id, model_path=resolve_model(spec.path)))
            saved(reports[-1])
    return reports


def _check_top_k(top_k: int) -> None:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= TOP_K:
        raise EvaluationError(f"top_k must be 1 to {TOP_K} passages to rerank, not {top_k!r}")


def _report(first: FirstStage, name: str, indices: list[list[int]], scores: list[list[float]]) -> RetrievalReport:
    questions, corpus_ids = first.questions, first.corpus_ids
    per_query = [
        query_result(qid, questions, corpus_ids, row_scores, row_indices)
        for qid, row_scores, row_indices in zip(questions.queries, scores, indices, strict=True)
    ]
    shown = {pid for q in per_query for pid in (*q.expected_ids, q.top_id)}
    report = RetrievalReport(
        name=name,
        part=first.part,
        metrics={},
        per_query=per_query,
        passages={pid: questions.corpus[pid] for pid in corpus_ids if pid in shown},
        n_corpus=len(corpus_ids),
    )
    report.metrics = {
        metric: float(per_query_metric_values(report.per_query, metric).mean()) for metric in METRIC_NAMES
    }
    return report
