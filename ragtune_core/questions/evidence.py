"""Evidence-phrase evaluation sets: hand-written questions scored by a phrase, whatever the chunking.

A file of this shape (what people wrote, kept apart from any training)::

    {"source": "report.pdf", "about": "...",
     "questions": [{"id": "r1", "question": "acme 2030 headcount", "evidence": "we employed 1,204 people",
                    "page": 12, "style": "terse"}, ...]}

becomes a QA dataset against a workspace corpus (`match_evidence`, `import_evidence_set`): the corpus
is every chunk, and a question's relevant passages are the chunks whose text holds its evidence
phrase, both sides normalised (`normalise`). Chunk boundaries move with the chunk size; a phrase
does not, so the same file scores any chunking. A question whose phrase is in no chunk (a phrase
across a chunk boundary, a typo, another document) is left out and reported, never dropped silently.

The dataset is evaluation only (`extra["evaluation_only"]`): never split, never trained on; each
question's phrase and style are kept in `extra["evidence"]` and `extra["styles"]`, so reports can
break their metrics down per style (evaluation/slices.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Annotated

from ..corpus.documents import Chunk, load_chunks
from ..store.files import parse_json
from ..store.shapes import FILE_SHAPE, Text, expect, parse
from ..store.workspace import DatasetRecord, Workspace
from .qa_dataset import EVALUATION_ONLY, STYLES, DatasetError, QADataset, in_file, save_dataset

EVIDENCE = "evidence"  # extra key: {query id: evidence phrase}
PAGES = "pages"  # extra key: {query id: page the phrase is on}, where the file says
LEFT_OUT = "left_out"  # extra key: {query id: evidence phrase} of the questions no chunk holds
EXAMPLES_SHOWN = 5  # left-out questions quoted in a summary or an error


class EvidenceError(DatasetError):
    """An evidence-phrase file that cannot be used; the message names the file and the field."""


@dataclass
class EvidenceQuestion:
    __pydantic_config__ = FILE_SHAPE

    id: Text
    question: Text
    evidence: Text  # a verbatim phrase of the passage that answers the question
    style: Text | None = None  # how it is asked ("terse", "synonym", ...), for per-style metrics
    page: int | None = None  # where the phrase is, for a reader; matching ignores it


@dataclass
class EvidenceSet:
    __pydantic_config__ = FILE_SHAPE  # how parse_evidence_set checks a file

    questions: Annotated[list[EvidenceQuestion], expect(bool, "at least one question")]
    source: str | None = None  # the document the questions are about
    about: str | None = None  # a note on the set


def is_evidence_file(data) -> bool:
    """Whether parsed JSON is meant as an evidence-phrase set (a "questions" list, no LlamaIndex
    "queries") rather than a LlamaIndex dataset; parse_evidence_set then says what is wrong with it."""
    return isinstance(data, dict) and "questions" in data and "queries" not in data


def parse_evidence_set(data, file: str | None = None) -> EvidenceSet:
    """The evidence set in parsed JSON, checked: EvidenceError names `file`, the field (such as
    `questions[3].evidence`) and what was expected."""
    evidence = parse(EvidenceSet, data, file, EvidenceError)
    seen: dict[str, int] = {}
    for index, question in enumerate(evidence.questions):
        if question.id in seen:
            raise EvidenceError(
                in_file(
                    file,
                    f"questions[{index}].id: {question.id!r} is also the id of "
                    f"questions[{seen[question.id]}]; ids must be unique",
                )
            )
        seen[question.id] = index
        if not re.search(r"\w", normalise(question.evidence)):  # "..." would be in every other chunk
            raise EvidenceError(
                in_file(
                    file,
                    f"questions[{index}].evidence: expected a phrase with letters or digits, got {question.evidence!r}",
                )
            )
    return evidence


def read_evidence_file(raw: bytes, file: str) -> EvidenceSet:
    """The evidence set in a file's bytes; EvidenceError naming `file` when it is not JSON or not the shape."""
    return parse_evidence_set(parse_json(raw, file, error=EvidenceError), file)


# --- matching ------------------------------------------------------------------------------------
# Typographic characters a PDF gives and a person rarely types, as typed; NFKC already turns
# ligatures (fi) and no-break spaces into plain letters and spaces.
_TYPED = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
    }
)
# A soft hyphen marks where a word was broken at a line end: the word is whole without it.
_SOFT_HYPHEN = re.compile(r"\u00ad\s*")
# A line break right after a hyphen between two words: the 10-Ks' text has "third- party",
# "forward- looking", "Weighted-\nAverage" where the line ended; each is a compound word whose
# hyphen is real (no word of theirs is split by a hyphen that is not), so the hyphen stays and
# the break goes: "third-party", as a person types it.
_BROKEN_COMPOUND = re.compile(r"(?<=\w)-\s+(?=\w)")


