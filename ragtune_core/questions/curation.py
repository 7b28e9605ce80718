"""Curating a question set before it becomes a dataset: a reviewable table, duplicates, coverage.

The Questions page shows `questions_table` in an editable grid, turns the edited grid back into
a dataset with `apply_table` and saves it with `accept_draft`; the CLI and tests use the same functions.
"""

from __future__ import annotations

import dataclasses
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..corpus.documents import Chunk
from ..store.workspace import DatasetRecord, Workspace
from .drafts import DraftResult
from .qa_dataset import TEST_RATIO, DatasetError, QADataset, plan_split, save_dataset

TABLE_COLUMNS = ["query_id", "question", "chunk_id", "document", "passage", "duplicate"]
# Character 3-gram Jaccard runs lower than embedding cosine for equally close questions (a typo
# scores ~0.85, "is" -> "was" ~0.80, another city's name ~0.65), so it is held to a lower bar.
JACCARD_THRESHOLD_OFFSET = 0.15
UNKNOWN_DOCUMENT = "(unknown document)"
_ROWS_PER_BLOCK = 512  # similarity rows computed at once: bounds memory to block x n floats


@dataclass(frozen=True)
class Duplicate:
    of: str  # the kept question this one repeats
    kind: str  # "exact" | "near"
    score: float  # 1.0 for exact; cosine or 3-gram Jaccard for near

    def label(self) -> str:
        return f"exact of {self.of}" if self.kind == "exact" else f"near {self.of} ({self.score:.2f})"


# --- the review table -------------------------------------------------------------------------
def questions_table(
    dataset: QADataset, chunks_by_id: dict[str, Chunk] | None = None, duplicates: dict[str, Duplicate] | None = None
) -> pd.DataFrame:
    """One row per question with its (first) relevant passage; duplicates found here unless given.

    With `chunks_by_id`, page and section columns say where in the document the passage is.
    """
    if duplicates is None:
        duplicates = find_duplicates(dataset.queries)
    rows = []
    for qid, question in dataset.queries.items():
        pid = dataset.relevant_docs[qid][0]
        chunk = (chunks_by_id or {}).get(pid)
        row = {
            "query_id": qid,
            "question": question,
            "chunk_id": pid,
            "document": dataset.passage_docs.get(pid) or (chunk.doc_id if chunk else ""),
            "passage": dataset.corpus[pid],
            "duplicate": duplicates[qid].label() if qid in duplicates else "",
        }
        if chunks_by_id is not None:
            row["page"] = chunk.page if chunk else None
            row["section"] = chunk.section if chunk else None
        rows.append(row)
    columns = TABLE_COLUMNS + (["page", "section"] if chunks_by_id is not None else [])
    table = pd.DataFrame(rows, columns=columns)
    if chunks_by_id is not None:
        table["page"] = table["page"].astype("Int64")
    return table


def apply_table(dataset: QADataset, edited: pd.DataFrame) -> QADataset:
    """The dataset the edited table describes: its questions, in its order, nothing else changed.

    Deleted rows drop their question; a row with no query_id is a new question (new id); a row
    whose passage is unchanged keeps all of its question's relevant passages. Raises DatasetError
    naming the first bad row (1-based, as the user sees the table).
    """
    missing = [c for c in ("query_id", "question", "chunk_id") if c not in edited.columns]
    if missing:
        raise DatasetError(f"the table lacks the column(s) {', '.join(missing)}")
    queries: dict[str, str] = {}
    relevant_docs: dict[str, list[str]] = {}
    for row_number, (qid, question, pid) in enumerate(
        edited[["query_id", "question", "chunk_id"]].itertuples(index=False, name=None), start=1
    ):
        qid, question, pid = _cell_text(qid), _cell_text(question), _cell_text(pid)
        if not question:
            raise DatasetError(f"row {row_number}: the question is empty; type one or delete the row")
        if pid not in dataset.corpus:
            problem = f"{pid!r} is not a passage of this dataset" if pid else "no passage chosen"
            raise DatasetError(f"row {row_number} ({_clip(question)!r}): {problem}; pick one of its chunks")
        qid = qid or _new_query_id(queries, dataset.queries)
        if qid in queries:
            raise DatasetError(f"row {row_number}: query id {qid!r} appears twice in the table")
        queries[qid] = question
        original = dataset.relevant_docs.get(qid, [])
        relevant_docs[qid] = original if original[:1] == [pid] else [pid]
    if not queries:
        raise DatasetError("the table has no questions left; keep at least one")
    return _with_queries(dataset, queries, relevant_docs)


