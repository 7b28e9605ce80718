"""Stage 1, the corpus: documents from PDFs, text and MediaWiki pages, cut into chunks."""

from .documents import Document, Chunk, Span, IngestResult, IngestError, save_corpus, load_documents, load_chunks
from .ingest import load_files, load_pdfs, load_texts, load_text
from .mediawiki import MediaWikiClient, WIKIPEDIA_API
from .wiki_fetch import FetchError, wiki_fetch_params, load_fetched
from .chunking import chunk_documents, default_chunk_size, share_beyond, DEFAULT_OVERLAP
from .building import BuiltCorpus, build_corpus

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
