"""Retrieval evaluation: how well a model ranks the passage each question was written from.

The metrics are those of sentence-transformers' `InformationRetrievalEvaluator` with cosine
similarity, with the same names and the same values (same top-100 cut, same tie-break: equal
scores rank by ascending passage id). Every metric is the mean of a per-query value, so each comes
with a bootstrap confidence interval. Reports are saved as one JSON file per evaluation under the
workspace's `evaluations/` folder, so the Compare page shows past results without recomputing.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
import numpy as np
import pandas as pd

from .models import load_embedder, resolve_model
from .qa_dataset import DatasetError, QADataset
from .workspace import Workspace, load_saved_results, new_id, write_json

log = logging.getLogger(__name__)

ACCURACY_AT = (1, 3, 5, 10)
PRECISION_RECALL_AT = (1, 3, 5, 10)
METRIC_NAMES = (
    *(f"accuracy@{k}" for k in ACCURACY_AT),
    *(f"precision@{k}" for k in PRECISION_RECALL_AT),
    *(f"recall@{k}" for k in PRECISION_RECALL_AT),
    "ndcg@10", "mrr@10", "map@100",
)
CHART_METRICS = ("accuracy@1", "accuracy@5", "accuracy@10", "mrr@10", "ndcg@10", "map@100")
PARTS = ("val", "train", "all")
TOP_K = 100  # the evaluator's largest cut-off (map@100): ranks beyond it are "not found"
RANKED_IDS_KEPT = 10
_QUERIES_PER_BLOCK = 256  # score rows computed at once: bounds memory to block x corpus floats

Progress = Callable[[int, int, str], None]


@dataclass
class QueryResult:
    query_id: str
    question: str
    expected_ids: list[str]
    rank: int | None  # 1-based rank of the first relevant passage; None if not in the top 100
    top_id: str
    top_score: float
    ranked_ids: list[str]  # the top 10
    relevant_ranks: list[int]  # ranks of all relevant passages in the top 100, ascending


@dataclass
class RetrievalReport:
    name: str  # the model's label, e.g. "all-MiniLM-L6-v2 (bundled)" or a workspace model's name
    part: str  # "val" | "train" | "all"
    metrics: dict[str, float]
    per_query: list[QueryResult]
    passages: dict[str, str]  # text of every expected and top passage, for the per-query table
    n_corpus: int
    model_path: str | None = None
    dataset_id: str | None = None
    created: float = field(default_factory=time.time)
    report_id: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RetrievalReport:
        per_query = [QueryResult(**q) for q in data["per_query"]]
        return cls(**{**data, "per_query": per_query})


@dataclass(frozen=True)
class ModelSpec:
    label: str
    path: str | None  # a folder or Hub id; None: the bundled base model


# --- evaluating -------------------------------------------------------------------------------
def evaluate_retrieval(model, dataset: QADataset, name: str, part: str | None = "val", batch_size: int = 64,
                       corpus_embeddings=None, on_progress: Progress | None = None) -> RetrievalReport:
    """Rank the whole corpus for each question of `part` ("val", "train"; None or "all": every one).

    `model` is a SentenceTransformer (its encode_query/encode_document are used, as the evaluator
    does); `corpus_embeddings` (rows in `dataset.corpus` order) skip re-encoding the corpus.
    `on_progress(done, total, message)` counts texts encoded.
    """
    import torch

    part, queries = part_questions(dataset, part)
    corpus_ids = list(dataset.corpus)
    report_progress = progress_counter(on_progress, len(corpus_ids) + len(queries.queries))
    if corpus_embeddings is None:
        corpus_embeddings = encode_in_slices(model.encode_document, list(dataset.corpus.values()), batch_size,
                                             report_progress)
    else:
        corpus_embeddings = torch.as_tensor(corpus_embeddings)
        if corpus_embeddings.shape[0] != len(corpus_ids):
            raise ValueError(f"{corpus_embeddings.shape[0]} corpus embeddings for {len(corpus_ids)} passages")
        report_progress(len(corpus_ids))
    query_embeddings = encode_in_slices(model.encode_query, list(queries.queries.values()), batch_size,
                                        report_progress)
    scores, ranked = rank_passages(query_embeddings, corpus_embeddings, sorted_positions(corpus_ids))

    per_query = [query_result(qid, queries, corpus_ids, row_scores, row_ranked)
                 for qid, row_scores, row_ranked in zip(queries.queries, scores.tolist(), ranked.tolist())]
    shown = {pid for q in per_query for pid in (*q.expected_ids, q.top_id)}
    report = RetrievalReport(name=name, part=part, metrics={}, per_query=per_query,
                             passages={pid: dataset.corpus[pid] for pid in corpus_ids if pid in shown},
                             n_corpus=len(corpus_ids))
    report.metrics = dict(zip(METRIC_NAMES, _metric_matrix(per_query).mean(axis=0).tolist()))
    return report


def evaluate_models(ws: Workspace, dataset_id: str, models: list[ModelSpec], part: str = "val",
                    batch_size: int = 64, on_progress: Progress | None = None) -> list[RetrievalReport]:
    """Evaluate each model on a workspace dataset and save a report per model.

    Every model is loaded before any is evaluated, so a name that does not load fails the whole
    request before anything is written.
    """
    dataset = ws.load_dataset(dataset_id)
    part = check_part(part)
    n_queries = len(dataset.subset(None if part == "all" else part).queries)
    for spec in models:
        load_embedder(spec.path)
    texts_per_model = len(dataset.corpus) + n_queries
    reports = []
    for index, spec in enumerate(models):
        offset = index * texts_per_model

        def model_progress(done: int, total: int, message: str, offset=offset, label=spec.label) -> None:
            if on_progress:
                on_progress(offset + done, texts_per_model * len(models), f"{label}: {message}")

        model = load_embedder(spec.path)
        report = evaluate_retrieval(model, dataset, spec.label, part, batch_size, on_progress=model_progress)
        reports.append(save_report(ws, report, dataset_id, model_path=resolve_model(spec.path)))
    return reports


def run_evaluation_job(ctx, params: dict) -> dict:
    """Worker task "evaluate": params {dataset_id, part, models: [{label, path}]} (path None: base
    model), and optionally rerankers: [{label, path}] that rerank the first model's top passages."""
    from .reranking import rerank_and_save  # reranking builds on this module

    models = [ModelSpec(m["label"], m.get("path")) for m in params["models"]]
    part = params.get("part", "val")
    reports = evaluate_models(ctx.workspace, params["dataset_id"], models, part, on_progress=ctx.progress)
    for reranker in params.get("rerankers", []):
        reranked = rerank_and_save(ctx.workspace, params["dataset_id"], models[0],
                                   ModelSpec(reranker["label"], reranker["path"]), part, on_progress=ctx.progress)
        reports.append(reranked.reranked)
    for report in reports:
        ctx.emit("metrics", model=report.name, metrics=report.metrics)
    return {"reports": [r.report_id for r in reports], "metrics": {r.name: r.metrics for r in reports}}


