"""`import-dataset`, `export-dataset`, `split`, `datasets` and `delete-dataset`: question datasets in and out
of the workspace.

Files are LlamaIndex `EmbeddingQAFinetuneDataset` JSON, or for `import-dataset` also an evidence-phrase
set (hand-written questions, each with a phrase of its right passage: questions/evidence.py), matched
against --corpus into an evaluation-only dataset; a dataset argument is an id or a name.
"""

from __future__ import annotations

import argparse
from contextlib import contextmanager
from pathlib import Path

from ..corpus import load_chunks
from ..questions import (
    SPLIT_MODES,
    TEST,
    TRAIN,
    VAL,
    DatasetError,
    QADataset,
    load_dataset,
    plan_split,
    save_dataset,
    update_dataset,
)
from ..questions.evidence import import_evidence_set, is_evidence_file, parse_evidence_set
from ..questions.import_kind import GUESS, IMPORT_KINDS, refuse_router_evidence, resolve_kind
from ..questions.router.tools import RoutingError
from ..store import Workspace
from ..store.files import parse_json
from .errors import UsageError
from .questions import add_test_ratio_flag, split_counts


def register(subparsers) -> None:
    imports = subparsers.add_parser(
        "import-dataset",
        help="add a LlamaIndex QA dataset JSON file, or an evidence-phrase evaluation set, to the workspace",
    )
    imports.add_argument("file", type=Path, metavar="FILE")
    imports.add_argument("--name", required=True, help="name of the new dataset")
    imports.add_argument(
        "--corpus",
        help="corpus (id or name) whose chunks the passages are; checked and linked. "
        'Required for an evidence-phrase set ({"questions": [{"id", '
        '"question", "evidence", ...}]}): its chunks holding a question\'s '
        "phrase are its right passages",
    )
    imports.add_argument(
        "--kind",
        choices=IMPORT_KINDS,
        default=GUESS,
        help="qa: passages are chunks; router: passages are tools, queries labelled with the right "
        "one; guess (default): as the file says (ragtune.kind), else guessed from the passage "
        "ids. A kind that contradicts the file's is refused",
    )
    imports.set_defaults(handler=import_dataset)

    export = subparsers.add_parser("export-dataset", help="write a dataset as LlamaIndex QA dataset JSON")
    export.add_argument("dataset", metavar="DATASET", help="dataset id or name")
    export.add_argument("--part", choices=(TRAIN, VAL, TEST), help="only this split part's questions (default: all)")
    export.add_argument(
        "--llama-index",
        action="store_true",
        help="only LlamaIndex's four keys, without RAGTune's extras (split, documents)",
    )
    export.add_argument("--out", required=True, type=Path, metavar="FILE")
    export.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    export.set_defaults(handler=export_dataset)

    split = subparsers.add_parser("split", help="(re)split a dataset into train, validation and test questions")
    split.add_argument("dataset", metavar="DATASET", help="dataset id or name")
    split.add_argument(
        "--by",
        choices=SPLIT_MODES,
        default="document",
        help="document: validation documents are never trained on (default); query: shuffle questions",
    )
    split.add_argument("--val-ratio", type=float, default=0.2, help="share for validation (default 0.2)")
    add_test_ratio_flag(split)
    split.add_argument("--seed", type=int, default=42)
    split.set_defaults(handler=split_command)

    listing = subparsers.add_parser("datasets", help="list the datasets")
    listing.set_defaults(handler=list_datasets)

    delete = subparsers.add_parser("delete-dataset", help="delete a dataset (models trained on it and reports stay)")
    delete.add_argument("dataset", metavar="DATASET", help="dataset id or name")
    delete.set_defaults(handler=delete_dataset)


def import_dataset(args: argparse.Namespace, ws: Workspace) -> dict:
    if not args.file.is_file():
        raise UsageError(f"no such file: {args.file}")
    data = parse_json(args.file.read_bytes(), args.file.name, error=DatasetError)
    if is_evidence_file(data):
        return import_evidence(args, ws, data)
    dataset = QADataset.from_json_dict(data, args.file.name)  # checked at the door: errors name the file, the key
    imported = resolve_kind(data, dataset, args.kind, args.file.name)
    dataset = imported.dataset
    corpus_id = _link_corpus(ws, dataset, args.corpus, args.file.name) if args.corpus else None
    record = save_dataset(ws, args.name, dataset, corpus_id, {"imported": args.file.name})
    return {
        "dataset_id": record.id,
        "name": record.name,
        "kind": dataset.kind,
        "kind_guessed": imported.guessed,
        "kind_note": imported.note,
        "queries": record.n_queries,
        "passages": len(dataset.corpus),
        "corpus_id": corpus_id,
        **split_counts(dataset),
    }


