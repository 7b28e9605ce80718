"""Every comparison kept with its date, dataset, split and models, so that a new one never replaces
the last and a cancelled one is never mixed with another.

A comparison (one evaluation of retrievers, or one of router selectors, on one dataset part) is an
entry in the workspace's `comparisons/<id>.json` (`ComparisonEntry`, written atomically): written
as running when the work starts, given each result file's id as that file is saved, and closed as
complete, failed or cancelled. An entry still marked running whose job has ended takes the job's
state (a killed worker cannot close its entry). Results saved before comparisons were kept load as
entries of their own: each saved router comparison, and a dataset part's newest retrieval report
per model (what the Compare page showed then), marked `legacy`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from typing import Literal

import pydantic

from ..evaluation.retrieval import RetrievalReport, list_reports
from ..routing.compare import RouterComparison, compare_selectors, list_comparisons
from ..runs import ACTIVE_STATES, JobState
from ..store.files import read_json, write_json
from ..store.records import new_id
from ..store.workspace import Workspace, WorkspaceError

log = logging.getLogger(__name__)

RETRIEVAL, ROUTER = "retrieval", "router"
FOLDER = "comparisons"
LEGACY_PREFIX = "legacy-"  # the id of a part's retrieval reports from before history: legacy-<dataset id>-<part>
PART_NAMES = {
    "test": "test split (held out)",
    "val": "validation split",
    "train": "training split",
    "all": "all queries",
}


class EntryState(StrEnum):
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"  # its job stopped without closing it


class ComparisonEntry(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    id: str
    kind: Literal["retrieval", "router"]
    dataset_id: str
    part: str
    created: float
    models: list[str]  # the labels of the models asked for, in order
    state: EntryState = EntryState.RUNNING
    finished: float | None = None
    results: list[str] = []  # saved result files: retrieval report ids, or the router comparison's id
    run_id: str | None = None  # the job that made it; None from the CLI
    settings: dict = {}  # what else decides the numbers (rerankers, top k, sample...), for the report
    legacy: bool = False  # results saved before comparisons were kept (never written)

    @property
    def complete(self) -> bool:
        return self.state == EntryState.COMPLETE

    def describe(self) -> str:
        """ "2025-05-02 14:03 · validation split · 3 models", with its state when not complete."""
        words = [
            datetime.fromtimestamp(self.created).strftime("%Y-%m-%d %H:%M"),
            PART_NAMES.get(self.part, self.part),
            f"{len(self.models)} model{'s' * (len(self.models) != 1)}",
        ]
        if not self.complete:
            words.append(self.state.value.upper())
        if self.legacy:
            words.append("saved before comparisons were kept")
        return " · ".join(words)


ENTRY_SCHEMA = pydantic.TypeAdapter(ComparisonEntry)


class Recorder:
    """The entry of a comparison under way: `add` each result as it is saved."""

    def __init__(self, ws: Workspace, entry: ComparisonEntry):
        self.ws, self.entry = ws, entry
        save_entry(ws, entry)

    def add(self, result_id: str) -> None:
        self.entry = self.entry.model_copy(update={"results": [*self.entry.results, result_id]})
        save_entry(self.ws, self.entry)

    def add_report(self, report: RetrievalReport) -> None:
        self.add(report.report_id)

    def discard(self) -> None:
        (self.ws.dir(FOLDER) / f"{self.entry.id}.json").unlink(missing_ok=True)

    def close(self, state: EntryState) -> None:
        self.entry = self.entry.model_copy(update={"state": state, "finished": time.time()})
        save_entry(self.ws, self.entry)


@contextmanager
def recording(
    ws: Workspace,
    kind: str,
    dataset_id: str,
    part: str,
    models: list[str],
    run_id: str | None = None,
    settings: dict | None = None,
) -> Iterator[Recorder]:
    """Keep the comparison made inside the block: complete when it ends, failed on an error after a
    result was saved (before any, it is not kept), cancelled when the process is told to stop (a job's
    cancel exits through SystemExit, Ctrl-C is KeyboardInterrupt)."""
    recorder = Recorder(
        ws,
        ComparisonEntry(
            id=new_id("cmp"),
            kind=kind,
            dataset_id=dataset_id,
            part=part,
            created=time.time(),
            models=list(models),
            run_id=run_id,
            settings=settings or {},
        ),
    )
    try:
        yield recorder
    except Exception:
        if recorder.entry.results:
            recorder.close(EntryState.FAILED)
        else:  # refused or failed before any result: nothing was made, the history stays as it was
            recorder.discard()
        raise
    except BaseException:
        recorder.close(EntryState.CANCELLED)
        raise
    recorder.close(EntryState.COMPLETE)


def save_entry(ws: Workspace, entry: ComparisonEntry) -> None:
    write_json(ws.dir(FOLDER) / f"{entry.id}.json", entry.model_dump(mode="json", exclude={"legacy"}))


def history(ws: Workspace, dataset_id: str, part: str | None = None, kind: str | None = None) -> list[ComparisonEntry]:
    """The dataset's comparisons (of one part and kind when given), newest first, saved entries and
    the results saved before them; a file that cannot be read is left out with a warning."""
    entries = [_with_run_state(ws, e) for e in _saved_entries(ws) if e.dataset_id == dataset_id]
    entries += _legacy_entries(ws, dataset_id, entries)
    found = [e for e in entries if (part is None or e.part == part) and (kind is None or e.kind == kind)]
    return sorted(found, key=lambda e: e.created, reverse=True)


def find_entry(ws: Workspace, entry_id: str) -> ComparisonEntry:
    """The comparison `entry_id` (a saved entry's id, or a legacy one's as history lists it)."""
    for entry in _saved_entries(ws):
        if entry.id == entry_id:
            return _with_run_state(ws, entry)
    datasets = {c.dataset_id for c in list_comparisons(ws) if c.comparison_id == entry_id}
    if entry_id.startswith(LEGACY_PREFIX):
        datasets.add(entry_id.removeprefix(LEGACY_PREFIX).rpartition("-")[0])
    for dataset_id in datasets:
        for entry in history(ws, dataset_id):
            if entry.id == entry_id:
                return entry
    raise WorkspaceError(f"no comparison {entry_id!r} in this workspace")


def retrieval_reports(ws: Workspace, entry: ComparisonEntry) -> list[RetrievalReport]:
    """The reports of a retrieval comparison, in the order they were saved."""
    order = {report_id: index for index, report_id in enumerate(entry.results)}
    return sorted(
        (r for r in list_reports(ws, entry.dataset_id, entry.part) if r.report_id in order),
        key=lambda r: order[r.report_id],
    )


def router_comparison(ws: Workspace, entry: ComparisonEntry) -> RouterComparison | None:
    """The saved router comparison of an entry; None when it saved none (it was cancelled or failed)."""
    return next(
        (c for c in list_comparisons(ws, entry.dataset_id, entry.part) if c.comparison_id in entry.results), None
    )


def unreadable_entries(ws: Workspace) -> list[str]:
    """The kept comparisons that cannot be read (history leaves them out), each named with why."""
    return _read_entries(ws)[1]


def _saved_entries(ws: Workspace) -> list[ComparisonEntry]:
    entries, problems = _read_entries(ws)
    for problem in problems:
        log.warning("skipping unreadable %s", problem)
    return entries


def _read_entries(ws: Workspace) -> tuple[list[ComparisonEntry], list[str]]:
    entries, problems = [], []
    for path in sorted(ws.dir(FOLDER).glob("*.json")):
        try:
            entries.append(read_json(path, "comparison", ENTRY_SCHEMA))
        except (OSError, ValueError) as exc:
            problems.append(str(exc))
    return entries, problems


def _with_run_state(ws: Workspace, entry: ComparisonEntry) -> ComparisonEntry:
    """A running entry whose job has ended takes the job's state: its worker could not close it."""
    if entry.state != EntryState.RUNNING or entry.run_id is None:
        return entry
    try:
        run = ws.get_run(entry.run_id)
    except WorkspaceError:
        return entry
    if run.state in ACTIVE_STATES:
        return entry
    state = {
        JobState.SUCCEEDED: EntryState.COMPLETE,
        JobState.CANCELLED: EntryState.CANCELLED,
        JobState.FAILED: EntryState.FAILED,
    }.get(run.state, EntryState.INTERRUPTED)
    return entry.model_copy(update={"state": state, "finished": run.finished})