def check_part(part: str | None) -> str:
    """One of PARTS; None means "all"."""
    part = part or "all"
    if part not in PARTS:
        raise DatasetError(f"part must be one of {', '.join(PARTS)}, not {part!r}")
    return part


def part_questions(dataset: QADataset, part: str | None) -> tuple[str, QADataset]:
    """The checked part and its questions (with the whole corpus); a part without questions is refused."""
    part = check_part(part)
    questions = dataset.subset(None if part == "all" else part)
    if not questions.queries:
        raise DatasetError(f"the {part} part of this dataset has no questions")
    return part, questions


def progress_counter(on_progress: Progress | None, total: int) -> Callable[[int], None]:
    """`advance(count)`: adds `count` texts encoded and reports the running total to `on_progress`."""
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if on_progress:
            on_progress(done, total, f"encoded {done}/{total} texts")

    return advance


def encode_in_slices(encode, texts: list[str], batch_size: int, advance: Callable[[int], None]):
    """Embeddings as one tensor, encoded in slices so that progress can be reported between them."""
    import torch

    slice_size = batch_size * 16
    parts = []
    for start in range(0, len(texts), slice_size):
        batch = texts[start:start + slice_size]
        parts.append(encode(batch, batch_size=batch_size, convert_to_tensor=True, show_progress_bar=False))
        advance(len(batch))
    return torch.cat(parts)


