"""Documents and chunks: the units every ingest source produces and every later step reads."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field


@dataclass
class Span:
    """A character range of a document's text with where it came from (a PDF page, a wiki section)."""

    start: int
    end: int
    page: int | None = None
    section: str | None = None


@dataclass
class Document:
    doc_id: str
    title: str
    source: str  # e.g. "pdf:lyft_2021.pdf", "wikipedia:Toronto", "text:notes.md"
    text: str
    spans: list[Span] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Document:
        spans = [Span(**s) for s in data.get("spans", [])]
        return cls(**{**data, "spans": spans})

    def span_at(self, offset: int) -> Span | None:
        """The span holding character `offset`, if any."""
        for span in self.spans:
            if span.start <= offset < span.end:
                return span
        return None


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    text: str
    page: int | None = None
    section: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Chunk:
        return cls(**data)


@dataclass
class IngestError:
    """A source that could not be loaded, named so the user knows which one and why."""

    name: str
    message: str


@dataclass
class IngestResult:
    documents: list[Document] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)

    def extend(self, other: IngestResult) -> None:
        self.documents.extend(other.documents)
        self.errors.extend(other.errors)


def make_doc_id(source: str, text: str) -> str:
    """A stable id: a readable slug of the source plus a short content hash."""
    slug = re.sub(r"[^a-z0-9]+", "-", source.lower()).strip("-")[:40]
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]
    return f"{slug}-{digest}"
