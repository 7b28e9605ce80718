"""The curation queue: the questions of a dataset worth a person's look, most telling first.

Pure: it reads the dataset and what scorers (selectors, retrievers) gave each question's candidate
passages or tools, `{scorer: {query id: {passage id: score}}}`; `routing/queue_scores.py` computes those.
Each question in the queue carries its reasons and its candidates with every scorer's score:

- `mislabelled`: every scorer picks the same passage, and it is not the labelled one;
- `misrouted`: a model fine-tuned on this dataset picks another passage for a validation question;
- `disagree`: the scorers pick different passages;
- `close`: a scorer's top two scores are within `close_margin`;
- `ambiguous`: other passages hold every content word of the question (several could answer it);
- `duplicate`: it repeats an earlier question (`curation.find_duplicates`);
- `wording`: ill-formed wording (`wording.wording_problems`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace

from .curation import find_duplicates
from .qa_dataset import DatasetError, QADataset
from .wording import wording_problems

Scores = dict[str, dict[str, dict[str, float]]]  # scorer -> query id -> passage id -> score
# How much each reason weighs in the ranking: what most likely needs a fix first.
WEIGHTS = {
    "mislabelled": 4.0,
    "misrouted": 3.0,
    "wording": 2.5,
    "disagree": 2.0,
    "duplicate": 1.5,
    "close": 1.0,
    "ambiguous": 1.0,
}
CLOSE_MARGIN = 0.03  # on cosine similarity
CANDIDATES_PER_SCORER = 3
_WORD = re.compile(r"\w+")
_STOP = set(
    "a an and are as at be by can de did do does for from had has have how i in is it its of on or than "
    "that the their there this to was were what when where which who whom whose why will with".split()
)


@dataclass(frozen=True)
class Reason:
    code: str  # a key of WEIGHTS
    detail: str  # what the person should look at, in words


@dataclass(frozen=True)
class Candidate:
    id: str
    name: str  # a tool's name; a passage's id
    text: str  # the tool's description or the passage
    scores: dict[str, float]  # scorer -> score
    labelled: bool  # the dataset's answer


@dataclass(frozen=True)
class QueueItem:
    query_id: str
    question: str
    part: str  # "train", "val" or "" (not split)
    reasons: list[Reason]
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def priority(self) -> float:
        return sum(WEIGHTS[r.code] for r in self.reasons)

    def to_dict(self) -> dict:
        return {
            "query_id": self.query_id,
            "question": self.question,
            "part": self.part,
            "priority": self.priority,
            **asdict(self),
        }


def build_queue(
    dataset: QADataset,
    scores: Scores | None = None,
    finetuned: tuple[str, ...] = (),
    close_margin: float = CLOSE_MARGIN,
    limit: int | None = None,
) -> list[QueueItem]:
    """The questions with at least one reason, highest priority first (ties: dataset order).
    `finetuned` names the scorers that are models fine-tuned on this dataset."""
    scores = scores or {}
    names = passage_names(dataset)
    duplicates = find_duplicates(dataset.queries)
    words_in = {pid: set(_words(text)) for pid, text in dataset.corpus.items()} if dataset.kind == "qa" else {}
    items = []
    for qid, question in dataset.queries.items():
        label = dataset.relevant_docs[qid][0]
        informative = {s: by_query[qid] for s, by_query in scores.items() if _tells_apart(by_query.get(qid))}
        picks = {s: _ranked(row)[0] for s, row in informative.items()}
        reasons = [
            *_score_reasons(qid, label, picks, informative, finetuned, dataset, names, close_margin),
            *_text_reasons(qid, question, label, dataset, duplicates, words_in),
        ]
        if reasons:
            items.append(
                QueueItem(qid, question, dataset.split.get(qid, ""), reasons, _candidates(qid, dataset, scores, names))
            )
    ranked = sorted(items, key=lambda item: -item.priority)
    return ranked[:limit] if limit else ranked


def passage_names(dataset: QADataset) -> dict[str, str]:
    """What a person calls each passage: a router tool by its name, a chunk by its id."""
    tools = {tool["id"]: tool["name"] for tool in dataset.extra.get("tools") or []}
    return {pid: tools.get(pid, pid) for pid in dataset.corpus}


def _score_reasons(qid, label, picks, scores, finetuned, dataset, names, close_margin):
    if len(set(picks.values())) == 1 and len(picks) >= 2 and label not in picks.values():
        yield Reason(
            "mislabelled", f"every scorer picks {names[next(iter(picks.values()))]}, not the labelled {names[label]}"
        )
    elif len(set(picks.values())) > 1:
        yield Reason("disagree", "; ".join(f"{s} picks {names[p]}" for s, p in picks.items()))
    for scorer in finetuned:
        if dataset.split.get(qid) == "val" and picks.get(scorer, label) != label:
            yield Reason(
                "misrouted",
                f"{scorer}, fine-tuned on this dataset, picks {names[picks[scorer]]} on this validation question",
            )
    for scorer, row in scores.items():
        top = _ranked(row)
        if len(top) >= 2 and row[top[0]] - row[top[1]] < close_margin:
            gap = row[top[0]] - row[top[1]]
            yield Reason("close", f"{scorer}: {names[top[0]]} and {names[top[1]]} within {gap:.3f}")
            break


def _text_reasons(qid, question, label, dataset, duplicates, words_in):
    if qid in duplicates:
        duplicate = duplicates[qid]
        yield Reason(
            "duplicate",
            f"{duplicate.kind} duplicate of {dataset.queries[duplicate.of]!r}"
            + (f" ({duplicate.score:.2f})" if duplicate.kind == "near" else ""),
        )
    passage = dataset.corpus[label] if dataset.kind == "qa" else None
    problems = wording_problems(question, passage)
    if problems:
        yield Reason("wording", "; ".join(problems))
    content = {w for w in _words(question) if w not in _STOP}
    if len(content) >= 2 and words_in:
        others = [p for p, words in words_in.items() if p not in dataset.relevant_docs[qid] and content <= words]
        if others:
            yield Reason("ambiguous", f"{len(others)} other passage(s) hold all its words, e.g. {others[0]}")


def _candidates(qid, dataset, scores, names) -> list[Candidate]:
    """The labelled passage and each scorer's top picks, with every scorer's score for each."""
    ids = list(dataset.relevant_docs[qid][:1])
    for by_query in scores.values():
        ids += [p for p in _ranked(by_query.get(qid) or {})[:CANDIDATES_PER_SCORER] if p not in ids]
    return [
        Candidate(
            pid,
            names[pid],
            dataset.corpus[pid],
            {s: round(q[qid][pid], 4) for s, q in scores.items() if pid in (q.get(qid) or {})},
            pid in dataset.relevant_docs[qid],
        )
        for pid in ids
    ]


def _tells_apart(passage_scores: dict[str, float] | None) -> bool:
    """Whether a scorer's scores of a question rank anything: all equal (no word shared with any
    passage, say) is no pick and no close call."""
    return bool(passage_scores) and max(passage_scores.values()) > min(passage_scores.values())


def _ranked(passage_scores: dict[str, float]) -> list[str]:
    return sorted(passage_scores, key=lambda p: -passage_scores[p])


def _words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


@dataclass
class Curation:
    """What a person decided about questions of the queue: a new answer, new wording, or dropping it."""

    relabel: dict[str, str] = field(default_factory=dict)  # query id -> its right passage or tool id
    reword: dict[str, str] = field(default_factory=dict)  # query id -> the question as it should read
    drop: set[str] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.relabel or self.reword or self.drop)


def curated(dataset: QADataset, curation: Curation) -> QADataset:
    """The dataset with the decisions applied (dropped questions leave their split too); DatasetError,
    naming the question, for an answer that is no passage of the dataset or an empty question."""
    queries = {q: curation.reword.get(q, text).strip() for q, text in dataset.queries.items() if q not in curation.drop}
    if not queries:
        raise DatasetError("every question would be dropped: keep at least one")
    for qid, text in queries.items():
        if not text:
            raise DatasetError(f"question {qid!r}: the new wording is empty; type one or drop the question")
    for qid, pid in curation.relabel.items():
        if pid not in dataset.corpus:
            raise DatasetError(f"question {qid!r}: {pid!r} is no passage or tool of this dataset")
    relevant = {
        q: [curation.relabel[q]] if curation.relabel.get(q, pids[0]) != pids[0] else pids
        for q, pids in dataset.relevant_docs.items()
        if q in queries
    }
    edited = replace(
        dataset,
        queries=queries,
        relevant_docs=relevant,
        split={q: part for q, part in dataset.split.items() if q in queries},
    )
    edited.validate()
    return edited