def import_evidence(args: argparse.Namespace, ws: Workspace, data) -> dict:
    """An evidence-phrase set as an evaluation-only QA dataset over --corpus: how many questions a
    chunk holds the phrase of, how many were left out (with examples) and the styles."""
    refuse_router_evidence(args.kind, args.file.name)
    evidence = parse_evidence_set(data, args.file.name)
    record, match = import_evidence_set(ws, evidence, args.name, args.corpus, args.file.name)
    return {
        "dataset_id": record.id,
        "name": record.name,
        "kind": "qa",
        "evaluation_only": True,
        "queries": record.n_queries,
        "passages": len(match.dataset.corpus),
        "corpus_id": record.corpus_id,
        **match.summary(),
    }


def export_dataset(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    if args.out.is_dir():
        raise UsageError(f"{args.out} is a folder; give a file name")
    if args.out.exists() and not args.force:
        raise UsageError(f"{args.out} already exists; pass --force to overwrite it")
    with _naming(f"dataset {record.name!r}"):
        dataset = load_dataset(ws, record.id).subset(args.part)
    dataset.save(args.out, llama_index_only=args.llama_index)
    return {
        "dataset_id": record.id,
        "name": record.name,
        "out": str(args.out),
        "part": args.part or "all",
        "queries": len(dataset.queries),
        "passages": len(dataset.corpus),
        "format": "llama-index" if args.llama_index else "llama-index+ragtune",
    }


def split_command(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    dataset = load_dataset(ws, record.id)
    with _naming(f"dataset {record.name!r}"):
        split = plan_split(dataset, args.val_ratio, args.by, args.seed, args.test_ratio)
    dataset.split = split.parts
    params = {"split_by": split.by, "val_ratio": args.val_ratio, "test_ratio": args.test_ratio, "seed": args.seed}
    update_dataset(ws, record.id, dataset, params)
    return {
        "dataset_id": record.id,
        "name": record.name,
        "by": split.by,
        "val_ratio": args.val_ratio,
        "test_ratio": args.test_ratio,
        "seed": args.seed,
        **split_counts(dataset),
        **({"note": split.note} if split.note else {}),
    }


def list_datasets(args: argparse.Namespace, ws: Workspace) -> dict:
    return {
        "datasets": [
            {
                "id": d.id,
                "name": d.name,
                "kind": d.kind,
                "queries": d.n_queries,
                "corpus_id": d.corpus_id,
                "created": d.created,
                "params": d.params,
            }
            for d in ws.list_datasets()
        ]
    }


def delete_dataset(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    ws.delete_dataset(record.id)
    return {"deleted_dataset_id": record.id, "name": record.name}


def _link_corpus(ws: Workspace, dataset: QADataset, corpus: str, file_name: str) -> str:
    """Check every passage is a chunk of the corpus and fill in which document each passage is from."""
    record = ws.resolve("corpora", corpus)
    doc_of_chunk = {c.chunk_id: c.doc_id for c in load_chunks(ws, record.id)}
    strangers = [pid for pid in dataset.corpus if pid not in doc_of_chunk]
    if strangers:
        raise DatasetError(
            f"{file_name}: {len(strangers)} passages are not chunks of corpus {record.name!r}, "
            f"e.g. {strangers[:3]}; import without --corpus"
        )
    dataset.passage_docs = {pid: dataset.passage_docs.get(pid) or doc_of_chunk[pid] for pid in dataset.corpus}
    return record.id


@contextmanager
def _naming(subject: str):
    """Make a DatasetError or RoutingError say which file or dataset it is about."""
    try:
        yield
    except (DatasetError, RoutingError) as exc:
        if subject in str(exc):
            raise
        raise type(exc)(f"{subject}: {exc}") from exc
