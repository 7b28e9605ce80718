"""`queue` and `versions`: the questions of a dataset worth a person's look, and its versions.

`queue DATASET` ranks the questions by their reasons (questions/queue.py), each with its candidates'
scores by every scorer (routing/queue_scores.py); `versions DATASET` lists the versions of a dataset
with what each changed from the one before (questions/versions.py).
"""

from __future__ import annotations

import argparse

from ..questions.versions import changes_of, versions_of
from ..routing.queue_scores import curation_queue
from ..store import Workspace


def register(subparsers) -> None:
    queue = subparsers.add_parser(
        "queue",
        help="the questions of a dataset worth a person's look, ranked, each "
        "with its reasons and its candidates' scores",
    )
    queue.add_argument("dataset", metavar="DATASET", help="dataset id or name")
    queue.add_argument("--limit", type=int, help="at most this many questions (default: every flagged one)")
    queue.add_argument(
        "--no-base",
        dest="base",
        action="store_false",
        help="leave the bundled base embedding model out of the scorers (quicker)",
    )
    queue.set_defaults(handler=queue_command)

    versions = subparsers.add_parser("versions", help="the versions of a dataset and what each changed")
    versions.add_argument("dataset", metavar="DATASET", help="dataset id or name (any of its versions)")
    versions.set_defaults(handler=versions_command)


def queue_command(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    items, scorers = curation_queue(ws, record.id, base=args.base, limit=args.limit)
    return {
        "dataset_id": record.id,
        "name": record.name,
        "scorers": scorers,
        "flagged": len(items),
        "queue": [item.to_dict() for item in items],
    }


def versions_command(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    trained = {}
    for model in ws.list_models():
        trained.setdefault(model.dataset_id, []).append(model.name)
    return {
        "versions": [
            {
                "dataset_id": d.id,
                "name": d.name,
                "version": d.params.get("version", 1),
                "parent": d.params.get("parent"),
                "queries": d.n_queries,
                "created": d.created,
                "changes": changes.counts() if (changes := changes_of(d)) else None,
                "changed": changes.describe() if changes else "first version",
                "trained_models": trained.get(d.id, []),
            }
            for d in versions_of(ws, record.id)
        ]
    }
