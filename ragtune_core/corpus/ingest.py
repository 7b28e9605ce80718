"""Uploaded files and pasted text into Documents: PDFs page by page, text section by section.

Every loader returns an IngestResult: a file that cannot be used becomes an IngestError naming it
and saying why, and never stops the other files of the same call from loading.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath

import pymupdf

from .documents import Document, IngestError, IngestResult, Span, make_doc_id

PDF_MAGIC = b"%PDF-"
TEXT_SUFFIXES = (".txt", ".md", ".markdown")
# Text extraction that joins hyphenated line breaks back into words.
_PDF_TEXT_FLAGS = pymupdf.TEXTFLAGS_BLOCKS | pymupdf.TEXT_DEHYPHENATE

_WIKI_HEADING = re.compile(r"^(={2,6})\s*(.+?)\s*\1\s*$")
_MARKDOWN_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_CODE_FENCE = re.compile(r"^\s*(```|~~~)")
# PDF titles that tools fill in by themselves rather than a name a person gave the document.
_GENERATED_TITLE = re.compile(r"^(untitled|microsoft \w+ - )|\.(docx?|pdf|pptx?|xlsx?|odt|txt)$", re.IGNORECASE)


class _Rejected(Exception):
    """Why one source cannot be loaded; becomes that source's IngestError."""


@dataclass
class _Section:
    level: int  # heading depth; 0 for the text before the first heading
    title: str | None
    body: str


# dispatch ----------------------------------------------------------------------------------
def load_files(files: list[tuple[str, bytes]]) -> IngestResult:
    """Uploads of any supported type, told apart by the PDF header or else the file extension."""
    return _load_each(_load_by_type, files)


def load_pdfs(files: list[tuple[str, bytes]]) -> IngestResult:
    return _load_each(load_pdf, files)


def load_texts(files: list[tuple[str, bytes]]) -> IngestResult:
    return _load_each(load_text, files)


def _load_by_type(name: str, data: bytes) -> IngestResult:
    if PDF_MAGIC in data[:1024] or name.lower().endswith(".pdf"):
        return load_pdf(name, data)
    if name.lower().endswith(TEXT_SUFFIXES):
        return load_text(name, data)
    suffix = PurePath(name).suffix or "(no extension)"
    return _error(name, f"unsupported file type {suffix}; upload PDF, .txt or .md files")


def _load_each(loader: Callable[[str, bytes], IngestResult], files: list[tuple[str, bytes]]) -> IngestResult:
    """Load every file; one uploaded twice (same name and content) is reported, not loaded twice."""
    merged = IngestResult()
    for name, data in files:
        result = loader(name, data)
        merged.errors.extend(result.errors)
        known = {doc.doc_id for doc in merged.documents}
        for doc in result.documents:
            if doc.doc_id in known:
                merged.errors.append(IngestError(name, "the same file was given twice; loaded once"))
            else:
                merged.documents.append(doc)
    return merged


def _error(name: str, message: str) -> IngestResult:
    return IngestResult(errors=[IngestError(name, message)])


# PDF ---------------------------------------------------------------------------------------
def load_pdf(name: str, data: bytes) -> IngestResult:
    """One PDF as one Document whose spans carry the (1-based) page of each part of the text."""
    try:
        return IngestResult(documents=[_pdf_document(name, data)])
    except _Rejected as exc:
        return _error(name, str(exc))


def _pdf_document(name: str, data: bytes) -> Document:
    if not data:
        raise _Rejected("the file is empty")
    if PDF_MAGIC not in data[:1024]:
        raise _Rejected("not a PDF file (it has no %PDF header)")
    try:
        pdf = pymupdf.open(stream=data, filetype="pdf")
    except (RuntimeError, ValueError) as exc:
        raise _Rejected(f"damaged PDF that cannot be opened ({exc})") from exc
    with pdf:
        if pdf.needs_pass:
            raise _Rejected("the PDF is password-protected; save a copy without the password and upload that")
        if pdf.page_count == 0:
            raise _Rejected("the PDF has no pages")
        try:
            pages = [_page_text(page) for page in pdf]
        except (RuntimeError, ValueError) as exc:
            raise _Rejected(f"damaged PDF whose text cannot be read ({exc})") from exc
        if not any(pages):
            raise _Rejected(_why_no_text(pdf))
        title = _pdf_title(pdf.metadata or {}, name)
    text, spans = _join_pages(pages)
    source = f"pdf:{name}"
    return Document(make_doc_id(source, text), title, source, text, spans)