def normalise(text: str) -> str:
    """Text as an evidence phrase is compared: NFKC, typographic quotes and dashes as typed, lower
    case, a hyphenated word broken over a line made whole, runs of whitespace as one space."""
    text = _SOFT_HYPHEN.sub("", unicodedata.normalize("NFKC", text).translate(_TYPED))
    return _BROKEN_COMPOUND.sub("-", " ".join(text.lower().split()))


@dataclass
class EvidenceMatch:
    """An evidence set matched against a corpus's chunks: the dataset of the questions some chunk
    holds the phrase of, and the questions left out."""

    dataset: QADataset
    total: int  # questions in the file
    left_out: list[EvidenceQuestion] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return len(self.dataset.queries)

    def summary(self) -> dict:
        """What a user needs to trust the set: how many questions are scored, how many were left
        out (with examples), the styles, and how many passages hold a phrase at most."""
        styles = Counter(self.dataset.styles.values())
        return {
            "questions": self.total,
            "matched": self.matched,
            "left_out": len(self.left_out),
            "left_out_examples": [{"id": q.id, "evidence": q.evidence} for q in self.left_out[:EXAMPLES_SHOWN]],
            "styles": dict(styles),
            "max_passages_per_question": max(len(p) for p in self.dataset.relevant_docs.values()),
        }


def match_evidence(
    evidence: EvidenceSet, chunks: list[Chunk], file: str | None = None, corpus_name: str | None = None
) -> EvidenceMatch:
    """The evaluation-only QA dataset of `evidence` against `chunks`: every chunk a passage, each
    question's relevant passages the chunks whose normalised text holds its normalised phrase.
    Questions no chunk holds are left out (EvidenceMatch.left_out); EvidenceError when that is all of them."""
    where = f"corpus {corpus_name!r}" if corpus_name else "the corpus"
    if not chunks:
        raise EvidenceError(in_file(file, f"{where} has no chunks to match the evidence phrases against"))
    texts = {chunk.chunk_id: normalise(chunk.text) for chunk in chunks}
    relevant: dict[str, list[str]] = {}
    kept, left_out = [], []
    for question in evidence.questions:
        phrase = normalise(question.evidence)
        holders = [chunk_id for chunk_id, text in texts.items() if phrase in text]
        if holders:
            relevant[question.id] = holders
            kept.append(question)
        else:
            left_out.append(question)
    if not kept:
        examples = "; ".join(f"{q.id}: {q.evidence!r}" for q in left_out[:3])
        raise EvidenceError(
            in_file(
                file,
                f"none of the {len(left_out)} evidence phrases is in a chunk of {where} "
                f"(e.g. {examples}); is it the corpus these questions are about?",
            )
        )
    extra = {
        EVALUATION_ONLY: True,
        EVIDENCE: {q.id: q.evidence for q in kept},
        STYLES: {q.id: q.style for q in kept if q.style is not None},
        PAGES: {q.id: q.page for q in kept if q.page is not None},
        LEFT_OUT: {q.id: q.evidence for q in left_out},
    }
    if evidence.source:
        extra["source"] = evidence.source
    dataset = QADataset(
        queries={q.id: q.question for q in kept},
        corpus={chunk.chunk_id: chunk.text for chunk in chunks},
        relevant_docs=relevant,
        passage_docs={chunk.chunk_id: chunk.doc_id for chunk in chunks},
        extra={key: value for key, value in extra.items() if value or key == EVALUATION_ONLY},
    )
    dataset.validate()
    return EvidenceMatch(dataset, len(evidence.questions), left_out)


def import_evidence_set(
    ws: Workspace, evidence: EvidenceSet, name: str, corpus: str | None, file: str
) -> tuple[DatasetRecord, EvidenceMatch]:
    """Match `evidence` (read from `file`) against the chunks of `corpus` (id or name) and save the
    evaluation-only dataset as `name`. Nothing is saved when no question matches or the name is taken."""
    if not corpus:
        raise EvidenceError(
            f"{file} is an evidence-phrase set: it needs the corpus whose chunks hold its "
            "phrases (--corpus on the command line, the corpus picker in the app)"
        )
    record = ws.resolve("corpora", corpus)
    match = match_evidence(evidence, load_chunks(ws, record.id), file, record.name)
    params = {"imported": file, EVALUATION_ONLY: True, "matched": match.matched, "left_out": len(match.left_out)}
    return save_dataset(ws, name, match.dataset, record.id, params), match
