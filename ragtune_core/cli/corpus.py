"""`ingest` (PDFs, text files and wiki pages into a chunked corpus), `corpora` (list them) and
`delete-corpus` (refused while a router dataset, a draft or a run still needs it)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from ..corpus import WIKIPEDIA_API, IngestResult, MediaWikiClient, chunk_documents, load_pdfs, load_texts, save_corpus
from ..corpus.chunking import DEFAULT_OVERLAP, default_chunk_size, share_beyond, validate_chunk_params
from ..questions.drafts import pending_draft
from ..store import DEFAULT_BASE_MODEL, Workspace, load_tokenizer, max_seq_length
from .errors import UsageError


def register(subparsers) -> None:
    ingest = subparsers.add_parser("ingest", help="load PDFs, text files and wiki pages into a new chunked corpus")
    ingest.add_argument("--name", required=True, help="name of the new corpus")
    ingest.add_argument("--pdf", nargs="+", action="extend", default=[], type=Path, metavar="FILE")
    ingest.add_argument(
        "--text", nargs="+", action="extend", default=[], type=Path, metavar="FILE", help="UTF-8 text or markdown files"
    )
    ingest.add_argument(
        "--wikipedia",
        nargs="+",
        action="extend",
        default=[],
        metavar="TITLE",
        help="page titles (or article URLs) fetched from --endpoint",
    )
    ingest.add_argument("--endpoint", default=WIKIPEDIA_API, help="MediaWiki API URL (default: %(default)s)")
    ingest.add_argument(
        "--chunk-size",
        type=int,
        help="tokens (default: what --model reads less room for a question, 224 for the bundled model)",
    )
    ingest.add_argument("--overlap", type=int, default=DEFAULT_OVERLAP, help="tokens (default: %(default)s)")
    ingest.add_argument("--model", help="model whose tokenizer measures chunks (default: the bundled base model)")
    ingest.set_defaults(handler=run_ingest)

    corpora = subparsers.add_parser("corpora", help="list the corpora")
    corpora.set_defaults(handler=list_corpora)

    delete = subparsers.add_parser(
        "delete-corpus",
        help="delete a corpus (refused, naming them, while router datasets, drafts or runs still need it)",
    )
    delete.add_argument("corpus", metavar="CORPUS", help="corpus id or name")
    delete.set_defaults(handler=delete_corpus)


def run_ingest(args: argparse.Namespace, ws: Workspace) -> dict:
    chunk_size = args.chunk_size or default_chunk_size(args.model)
    validate_chunk_params(chunk_size, args.overlap)
    if not (args.pdf or args.text or args.wikipedia):
        raise UsageError("nothing to ingest: give --pdf, --text and/or --wikipedia")
    pdfs, texts = _read_files(args.pdf), _read_files(args.text)
    tokenizer = load_tokenizer(args.model)

    result = IngestResult()
    result.extend(load_pdfs(pdfs))
    result.extend(load_texts(texts))
    if args.wikipedia:
        client = MediaWikiClient(args.endpoint, cache_dir=ws.dir("cache", "mediawiki"))
        result.extend(client.fetch(args.wikipedia))
    if not result.documents:
        reasons = "; ".join(f"{e.name}: {e.message}" for e in result.errors)
        raise UsageError(f"no document could be loaded, so no corpus was saved ({reasons})")

    chunks = chunk_documents(result.documents, tokenizer, chunk_size, args.overlap)
    lost = _warn_about_cut_passages(chunks, tokenizer, args.model)
    params = {"chunk_size": chunk_size, "overlap": args.overlap, "tokenizer": args.model or DEFAULT_BASE_MODEL}
    if args.wikipedia:
        params["endpoint"] = args.endpoint
    record = save_corpus(ws, args.name, result.documents, chunks, params)
    return {
        "corpus_id": record.id,
        "name": record.name,
        "documents": record.n_documents,
        "chunks": record.n_chunks,
        "chunk_size": chunk_size,
        "share_of_tokens_cut_off": lost,
        "errors": [asdict(e) for e in result.errors],
    }


def _warn_about_cut_passages(chunks, tokenizer, model: str | None) -> float:
    """The share of tokens past what the model reads, said on stderr when there are any."""
    limit = max_seq_length(model)
    lost = share_beyond(chunks, tokenizer, limit) if limit else 0.0
    if lost:
        print(
            f"warning: the model reads {limit} tokens of a passage: {lost:.0%} of the corpus's tokens lie beyond "
            "and are never seen in training or retrieval; a smaller --chunk-size keeps them",
            file=sys.stderr,
        )
    return round(lost, 4)


def list_corpora(args: argparse.Namespace, ws: Workspace) -> dict:
    return {
        "corpora": [
            {
                "id": c.id,
                "name": c.name,
                "documents": c.n_documents,
                "chunks": c.n_chunks,
                "created": c.created,
                "params": c.params,
            }
            for c in ws.list_corpora()
        ]
    }


def delete_corpus(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("corpora", args.corpus)
    ws.delete_corpus(record.id, pending_draft)
    return {"deleted_corpus_id": record.id, "name": record.name}


def _read_files(paths: list[Path]) -> list[tuple[str, bytes]]:
    """Every file's name and bytes; a path that is not a readable file stops the command before any work."""
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    return [(p.name, p.read_bytes()) for p in paths]