def _legacy_entries(ws: Workspace, dataset_id: str, entries: list[ComparisonEntry]) -> list[ComparisonEntry]:
    """Results saved before comparisons were kept, as entries: each router comparison no entry holds,
    and per part the newest retrieval report of each model that no entry holds, from before the first entry."""
    kept = {result for entry in entries for result in entry.results}
    first = min((e.created for e in _saved_entries(ws)), default=float("inf"))
    legacy = [
        ComparisonEntry(
            id=c.comparison_id,
            kind=ROUTER,
            dataset_id=dataset_id,
            part=c.part,
            created=c.created,
            models=[r.name for r in c.reports],
            state=EntryState.COMPLETE,
            results=[c.comparison_id],
            legacy=True,
        )
        for c in list_comparisons(ws, dataset_id)
        if c.comparison_id not in kept
    ]
    newest: dict[str, dict[str, RetrievalReport]] = {}
    for report in list_reports(ws, dataset_id):
        if report.report_id not in kept and report.created < first:
            newest.setdefault(report.part, {}).setdefault(report.name, report)
    for part, reports in newest.items():
        ordered = sorted(reports.values(), key=lambda r: r.created)
        legacy.append(
            ComparisonEntry(
                id=f"{LEGACY_PREFIX}{dataset_id}-{part}",
                kind=RETRIEVAL,
                dataset_id=dataset_id,
                part=part,
                created=ordered[-1].created,
                models=[r.name for r in ordered],
                state=EntryState.COMPLETE,
                results=[r.report_id for r in ordered],
                legacy=True,
            )
        )
    return legacy


def recorded_comparison(
    ws: Workspace, dataset_id: str, specs: list, part: str, on_phase=None, run_id: str | None = None
) -> RouterComparison:
    """routing.compare_selectors, kept in the history (the job's and the CLI's way to compare)."""
    with recording(ws, ROUTER, dataset_id, part, [spec.label for spec in specs], run_id) as record:
        comparison = compare_selectors(ws, dataset_id, specs, part, on_phase=on_phase)
        record.add(comparison.comparison_id)
    return comparison
