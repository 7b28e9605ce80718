"""Documents and chunks: the units every ingest source produces and every later step reads,
and how a corpus of them is saved in and loaded from the workspace."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import asdict, dataclass, field

from ..errors import RagtuneError
from ..store.files import read_jsonl, write_jsonl
from ..store.shapes import FILE_SHAPE
from ..store.workspace import CorpusRecord, Workspace, WorkspaceError, check_name, new_id


@dataclass
class Span:
    """A character range of a document's text with where it came from (a PDF page, a wiki section)."""

    __pydantic_config__ = FILE_SHAPE  # as documents.jsonl holds it

    start: int
    end: int
    page: int | None = None
    section: str | None = None


@dataclass
class Document:
    __pydantic_config__ = FILE_SHAPE  # how a line of documents.jsonl is checked

    doc_id: str
    title: str
    source: str  # e.g. "pdf:lyft_2021.pdf", "wikipedia:Toronto", "text:notes.md"
    text: str
    spans: list[Span] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    def span_at(self, offset: int) -> Span | None:
        """The span holding character `offset`, if any."""
        for span in self.spans:
            if span.start <= offset < span.end:
                return span
        return None


@dataclass
class Chunk:
    __pydantic_config__ = FILE_SHAPE  # how a line of chunks.jsonl is checked

    chunk_id: str
    doc_id: str
    text: str
    page: int | None = None
    section: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class CorpusError(RagtuneError):
    """Corpus settings or sources that cannot work (a chunk size, a source loaded twice, an endpoint)."""


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


def save_corpus(ws: Workspace, name: str, documents: list[Document], chunks: list[Chunk], params: dict) -> CorpusRecord:
    """Save documents and chunks as a new corpus named `name` (refused when the name is taken)."""
    record = CorpusRecord(new_id("corpus"), check_name(name), time.time(), params, len(documents), len(chunks))

    def write(folder):
        write_jsonl(folder / "documents.jsonl", (d.to_dict() for d in documents))
        write_jsonl(folder / "chunks.jsonl", (c.to_dict() for c in chunks))

    ws.add("corpora", record, write)
    return record


def load_documents(ws: Workspace, corpus_id: str) -> list[Document]:
    """A corpus's documents, each line checked (a damaged one is named by file, line and key)."""
    return read_jsonl(_corpus_file(ws, corpus_id, "documents.jsonl"), Document)


def load_chunks(ws: Workspace, corpus_id: str) -> list[Chunk]:
    """A corpus's chunks, each line checked (a damaged one is named by file, line and key)."""
    return read_jsonl(_corpus_file(ws, corpus_id, "chunks.jsonl"), Chunk)


def _corpus_file(ws: Workspace, corpus_id: str, name: str):
    """A saved corpus's file; WorkspaceError naming the corpus when the corpus or its file is gone."""
    record = ws.get_corpus(corpus_id)
    path = ws.corpus_dir(corpus_id) / name
    if not path.is_file():
        raise WorkspaceError(
            f"corpus {record.name!r} has lost its {name} (the workspace's "
            f"corpora/{corpus_id} folder was changed by hand?)"
        )
    return path
