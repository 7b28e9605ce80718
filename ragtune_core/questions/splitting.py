"""A train/validation split that adapts to the dataset: a split by document needs two documents.

`split_dataset` (qa_dataset.py) refuses a by-document split of questions that all come from one
document; `split_adapting` splits those by question instead and says so, so that accepting a draft of a
one-document corpus, or re-splitting it, works with the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from .qa_dataset import QADataset, split_dataset


@dataclass(frozen=True)
class Split:
    parts: dict[str, str]  # query id -> "train" | "val"
    by: str  # the mode used: the one asked for, or "query" where a by-document split was impossible
    note: str | None  # why the mode used is not the one asked for; None when it is


def documents_of(dataset: QADataset) -> set[str]:
    """The documents the questions' right passages come from (a passage of no known document counts alone)."""
    return {dataset.passage_docs.get(p, p) for pids in dataset.relevant_docs.values() for p in pids}


def split_adapting(dataset: QADataset, val_ratio: float = 0.2, by: str = "document", seed: int = 42) -> Split:
    """The split asked for; by question, with a note saying why, where a by-document split is impossible."""
    if by == "document" and len(documents_of(dataset)) < 2:
        return Split(split_dataset(dataset, val_ratio, "query", seed), "query",
                     "the questions all come from one document, so they were split by question instead of by "
                     "document (a by-document split needs two)")
    return Split(split_dataset(dataset, val_ratio, by, seed), by, None)
