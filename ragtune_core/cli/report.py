"""`report`: one comparison as a self-contained HTML file to share (reporting.report): the dataset's
latest comparison, or the one `--run` names."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..reporting.history import ComparisonEntry, history
from ..reporting.report import render_report
from ..store.files import atomic_write_text
from ..store.workspace import Workspace
from .errors import UsageError


def register(subparsers) -> None:
    report = subparsers.add_parser("report", help="one comparison as a self-contained HTML file (opens offline)")
    report.add_argument("dataset", metavar="DATASET", help="dataset id or name")
    report.add_argument("--out", required=True, metavar="FILE.html", help="the HTML file to write")
    report.add_argument(
        "--run",
        metavar="ID",
        help="the comparison's id, or the id of the job that made it (default: the dataset's latest comparison)",
    )
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace, ws: Workspace) -> dict:
    record = ws.resolve("datasets", args.dataset)
    out = Path(args.out)
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out {args.out!r}: the report is HTML, name a .html file")
    if not out.parent.is_dir():
        raise UsageError(f"--out {args.out!r}: the folder {str(out.parent)!r} does not exist")
    entry = chosen_comparison(ws, record.id, record.name, args.run)
    atomic_write_text(out, render_report(ws, entry))
    return {
        "report": str(out),
        "dataset_id": record.id,
        "dataset": record.name,
        "comparison": entry.id,
        "kind": entry.kind,
        "part": entry.part,
        "state": entry.state.value,
        "models": entry.models,
    }


def chosen_comparison(ws: Workspace, dataset_id: str, dataset_name: str, run: str | None) -> ComparisonEntry:
    """The dataset's comparison named by `run` (its id or its job's), else its latest."""
    entries = history(ws, dataset_id)
    if not entries:
        raise UsageError(
            f"dataset {dataset_name!r} has no comparison yet: run `ragtune evaluate` or "
            "`ragtune compare-selectors` on it first"
        )
    if run is None:
        return entries[0]
    for entry in entries:
        if run in (entry.id, entry.run_id):
            return entry
    known = ", ".join(e.id for e in entries[:5])
    raise UsageError(f"--run {run!r} is no comparison of dataset {dataset_name!r} (its latest: {known})")
