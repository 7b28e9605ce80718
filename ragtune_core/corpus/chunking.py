"""Documents into chunks of whole sentences, sized in the embedding model's tokens.

Token counts are per sentence, without special tokens, and a chunk's size is the sum over its
sentences (exact for WordPiece tokenizers, within a token or two a sentence for BPE ones).
A chunk's text is an exact slice of its document, so page and section come from where it starts.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from ..store.models import max_seq_length
from .documents import Chunk, CorpusError, Document

DEFAULT_OVERLAP = 20
MIN_CHUNK_SIZE = 16
# A cross-encoder reads question and passage within the same limit: leave the question this much.
QUESTION_ROOM = 32

# A sentence runs from a non-space character to .!? (and closing quotes or brackets) before
# whitespace, or to the end of its line: a newline always ends a sentence (paragraphs, headings,
# table rows).
_SENTENCE = re.compile(r"\S.*?(?:[.!?][\"'”’)\]]*(?=\s)|(?=[^\S\n]*\n)|(?=\s*\Z))")


@dataclass
class _Sentence:
    start: int
    end: int
    tokens: int


def default_chunk_size(model: str | None = None) -> int:
    """What the model reads (its max_seq_length) less room for a question, so that neither the
    embedder nor a cross-encoder cuts off the end of a passage; 224 for the bundled model."""
    return max(MIN_CHUNK_SIZE, (max_seq_length(model) or 256) - QUESTION_ROOM)


def share_beyond(chunks: list[Chunk], tokenizer, limit: int) -> float:
    """The share of the chunks' tokens past `limit`: what a model reading `limit` tokens never sees."""
    lengths = [len(ids) for ids in tokenizer([c.text for c in chunks], add_special_tokens=False)["input_ids"]]
    total = sum(lengths)
    return sum(max(0, n - limit) for n in lengths) / total if total else 0.0


def validate_chunk_params(chunk_size: int, overlap: int) -> None:
    if chunk_size < MIN_CHUNK_SIZE:
        raise CorpusError(f"chunk size must be at least {MIN_CHUNK_SIZE} tokens, got {chunk_size}")
    if not 0 <= overlap < chunk_size:
        raise CorpusError(f"overlap must be from 0 to {chunk_size - 1} tokens (below the chunk size), got {overlap}")


def chunk_documents(
    documents: list[Document], tokenizer, chunk_size: int | None = None, overlap: int = DEFAULT_OVERLAP
) -> list[Chunk]:
    """Pack each document's sentences into chunks of at most `chunk_size` tokens.

    Each chunk after the first of a document starts with the last whole sentences of the one
    before, as many as fit in `overlap` tokens (possibly none). A sentence longer than a chunk
    is cut at token boundaries. Chunks never span two documents; ids are f"{doc_id}#{i}".
    `tokenizer` is a fast Hugging Face tokenizer (store.load_tokenizer()); `chunk_size` None is
    default_chunk_size() of the bundled model.

    Example::

        documents = load_texts([("notes.md", Path("notes.md").read_bytes())]).documents
        chunks = chunk_documents(documents, load_tokenizer(None))  # 224-token chunks, 20 tokens of overlap
    """
    chunk_size = chunk_size or default_chunk_size()
    validate_chunk_params(chunk_size, overlap)
    _check_unique_ids(documents)
    chunks = []
    for doc in documents:
        sentences = _measure(doc.text, tokenizer, chunk_size)
        for i, (start, end) in enumerate(_pack(sentences, chunk_size, overlap)):
            span = doc.span_at(start)
            chunks.append(
                Chunk(
                    f"{doc.doc_id}#{i}",
                    doc.doc_id,
                    doc.text[start:end],
                    page=span.page if span else None,
                    section=span.section if span else None,
                )
            )
    return chunks


def split_sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of `text`, without surrounding whitespace."""
    return [match.span() for match in _SENTENCE.finditer(text)]


def _check_unique_ids(documents: list[Document]) -> None:
    repeated = [doc_id for doc_id, count in Counter(d.doc_id for d in documents).items() if count > 1]
    if repeated:
        raise CorpusError(f"document id {repeated[0]!r} occurs more than once; the same source was loaded twice")


def _measure(text: str, tokenizer, chunk_size: int) -> list[_Sentence]:
    """Sentences with their token counts (one batched tokenizer call), long ones cut into pieces."""
    offsets = split_sentences(text)
    if not offsets:
        return []
    encoded = tokenizer(
        [text[s:e] for s, e in offsets],
        add_special_tokens=False,
        return_offsets_mapping=True,
        return_attention_mask=False,
        return_token_type_ids=False,
        verbose=False,
    )
    sentences = []
    for (start, end), token_offsets in zip(offsets, encoded["offset_mapping"], strict=True):
        if len(token_offsets) <= chunk_size:
            sentences.append(_Sentence(start, end, len(token_offsets)))
            continue
        for k in range(0, len(token_offsets), chunk_size):
            piece = token_offsets[k : k + chunk_size]
            sentences.append(_Sentence(start + piece[0][0], start + piece[-1][1], len(piece)))
    return sentences


def _pack(sentences: list[_Sentence], chunk_size: int, overlap: int) -> Iterator[tuple[int, int]]:
    """(start, end) offsets of each chunk."""
    current: list[_Sentence] = []
    size = 0
    for sentence in sentences:
        if current and size + sentence.tokens > chunk_size:
            yield current[0].start, current[-1].end
            current = current[_tail_start(current, overlap) :]
            size = sum(s.tokens for s in current)
            while current and size + sentence.tokens > chunk_size:
                size -= current.pop(0).tokens
        current.append(sentence)
        size += sentence.tokens
    if current:
        yield current[0].start, current[-1].end


def _tail_start(sentences: list[_Sentence], budget: int) -> int:
    """Where the last whole sentences that together fit in `budget` tokens begin."""
    size = 0
    for i in range(len(sentences) - 1, -1, -1):
        size += sentences[i].tokens
        if size > budget:
            return i + 1
    return 0
