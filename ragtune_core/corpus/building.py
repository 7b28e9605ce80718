"""Documents chunked in a model's tokens and saved as a corpus, with the share of its tokens the model
never reads: what the Corpus page does when asked to "Chunk and save"."""

from __future__ import annotations

from dataclasses import dataclass

from ..store.models import DEFAULT_BASE_MODEL, load_tokenizer, max_seq_length
from ..store.workspace import CorpusRecord, Workspace
from .chunking import chunk_documents, share_beyond
from .documents import Document, save_corpus


@dataclass(frozen=True)
class BuiltCorpus:
    record: CorpusRecord
    model_limit: int | None  # tokens of a passage the model reads (None: not known)
    share_cut_off: float  # of the corpus's tokens, those past model_limit: never seen in training or retrieval


def build_corpus(
    ws: Workspace, name: str, documents: list[Document], model: str | None, chunk_size: int, overlap: int
) -> BuiltCorpus:
    """Chunk `documents` in `model`'s tokens (None: the bundled model) and save them as the corpus `name`.

    Example::

        built = build_corpus(ws, "notes", load_text("Notes", text).documents, None, 224, 20)
        built.share_cut_off  # 0.0: 224-token chunks fit the 256 tokens the bundled model reads
    """
    tokenizer = load_tokenizer(model)
    limit = max_seq_length(model)
    chunks = chunk_documents(documents, tokenizer, chunk_size, overlap)
    params = {"chunk_size": chunk_size, "overlap": overlap, "tokenizer": model or DEFAULT_BASE_MODEL}
    record = save_corpus(ws, name, documents, chunks, params)
    return BuiltCorpus(record, limit, share_beyond(chunks, tokenizer, limit) if limit else 0.0)
