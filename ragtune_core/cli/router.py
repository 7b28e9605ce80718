"""`router-dataset`: labelled queries for a vector and a summary tool per document, saved as a dataset."""

from __future__ import annotations

import argparse

from ..corpus.documents import load_documents
from ..llm.config import key_rule
from ..questions.qa_dataset import SPLIT_MODES
from ..questions.router.datasets import DEFAULT_QUESTIONS_PER_DOCUMENT, DEFAULT_SUMMARY_VARIATIONS
from ..questions.router.prompts import MAX_SUMMARY_VARIATIONS
from ..questions.router.request import RouterRequest, estimate_router_run, generate_router_for_corpus, select_documents
from ..store.workspace import Workspace
from .llm_flags import add_batch_flag
from .progress import ProgressPrinter
from .questions import (
    add_generator_flags,
    add_test_ratio_flag,
    announce_estimate,
    check_new_dataset,
    llm_config,
    split_and_save,
)


def register(subparsers) -> None:
    cmd = subparsers.add_parser(
        "router-dataset",
        help="generate router queries (vector and summary tool per document) as a dataset",
        description="Each document gets a vector tool (specific questions about its chunks) and a summary tool "
        f"(summary requests). With --generator llm the API key comes from the environment, never from an "
        f"argument: {key_rule()} (--api-key-env).",
    )
    cmd.add_argument("--corpus", required=True, help="corpus id or name")
    cmd.add_argument("--name", required=True, help="name of the new dataset")
    cmd.add_argument("--documents", nargs="+", metavar="DOC", help="document ids or titles (default: all)")
    cmd.add_argument(
        "--questions-per-document",
        type=int,
        default=DEFAULT_QUESTIONS_PER_DOCUMENT,
        help=f"specific questions per document, for its vector tool (default {DEFAULT_QUESTIONS_PER_DOCUMENT})",
    )
    cmd.add_argument(
        "--summary-variations",
        type=int,
        default=DEFAULT_SUMMARY_VARIATIONS,
        help=f"summary requests per document, for its summary tool (default {DEFAULT_SUMMARY_VARIATIONS}, "
        f"at most {MAX_SUMMARY_VARIATIONS})",
    )
    add_generator_flags(cmd)
    cmd.add_argument(
        "--split-by",
        choices=SPLIT_MODES,
        default="document",
        help="document: validation documents' tools are never trained on (default); query: shuffle queries",
    )
    cmd.add_argument("--val-ratio", type=float, default=0.2, help="share of queries for validation (default 0.2)")
    add_test_ratio_flag(cmd)
    cmd.add_argument("--seed", type=int, default=42)
    add_batch_flag(cmd)
    cmd.set_defaults(handler=router_dataset)


def router_dataset(args: argparse.Namespace, ws: Workspace) -> dict:
    corpus = ws.resolve("corpora", args.corpus)
    check_new_dataset(ws, args)
    document_ids = None
    if args.documents:
        document_ids = [d.doc_id for d in select_documents(load_documents(ws, corpus.id), args.documents)]
    request = RouterRequest(
        corpus_id=corpus.id,
        document_ids=document_ids,
        questions_per_document=args.questions_per_document,
        summary_variations=args.summary_variations,
        generator=args.generator,
        llm=llm_config(args, ws),
        seed=args.seed,
    )
    estimate = announce_estimate(ws, request, estimate_router_run, "router-dataset") if request.llm else None
    dataset, result = generate_router_for_corpus(ws, request, on_progress=ProgressPrinter("questions").chunks)
    # "questions" counts those kept after dropping the ones that fit two documents.
    return split_and_save(
        ws,
        args,
        corpus.id,
        request,
        dataset,
        result,
        tools=len(dataset.corpus),
        questions=len(dataset.queries),
        **({"estimate": estimate} if estimate else {}),
    )
