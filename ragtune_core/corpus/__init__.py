"""Stage 1, the corpus: documents from PDFs, text and MediaWiki pages, cut into chunks."""

from .building import BuiltCorpus, build_corpus
from .chunking import DEFAULT_OVERLAP, chunk_documents, default_chunk_size, share_beyond
from .documents import Chunk, Document, IngestError, IngestResult, Span, load_chunks, load_documents, save_corpus
from .ingest import load_files, load_pdfs, load_text, load_texts
from .mediawiki import WIKIPEDIA_API, MediaWikiClient
from .wiki_fetch import FetchError, load_fetched, wiki_fetch_params

__all__ = [
    "Document",
    "Chunk",
    "Span",
    "IngestResult",
    "IngestError",
    "save_corpus",
    "load_documents",
    "load_chunks",
    "load_files",
    "load_pdfs",
    "load_texts",
    "load_text",
    "MediaWikiClient",
    "WIKIPEDIA_API",
    "FetchError",
    "wiki_fetch_params",
    "load_fetched",
    "chunk_documents",
    "default_chunk_size",
    "share_beyond",
    "DEFAULT_OVERLAP",
    "BuiltCorpus",
    "build_corpus",
]
