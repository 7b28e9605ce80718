"""`ragtune` (or `python -m ragtune_core`): the app's pipeline without the browser, on the same workspace.

Every subcommand prints a one-line JSON summary on stdout (under torchrun or accelerate launch, rank 0
alone: training.devices); bad input gets a message on stderr
and exit status 2, and leaves the workspace as it was. A command that did its work but whose
result holds a failure (a selector that failed on every query) prints its summary, the failure on
stderr, and exits with status 2 too. Waits for an LLM server ("retry 2/5 in 8 s") show on stderr.

A damaged workspace file (the catalogue, a corpus's JSONL, a run's status) is bad input too: a message
naming the file and status 2, never a traceback. Bad input is a RagtuneError (or an OSError naming a
file); any other exception is a bug in RAGTune: status 3, a line saying so and where it was raised
(RAGTUNE_DEBUG=1 adds the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import traceback
from pathlib import Path

from ..errors import RagtuneError, bug_message
from ..llm.client import report_waits
from ..store.models import prefer_offline
from ..store.workspace import CATALOGUE, Workspace
from ..training import devices
from . import corpus, cross_encoder, curation, datasets, evaluate, llm_tune, questions, report, route, router, train
from .errors import CommandFailed
from .progress import command_started

COMMAND_GROUPS = (
    corpus,
    questions,
    router,
    datasets,
    curation,
    train,
    cross_encoder,
    llm_tune,
    evaluate,
    route,
    report,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ragtune", description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", help="workspace folder (default: $RAGTUNE_WORKSPACE or ./workspace)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    command_started()
    args = build_parser().parse_args(argv)
    prefer_offline()
    try:
        with report_waits(lambda message: print(f"{args.command}: {message}", file=sys.stderr, flush=True)):
            # Under a distributed launcher rank 0 alone writes the workspace, the clean-up of killed processes too.
            summary = args.handler(args, Workspace(args.workspace, recover=devices.is_main_process()))
    except CommandFailed as exc:
        print(json.dumps(exc.summary, default=str))
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (RagtuneError, OSError) as exc:  # an OSError's message names the file the user gave
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:  # the workspace names its catalogue; this is the last line of defence
        print(f"error: the workspace catalogue {CATALOGUE} cannot be used: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        return _report_bug(exc)
    if summary is not None:  # None: a rank beside rank 0, whose summary is the one printed
        print(json.dumps(summary, default=str))
    return 0


def _report_bug(exc: Exception) -> int:
    """Exit status 3 with one line saying it is a bug and where it was raised, which a report needs and
    a user can copy; the whole traceback only with RAGTUNE_DEBUG=1."""
    if os.environ.get("RAGTUNE_DEBUG"):
        traceback.print_exception(exc, file=sys.stderr)
    frame = traceback.extract_tb(exc.__traceback__)[-1]
    print(
        f"error: {bug_message(exc)} (raised in {Path(frame.filename).name}:{frame.lineno}, {frame.name}; "
        "RAGTUNE_DEBUG=1 shows the traceback)",
        file=sys.stderr,
    )
    return 3