def _page_text(page: pymupdf.Page) -> str:
    """A page's text blocks, each as one line: PDF line wraps are layout, not sentence breaks."""
    blocks = page.get_text("blocks", flags=_PDF_TEXT_FLAGS)
    lines = (" ".join(block[4].split()) for block in blocks if block[6] == 0)
    return "\n".join(line for line in lines if line)


def _why_no_text(pdf: pymupdf.Document) -> str:
    if any(page.get_images() or page.get_drawings() for page in pdf):
        return "no text layer (image-only PDF, e.g. a scan); run OCR on it first"
    return "no text on any page (the pages are blank)"


def _pdf_title(metadata: dict, name: str) -> str:
    title = " ".join((metadata.get("title") or "").split())
    sensible = len(re.findall(r"[^\W\d_]", title)) >= 3 and len(title) <= 200 and not _GENERATED_TITLE.search(title)
    return title if sensible else PurePath(name).stem


def _join_pages(pages: list[str]) -> tuple[str, list[Span]]:
    parts: list[str] = []
    spans: list[Span] = []
    offset = 0
    for number, page_text in enumerate(pages, start=1):
        if not page_text:
            continue
        if parts:
            parts.append("\n\n")
            offset += 2
        parts.append(page_text)
        spans.append(Span(offset, offset + len(page_text), page=number))
        offset += len(page_text)
    return "".join(parts), spans


# text --------------------------------------------------------------------------------------
def load_text(name: str, data: bytes | str) -> IngestResult:
    """A .txt/.md upload or pasted text (named by the user) as one Document with section spans."""
    name = (name or "").strip()
    if not name:
        return _error("(unnamed text)", "give the text a name")
    try:
        raw = data if isinstance(data, str) else _decode(data)
    except _Rejected as exc:
        return _error(name, str(exc))
    text, spans = split_sections(raw)
    if not text:
        return _error(name, "there is no text in it")
    title = name[: len(name) - len(_text_suffix(name))] or name
    source = f"text:{name}"
    return IngestResult(documents=[Document(make_doc_id(source, text), title, source, text, spans)])


def _text_suffix(name: str) -> str:
    return next((s for s in TEXT_SUFFIXES if name.lower().endswith(s)), "")


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise _Rejected("a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Rejected(f"not UTF-8 text (undecodable byte at position {exc.start}); save it as UTF-8") from exc


def split_sections(raw: str) -> tuple[str, list[Span]]:
    """Clean text and its section spans from text with markdown `#` or MediaWiki `== x ==` headings.

    A heading line is kept as its plain title (so chunks still read it); its span's section is the
    path of headings above it ("History > Early history"). Headings of sections with no text at
    all, like the empty "References" of a Wikipedia extract, are dropped.
    """
    lines = raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    sections = _drop_empty(_parse_sections(lines))
    parts: list[str] = []
    spans: list[Span] = []
    path: list[_Section] = []
    offset = 0
    for section in sections:
        if section.title is not None:
            path = [*(s for s in path if s.level < section.level), section]
        block = "\n".join(part for part in (section.title, section.body) if part)
        if parts:
            parts.append("\n\n")
            offset += 2
        parts.append(block)
        name = " > ".join(s.title for s in path) if section.title is not None else None
        spans.append(Span(offset, offset + len(block), section=name))
        offset += len(block)
    return "".join(parts), spans


def _parse_sections(lines: list[str]) -> list[_Section]:
    sections = []
    level, title, body = 0, None, []
    in_code = False
    for line in lines:
        if _CODE_FENCE.match(line):
            in_code = not in_code
        heading = None if in_code else _heading(line)
        if heading is None:
            body.append(line)
            continue
        sections.append(_Section(level, title, "\n".join(body).strip()))
        (level, title), body = heading, []
    sections.append(_Section(level, title, "\n".join(body).strip()))
    return sections


def _heading(line: str) -> tuple[int, str] | None:
    match = _WIKI_HEADING.match(line) or _MARKDOWN_HEADING.match(line)
    return (len(match.group(1)), match.group(2)) if match else None


def _drop_empty(sections: list[_Section]) -> list[_Section]:
    """Keep a section with text, or a heading whose subsections have text."""
    kept = []
    for i, section in enumerate(sections):
        subtree = itertools.takewhile(lambda s, level=section.level: s.level > level, sections[i + 1 :])
        if section.body or (section.title is not None and any(s.body for s in subtree)):
            kept.append(section)
    return kept