def sorted_positions(corpus_ids: list[str]):
    """Each passage's position in ascending id order: the tie-break of equal scores."""
    import torch

    order = sorted(range(len(corpus_ids)), key=corpus_ids.__getitem__)
    positions = torch.empty(len(corpus_ids), dtype=torch.long)
    positions[torch.tensor(order, dtype=torch.long)] = torch.arange(len(corpus_ids))
    return positions


def rank_passages(query_embeddings, corpus_embeddings, id_positions):
    """Top-100 scores and passage indices per query, ordered by (-cosine, passage id)."""
    import torch
    import torch.nn.functional as F

    corpus = F.normalize(corpus_embeddings, p=2, dim=-1)
    queries = F.normalize(query_embeddings.to(corpus.device), p=2, dim=-1)
    id_positions = id_positions.to(corpus.device)
    k = min(TOP_K, corpus.shape[0])
    all_scores, all_ranked = [], []
    for start in range(0, queries.shape[0], _QUERIES_PER_BLOCK):
        scores = queries[start:start + _QUERIES_PER_BLOCK] @ corpus.T
        top_scores, top_idx = _top_k_with_id_ties(scores, k, id_positions)
        all_scores.append(top_scores.cpu())
        all_ranked.append(top_idx.cpu())
    return torch.cat(all_scores), torch.cat(all_ranked)


def _top_k_with_id_ties(scores, k: int, id_positions):
    """torch.topk, except that passages tied at the cut are chosen by ascending id, as the evaluator does."""
    import torch

    top_scores, top_idx = torch.topk(scores, k, dim=1)
    cut = top_scores[:, -1:]
    tied_at_cut = (scores >= cut).sum(dim=1) > k
    if tied_at_cut.any():
        rows, row_cut, n = scores[tied_at_cut], cut[tied_at_cut], len(id_positions)
        # Integer keys: above the cut sorts first, then ties at the cut, each by id; the rest last.
        keys = torch.where(rows > row_cut, id_positions, 2 * n)
        keys = torch.where(rows == row_cut, id_positions + n, keys)
        top_idx[tied_at_cut] = keys.topk(k, dim=1, largest=False).indices
        top_scores[tied_at_cut] = rows.gather(1, top_idx[tied_at_cut])
    by_id = torch.argsort(id_positions[top_idx], dim=1)
    top_scores, top_idx = top_scores.gather(1, by_id), top_idx.gather(1, by_id)
    by_score = torch.sort(top_scores, dim=1, descending=True, stable=True).indices
    return top_scores.gather(1, by_score), top_idx.gather(1, by_score)


def query_result(qid: str, dataset: QADataset, corpus_ids: list[str], scores: list[float],
                 ranked: list[int]) -> QueryResult:
    """One question's result from its ranked corpus positions (best first) and their scores."""
    expected = dataset.relevant_docs[qid]
    wanted = set(expected)
    ranked_ids = [corpus_ids[i] for i in ranked]
    relevant_ranks = [rank for rank, pid in enumerate(ranked_ids, start=1) if pid in wanted]
    return QueryResult(query_id=qid, question=dataset.queries[qid], expected_ids=list(expected),
                       rank=relevant_ranks[0] if relevant_ranks else None, top_id=ranked_ids[0],
                       top_score=float(scores[0]), ranked_ids=ranked_ids[:RANKED_IDS_KEPT],
                       relevant_ranks=relevant_ranks)


# --- per-query metric values and confidence intervals -----------------------------------------
def per_query_metric_values(report: RetrievalReport, metric: str) -> np.ndarray:
    """Each query's contribution to `metric` (hit 0/1, reciprocal rank, nDCG...): their mean is the metric."""
    kind, k = _parse_metric(metric)
    ranks, n_relevant = _rank_matrix(report.per_query)
    return _METRIC_VALUES[kind](ranks, n_relevant, k)


