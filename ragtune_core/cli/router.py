"""`router-dataset`: labelled queries for a vector and a summary tool per document, saved as a dataset."""

from __future__ import annotations

import argparse

from ..generation import GENERATORS
from ..llm import API_KEY_ENV_VARS, estimate_cost
from ..qa_dataset import SPLIT_MODES
from ..router import MAX_SUMMARY_VARIATIONS, RouterError, RouterRequest, generate_router_for_corpus, select_documents
from ..workspace import Workspace
from .questions import _llm_config, _ProgressPrinter, _split


def register(subparsers) -> None:
    keys = " or ".join("$" + v for v in API_KEY_ENV_VARS)
    cmd = subparsers.add_parser(
        "router-dataset", help="generate router queries (vector and summary tool per document) as a dataset",
        description="Each document gets a vector tool (specific questions about its chunks) and a summary tool "
                    f"(summary requests). With --generator llm the API key is read from {keys}, never from an argument.")
    cmd.add_argument("--corpus", required=True, help="corpus id or name")
    cmd.add_argument("--name", required=True, help="name of the new dataset")
    cmd.add_argument("--documents", nargs="+", metavar="DOC", help="document ids or titles (default: all)")
    cmd.add_argument("--questions-per-document", type=int, default=10,
                     help="specific questions per document, for its vector tool (default 10)")
    cmd.add_argument("--summary-variations", type=int, default=5,
                     help=f"summary requests per document, for its summary tool (default 5, at most {MAX_SUMMARY_VARIATIONS})")
    cmd.add_argument("--generator", choices=GENERATORS, default="offline")
    cmd.add_argument("--base-url", help="OpenAI-compatible endpoint (default: OpenAI's API)")
    cmd.add_argument("--model", help="model name, required with --generator llm")
    cmd.add_argument("--concurrency", type=int, default=8, help="LLM requests in flight (default 8)")
    cmd.add_argument("--split-by", choices=SPLIT_MODES, default="document",
                     help="document: validation documents' tools are never trained on (default); query: shuffle queries")
    cmd.add_argument("--val-ratio", type=float, default=0.2, help="share of queries for validation (default 0.2)")
    cmd.add_argument("--seed", type=int, default=42)
    cmd.set_defaults(handler=router_dataset)


def router_dataset(args: argparse.Namespace, ws: Workspace) -> dict:
    corpus = ws.resolve("corpora", args.corpus)
    # Refuse a taken name before any question is paid for.
    if any(d.name == args.name.strip() for d in ws.list_datasets()):
        raise RouterError(f"a dataset named {args.name.strip()!r} already exists")
    if not 0 < args.val_ratio < 1:
        raise RouterError("--val-ratio must be between 0 and 1")
    document_ids = None
    if args.documents:
        document_ids = [d.doc_id for d in select_documents(ws.load_documents(corpus.id), args.documents)]
    request = RouterRequest(
        corpus_id=corpus.id, document_ids=document_ids, questions_per_document=args.questions_per_document,
        summary_variations=args.summary_variations, generator=args.generator, llm=_llm_config(args), seed=args.seed)
    dataset, result = generate_router_for_corpus(ws, request, on_progress=_ProgressPrinter())
    split_by, split_note = _split(dataset, args)
    params = {**request.to_params(), "split_by": split_by, "val_ratio": args.val_ratio}
    record = ws.save_dataset(args.name, dataset, corpus.id, params)
    summary = {"dataset_id": record.id, "name": record.name, "tools": len(dataset.corpus), **result.summary(),
               "questions": len(dataset.queries),
               "train": sum(v == "train" for v in dataset.split.values()),
               "val": sum(v == "val" for v in dataset.split.values())}
    if request.llm is not None:
        summary["cost_usd"] = estimate_cost(request.llm, result.usage.prompt_tokens, result.usage.completion_tokens)
    if split_note:
        summary["note"] = split_note
    return summary