def drop_duplicates(dataset: QADataset, duplicates: dict[str, Duplicate]) -> QADataset:
    """The dataset without the flagged questions (each duplicate's kept original stays)."""
    keep = [q for q in dataset.queries if q not in duplicates]
    return _with_queries(dataset, {q: dataset.queries[q] for q in keep}, {q: dataset.relevant_docs[q] for q in keep})


def coverage(dataset: QADataset) -> pd.DataFrame:
    """Per document: its passages, how many of them have at least one question, and its questions.

    A passage with no known document (an imported dataset without RAGTune's extras) counts under
    "(unknown document)"; a question is counted once per document its relevant passages are in.
    """
    doc_of = {pid: dataset.passage_docs.get(pid) or UNKNOWN_DOCUMENT for pid in dataset.corpus}
    asked = {pid for pids in dataset.relevant_docs.values() for pid in pids}
    passages = pd.DataFrame({"document": list(doc_of.values()), "asked": [pid in asked for pid in doc_of]})
    per_doc = passages.groupby("document").agg(passages=("asked", "size"), passages_with_questions=("asked", "sum"))
    question_docs = {(qid, doc_of[pid]) for qid, pids in dataset.relevant_docs.items() for pid in pids}
    questions = pd.Series([doc for _, doc in question_docs], dtype=object).value_counts()
    per_doc["questions"] = questions.reindex(per_doc.index, fill_value=0).astype(int)
    return per_doc.reset_index()


# --- accepting a draft -------------------------------------------------------------------------
def draft_path(ws: Workspace, run_id: str) -> Path:
    """Where a generation run left its draft question set."""
    result = DraftResult.of_run(ws.get_run(run_id))
    if result is None or not result.draft:
        raise DatasetError(f"run {run_id!r} has no draft: it has not finished generating")
    return Path(result.draft)


def load_draft(ws: Workspace, run_id: str) -> QADataset:
    return QADataset.load(draft_path(ws, run_id))


def save_draft(ws: Workspace, run_id: str, dataset: QADataset) -> None:
    """Keep the reviewer's edits in the run's draft, to accept later."""
    dataset.save(draft_path(ws, run_id))


def accept_draft(
    ws: Workspace,
    run_id: str,
    name: str,
    dataset: QADataset | None = None,
    split_by: str = "document",
    val_ratio: float = 0.2,
    seed: int = 42,
    test_ratio: float = TEST_RATIO,
) -> DatasetRecord:
    """Split a generation run's draft (or `dataset`, its curated version), save it as the dataset
    `name` and mark the run accepted. Raises DatasetError or WorkspaceError, writing nothing, when
    the run was already accepted, the split is impossible or the name is taken."""
    run = ws.get_run(run_id)
    result = DraftResult.of_run(run)
    if result is None:
        raise DatasetError(f"run {run_id!r} has no draft: it has not finished generating")
    if result.accepted_dataset_id:
        raise DatasetError(f"run {run_id!r} was already accepted as dataset {result.accepted_dataset_id!r}")
    draft = dataset if dataset is not None else load_draft(ws, run_id)
    split = plan_split(draft, val_ratio, split_by, seed, test_ratio)
    accepted = dataclasses.replace(draft, split=split.parts)
    record = save_dataset(
        ws,
        name,
        accepted,
        run.params.get("corpus_id"),
        {
            "split_by": split.by,
            "val_ratio": val_ratio,
            "test_ratio": test_ratio,
            "seed": seed,
            **({"split_note": split.note} if split.note else {}),
            "generator": run.params.get("generator"),
            "run_id": run_id,
        },
    )
    ws.update_run(run_id, result=dataclasses.replace(result, accepted_dataset_id=record.id).to_dict())
    return record


# --- duplicates -------------------------------------------------------------------------------
def normalise_question(text: str) -> str:
    """Case, punctuation and spacing removed: questions equal after this are exact duplicates."""
    return " ".join(re.sub(r"[^\w\s]", "", text.casefold()).split())


