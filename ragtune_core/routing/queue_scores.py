"""The scores the curation queue (questions/queue.py) ranks by: each scorer's scores of a question's
likely passages or tools.

The scorers are the selectors RAGTune already has: a word-overlap scorer (TF-IDF, no model, instant),
the bundled base embedding model, and every embedding or cross-encoder model fine-tuned on any version of
the dataset (a misroute of theirs on a validation question is a reason of its own).
"""

from __future__ import annotations

import numpy as np

from ..questions.qa_dataset import QADataset, load_dataset
from ..questions.queue import QueueItem, Scores, build_queue, passage_names
from ..questions.versions import versions_of
from ..store.workspace import Workspace
from .selectors import Choice, CrossEncoderSelector, EmbeddingSelector, Selector

KEPT_PER_QUESTION = 5  # a scorer's top passages kept per question (with the labelled one)
QUESTIONS_AT_ONCE = 256  # questions scored together: bounds the score rows held to 256 x passages
WORDS = "words (TF-IDF)"


class WordSelector:
    """Pick the choice sharing the most (TF-IDF weighted) words with the query: a model-free second opinion."""

    name = WORDS

    def select(self, queries: list[str], choices: list[Choice]) -> list:
        from sklearn.feature_extraction.text import TfidfVectorizer

        from .selectors import selections_from_scores

        vectorizer = TfidfVectorizer(sublinear_tf=True).fit([c.description for c in choices] + queries)
        scores = (vectorizer.transform(queries) @ vectorizer.transform([c.description for c in choices]).T).toarray()
        return selections_from_scores(scores, 0.0)


def queue_scorers(ws: Workspace, dataset_id: str, base: bool = True) -> tuple[list[Selector], tuple[str, ...]]:
    """The scorers for a dataset's queue and the names of those fine-tuned on a version of it. A
    cross-encoder scores every (question, passage) pair: only a router dataset's few tools are worth it."""
    lineage = {d.id for d in versions_of(ws, dataset_id)}
    kinds = ("embedding", "cross_encoder") if ws.get_dataset(dataset_id).kind == "router" else ("embedding",)
    tuned = [m for m in ws.list_models() if m.dataset_id in lineage and m.kind in kinds]
    selectors: list[Selector] = [WordSelector(), *([EmbeddingSelector()] if base else [])]
    selectors += [
        EmbeddingSelector(m.path, label=m.name) if m.kind == "embedding" else CrossEncoderSelector(m.path, label=m.name)
        for m in tuned
    ]
    return selectors, tuple(m.name for m in tuned)


def score_dataset(dataset: QADataset, selectors: list[Selector]) -> Scores:
    """Each selector's scores of each question's top passages and its labelled one."""
    names = passage_names(dataset)
    choices = [Choice(pid, names[pid], text) for pid, text in dataset.corpus.items()]
    position = {c.id: i for i, c in enumerate(choices)}
    qids = list(dataset.queries)
    scores: Scores = {selector.name: {} for selector in selectors}
    for selector in selectors:
        for start in range(0, len(qids), QUESTIONS_AT_ONCE):
            batch = qids[start : start + QUESTIONS_AT_ONCE]
            for qid, selection in zip(
                batch, selector.select([dataset.queries[q] for q in batch], choices), strict=True
            ):
                if selection.scores:
                    row = np.asarray(selection.scores)
                    kept = {choices[i].id for i in np.argsort(-row)[:KEPT_PER_QUESTION]}
                    kept.add(dataset.relevant_docs[qid][0])
                    scores[selector.name][qid] = {pid: float(row[position[pid]]) for pid in kept}
    return scores


def curation_queue(
    ws: Workspace, dataset_id: str, base: bool = True, limit: int | None = None
) -> tuple[list[QueueItem], list[str]]:
    """The dataset's curation queue and the names of the scorers it was ranked by."""
    dataset = load_dataset(ws, dataset_id)
    selectors, tuned = queue_scorers(ws, dataset_id, base)
    return build_queue(dataset, score_dataset(dataset, selectors), tuned, limit=limit), [s.name for s in selectors]