def bootstrap_ci(per_query_values: np.ndarray, n_resamples: int = 1000, confidence: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, resampling queries with replacement."""
    lows, highs = _bootstrap_bounds(np.asarray(per_query_values, dtype=float)[:, None], n_resamples, confidence, seed)
    return float(lows[0]), float(highs[0])


def _bootstrap_bounds(values: np.ndarray, n_resamples: int, confidence: float,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Interval bounds for each column of a queries x metrics matrix, all from the same resamples.

    A resample is a vector of how often each query was drawn, so a block of resample means is
    one matrix product (counts @ values) rather than a gather per metric.
    """
    n = values.shape[0]
    if n == 0:
        raise ValueError("no values to bootstrap")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, not {confidence}")
    rng = np.random.default_rng(seed)
    means = np.empty((n_resamples, values.shape[1]))
    per_block = max(1, 2_000_000 // n)  # bounds the draws held in memory at once
    for start in range(0, n_resamples, per_block):
        size = min(n_resamples, start + per_block) - start
        draws = rng.integers(0, n, size=(size, n)) + n * np.arange(size)[:, None]
        counts = np.bincount(draws.ravel(), minlength=size * n).reshape(size, n)
        means[start:start + size] = counts @ values / n
    tail = (1 - confidence) / 2
    return np.quantile(means, tail, axis=0), np.quantile(means, 1 - tail, axis=0)


def _metric_matrix(per_query: list[QueryResult]) -> np.ndarray:
    """Queries x METRIC_NAMES: every query's value of every metric."""
    ranks, n_relevant = _rank_matrix(per_query)
    return np.column_stack([_METRIC_VALUES[kind](ranks, n_relevant, k) for kind, k in map(_parse_metric, METRIC_NAMES)])


def _parse_metric(metric: str) -> tuple[str, int]:
    match = re.fullmatch(r"([a-z]+)@(\d+)", metric)
    if not match or match[1] not in _METRIC_VALUES or not 1 <= int(match[2]) <= TOP_K:
        raise ValueError(f"unknown metric {metric!r}: use one of {', '.join(METRIC_NAMES)} (k up to {TOP_K})")
    return match[1], int(match[2])


def _rank_matrix(per_query: list[QueryResult]) -> tuple[np.ndarray, np.ndarray]:
    """Relevant ranks per query, padded with inf (not found), and each query's relevant count."""
    width = max([1, *(len(q.relevant_ranks) for q in per_query)])
    ranks = np.full((len(per_query), width), np.inf)
    for row, result in enumerate(per_query):
        ranks[row, :len(result.relevant_ranks)] = result.relevant_ranks
    n_relevant = np.array([len(set(q.expected_ids)) for q in per_query], dtype=float)
    return ranks, n_relevant


def _hits(ranks: np.ndarray, k: int) -> np.ndarray:
    return (ranks <= k).sum(axis=1)


def _ndcg(ranks: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    dcg = np.where(ranks <= k, 1 / np.log2(ranks + 1), 0.0).sum(axis=1)
    ideal_dcg = np.cumsum(1 / np.log2(np.arange(2, k + 2)))
    return dcg / ideal_dcg[np.minimum(n_relevant, k).astype(int) - 1]


def _average_precision(ranks: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    found_so_far = np.arange(1, ranks.shape[1] + 1)  # ranks are ascending, so column i is the (i+1)th hit
    return np.where(ranks <= k, found_so_far / ranks, 0.0).sum(axis=1) / np.minimum(k, n_relevant)


_METRIC_VALUES = {
    "accuracy": lambda ranks, n, k: (_hits(ranks, k) > 0).astype(float),
    "precision": lambda ranks, n, k: _hits(ranks, k) / k,
    "recall": lambda ranks, n, k: _hits(ranks, k) / n,
    "mrr": lambda ranks, n, k: np.where(ranks[:, 0] <= k, 1 / ranks[:, 0], 0.0),
    "ndcg": _ndcg,
    "map": _average_precision,
}


# --- tables for the Compare page --------------------------------------------------------------
def comparison_table(reports: list[RetrievalReport], n_resamples: int = 1000,
                     confidence: float = 0.95) -> pd.DataFrame:
    """Long form: one row per model and metric, with the metric's bootstrap interval."""
    rows = []
    for report, label in zip(reports, _unique_labels(reports)):
        lows, highs = _bootstrap_bounds(_metric_matrix(report.per_query), n_resamples, confidence, seed=0)
        rows += [{"model": label, "metric": metric, "value": report.metrics[metric], "ci_low": low, "ci_high": high}
                 for metric, low, high in zip(METRIC_NAMES, lows.tolist(), highs.tolist())]
    return pd.DataFrame(rows, columns=["model", "metric", "value", "ci_low", "ci_high"])


def per_query_comparison(reports: list[RetrievalReport]) -> pd.DataFrame:
    """One row per question: the expected passage, each model's rank of it and its top passage.

    With two or more models, "rank gain" is the first model's rank minus the second's (positive:
    the second ranks the expected passage higher); a passage not in a top 100 counts as rank 101.
    """
    if not reports:
        return pd.DataFrame(columns=["query", "expected passage"])
    labels = _unique_labels(reports)
    by_model = [{q.query_id: q for q in report.per_query} for report in reports]
    query_ids = list(dict.fromkeys(qid for results in by_model for qid in results))
    table = pd.DataFrame(index=query_ids)
    any_result = {qid: next(results[qid] for results in by_model if qid in results) for qid in query_ids}
    passages = {pid: text for report in reports for pid, text in report.passages.items()}
    table["query"] = [any_result[qid].question for qid in query_ids]
    table["expected passage"] = [passages.get(any_result[qid].expected_ids[0], "") for qid in query_ids]
    for label, results in zip(labels, by_model):
        table[f"rank · {label}"] = pd.array([results[q].rank if q in results else None for q in query_ids],
                                            dtype="Int64")
    for label, results in zip(labels, by_model):
        table[f"top passage · {label}"] = [passages.get(results[q].top_id, results[q].top_id) if q in results
                                           else None for q in query_ids]
    if len(reports) >= 2:
        first, second = (table[f"rank · {label}"].fillna(TOP_K + 1) for label in labels[:2])
        table[f"rank gain · {labels[1]} vs {labels[0]}"] = first - second
    return table.reset_index(drop=True)


def _unique_labels(reports: list[RetrievalReport]) -> list[str]:
    """Report names, numbered where two share one, so each model gets its own columns."""
    labels, seen = [], {}
    for report in reports:
        seen[report.name] = seen.get(report.name, 0) + 1
        labels.append(report.name if seen[report.name] == 1 else f"{report.name} ({seen[report.name]})")
    return labels


# --- saved reports ----------------------------------------------------------------------------
def save_report(ws: Workspace, report: RetrievalReport, dataset_id: str, model_label: str | None = None,
                model_path: str | None = None) -> RetrievalReport:
    """Write the report as evaluations/<report id>.json (atomically) and return it as saved."""
    saved = replace(report, dataset_id=dataset_id, name=model_label or report.name,
                    model_path=model_path or report.model_path, report_id=new_id("eval"))
    write_json(ws.dir("evaluations") / f"{saved.report_id}.json", saved.to_dict())
    return saved


def list_reports(ws: Workspace, dataset_id: str | None = None, part: str | None = None) -> list[RetrievalReport]:
    """Saved reports, newest first; a file that cannot be read is skipped with a warning."""
    return load_saved_results(ws.dir("evaluations"), RetrievalReport.from_dict, log, "evaluation report",
                              dataset_id, part)


def latest_reports(ws: Workspace, dataset_id: str, part: str) -> list[RetrievalReport]:
    """The newest report of each model on this dataset part, in the order they were made."""
    latest: dict[str, RetrievalReport] = {}
    for report in list_reports(ws, dataset_id, part):
        latest.setdefault(report.name, report)
    return sorted(latest.values(), key=lambda r: r.created)