def find_duplicates(
    questions: dict[str, str], threshold: float = 0.9, embeddings: np.ndarray | None = None
) -> dict[str, Duplicate]:
    """Questions that repeat an earlier one; the first of each group is kept unflagged.

    Exact: equal after `normalise_question`. Near: with `embeddings` (rows aligned with the
    dict's order), cosine similarity >= threshold; without, the Jaccard similarity of the
    normalised texts' character 3-gram sets >= threshold - JACCARD_THRESHOLD_OFFSET (0.75 at the default).
    Questions are taken in order and each is compared with the questions kept so far, so a
    chain a~b~c where c is far from a keeps c. Similarities are computed in blocks of rows.
    """
    qids = list(questions)
    if embeddings is not None and len(embeddings) != len(qids):
        raise ValueError(f"{len(embeddings)} embeddings for {len(qids)} questions: they must align")
    normalised = [normalise_question(questions[q]) for q in qids]
    duplicates: dict[str, Duplicate] = {}
    first_of: dict[str, int] = {}
    representatives = []  # positions of the first question of each exact group
    for position, (qid, text) in enumerate(zip(qids, normalised, strict=True)):
        if text in first_of:
            duplicates[qid] = Duplicate(qids[first_of[text]], "exact", 1.0)
        else:
            first_of[text] = position
            representatives.append(position)

    if embeddings is not None:
        similarity_rows = _cosine_rows(np.asarray(embeddings, dtype=np.float32)[representatives])
    else:
        threshold -= JACCARD_THRESHOLD_OFFSET
        similarity_rows = _jaccard_rows([normalised[p] for p in representatives])
    for position, of, score in _greedy_near(len(representatives), similarity_rows, threshold):
        duplicates[qids[representatives[position]]] = Duplicate(qids[representatives[of]], "near", round(score, 4))
    return duplicates


def _greedy_near(n: int, similarity_rows: Callable[[int, int], np.ndarray], threshold: float):
    """(position, kept position it repeats, score) for each item too close to an earlier kept one."""
    kept = np.zeros(n, dtype=bool)
    for start in range(0, n, _ROWS_PER_BLOCK):
        block = similarity_rows(start, min(n, start + _ROWS_PER_BLOCK))
        for offset, row in enumerate(block):
            position = start + offset
            if position:
                earlier = np.where(kept[:position], row[:position], -np.inf)
                best = int(np.argmax(earlier))
                if earlier[best] >= threshold:
                    yield position, best, float(earlier[best])
                    continue
            kept[position] = True


def _cosine_rows(embeddings: np.ndarray) -> Callable[[int, int], np.ndarray]:
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    unit = embeddings / np.where(norms > 0, norms, 1.0)
    return lambda start, stop: unit[start:stop] @ unit.T


def _jaccard_rows(texts: list[str]) -> Callable[[int, int], np.ndarray]:
    """Block rows of the 3-gram Jaccard matrix, from a sparse question x 3-gram incidence matrix."""
    from scipy import sparse

    vocabulary: dict[str, int] = {}
    rows, cols = [], []
    for row, text in enumerate(texts):
        grams = {vocabulary.setdefault(text[i : i + 3], len(vocabulary)) for i in range(len(text) - 2)}
        rows.extend([row] * len(grams))
        cols.extend(grams)
    incidence = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(len(texts), max(1, len(vocabulary)))
    )
    sizes = np.asarray(incidence.sum(axis=1), dtype=np.float32).ravel()

    def block(start: int, stop: int) -> np.ndarray:
        # sparse @ dense: several times faster than sparse @ sparse for this nearly dense result
        shared = (incidence @ incidence[start:stop].toarray().T).T
        union = sizes[start:stop, None] + sizes[None, :] - shared
        return np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)

    return block


# --- helpers ----------------------------------------------------------------------------------
def _with_queries(dataset: QADataset, queries: dict[str, str], relevant_docs: dict[str, list[str]]) -> QADataset:
    """A copy of `dataset` holding just these queries; corpus, documents, kind and extras kept, and
    the file version it was loaded at (saving it back is refused if someone else saved meanwhile)."""
    curated = dataclasses.replace(
        dataset,
        queries=queries,
        corpus=dict(dataset.corpus),
        relevant_docs=relevant_docs,
        passage_docs=dict(dataset.passage_docs),
        split={q: p for q, p in dataset.split.items() if q in queries},
        extra=dict(dataset.extra),
    )
    curated.validate()
    return curated


def _cell_text(value) -> str:
    """A table cell as stripped text; empty for the None/NaN a grid gives a blank cell."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _new_query_id(*taken: dict) -> str:
    while True:
        qid = str(uuid.uuid4())  # LlamaIndex's own query ids are UUIDs too
        if not any(qid in ids for ids in taken):
            return qid


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
