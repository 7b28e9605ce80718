"""`train-cross-encoder` (a tool selector or reranker) and `rerank` (an embedder's ranking reordered by one)."""

from __future__ import annotations

import argparse
import sys

from ..evaluation import PARTS, RERANK_TOP_K, ModelSpec, rerank_and_save
from ..evaluation.reranking import rerank_names
from ..jobs import JobKind
from ..reporting.history import RETRIEVAL, recording
from ..store import Workspace, WorkspaceError
from ..training import CrossEncoderTrainConfig
from ..training.cross_encoder import MODEL_KIND
from .errors import UsageError
from .evaluate import (
    BASE,
    PART_HELP,
    add_sample_option,
    announced_meter,
    by_style,
    model_spec,
    part_to_report,
    sampled,
    timed,
)
from .train import add_config_options, add_search_options, config_from_options, train_or_start

EMBEDDING_KIND = "embedding"


def register(subparsers) -> None:
    train = subparsers.add_parser(
        "train-cross-encoder", help="fine-tune a cross-encoder: a tool selector (router dataset) or a reranker (QA)"
    )
    train.add_argument("dataset", metavar="DATASET", help="dataset id or name (it must have a train/validation split)")
    train.add_argument("--name", required=True, help="name of the new model")
    train.add_argument(
        "--base-model",
        help="Hub id (hf:owner/name) or folder to start from (default: the embedder's weights with a new score head)",
    )
    train.add_argument(
        "--embedder",
        metavar="M",
        help=f"embedding model that picks the hard negatives and, without --base-model, gives the "
        f"starting weights: '{BASE}', a workspace model, a folder or a Hub id (hf:owner/name) (default: the "
        f"newest embedding model fine-tuned on DATASET, else '{BASE}')",
    )
    add_config_options(train, CrossEncoderTrainConfig)
    add_search_options(train)
    train.add_argument("--background", action="store_true", help="start a background job and print its run id")
    train.set_defaults(handler=run_train_cross_encoder)

    rerank = subparsers.add_parser(
        "rerank", help="retrieval metrics of an embedder with and without a cross-encoder reranking its top passages"
    )
    rerank.add_argument("dataset", metavar="DATASET", help="dataset id or name")
    rerank.add_argument(
        "--embedder",
        required=True,
        metavar="M",
        help=f"'{BASE}', a workspace embedding model's name or id, a folder or a Hub id (hf:owner/name)",
    )
    rerank.add_argument(
        "--cross-encoder",
        required=True,
        metavar="M",
        help="a workspace cross-encoder's name or id, a folder or a Hub id (hf:owner/name)",
    )
    rerank.add_argument(
        "--top-k", type=int, default=RERANK_TOP_K, help="passages reranked per question (default: %(default)s)"
    )
    rerank.add_argument("--part", choices=PARTS, help=PART_HELP)
    add_sample_option(rerank)
    rerank.add_argument("--batch-size", type=int, default=64)
    rerank.set_defaults(handler=run_rerank)


def run_train_cross_encoder(args: argparse.Namespace, ws: Workspace) -> dict:
    embedder = model_of_kind(ws, args.embedder or default_embedder(ws, args.dataset), EMBEDDING_KIND, "--embedder")
    config = config_from_options(CrossEncoderTrainConfig, args, base_model=args.base_model, embedder=embedder.path)
    return train_or_start(ws, args, JobKind.TRAIN_CROSS_ENCODER, config)


def run_rerank(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    embedder = model_of_kind(ws, args.embedder, EMBEDDING_KIND, "--embedder")
    cross_encoder = model_of_kind(ws, args.cross_encoder, MODEL_KIND, "--cross-encoder")
    part, note = part_to_report(ws, record.id, args.part)
    meter = announced_meter(ws, record.id, part, [embedder], [cross_encoder], "rerank", args.top_k, args.sample)
    labels = [embedder.label, *rerank_names(embedder.label, [cross_encoder])]
    with recording(
        ws, RETRIEVAL, record.id, part, labels, settings={"rerank_top_k": args.top_k, **sampled(args)}
    ) as kept:
        reports = rerank_and_save(
            ws,
            record.id,
            embedder,
            [cross_encoder],
            part,
            args.top_k,
            args.batch_size,
            on_phase=meter,
            sample=args.sample,
            on_saved=kept.add_report,
        )
    return {
        "dataset_id": record.id,
        "dataset": record.name,
        "part": part,
        "top_k": args.top_k,
        "queries": len(reports[0].per_query),
        "passages": reports[0].n_corpus,
        "models": {r.name: r.metrics for r in reports},
        **by_style(ws, record.id, reports),
        "reports": [r.report_id for r in reports],
        **timed(meter, embedder),
        **note,
    }


def default_embedder(ws: Workspace, dataset: str) -> str:
    """The newest embedding model fine-tuned on the dataset (it ranks the hard negatives best and its
    encoder already tells right from wrong), else the bundled one; said on stderr."""
    record = ws.resolve("datasets", dataset)
    trained = ws.newest_model_trained_on(record.id, EMBEDDING_KIND)
    if trained is None:
        return BASE
    print(
        f"embedder: {trained.name!r}, the newest embedding model fine-tuned on {record.name!r} "
        f"(--embedder {BASE} for the bundled one)",
        file=sys.stderr,
    )
    return trained.id


def model_of_kind(ws: Workspace, name: str, kind: str, option: str) -> ModelSpec:
    """model_spec, refusing a workspace model of the other kind (an embedder as a reranker or back)."""
    if name != BASE:
        try:
            record = ws.resolve("models", name)
        except WorkspaceError:
            record = None  # a folder or Hub id: model_spec passes it through
        if record is not None and record.kind != kind:
            raise UsageError(f"{option} {name!r} is a workspace {record.kind} model, not a {kind} model")
    return model_spec(ws, name)
