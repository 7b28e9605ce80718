"""The workspace: a folder holding everything a user makes, with a SQLite catalogue of it.

Files hold the data (corpora as JSONL, datasets as JSON, runs' logs, models); the catalogue lists
them with names, parameters and metrics so pages, the CLI and workers all see the same state.

Every save is one transaction, whoever else saves at the same time and whenever the process dies:

1. reserve: the record's row goes in first, *pending* (its `writer` column names the process
   writing it); the UNIQUE name decides between two savers, and the loser has written nothing;
2. write: the files go to a hidden temporary folder (`.<id>.xxxxxxxx.partial`), flushed to disk;
3. rename the folder into place, then commit (the row's writer is cleared: the record is complete).

A failure rolls back (folders, then row). Listings and look-ups show complete records only. What a
killed process leaves (pending rows whose writer is gone, their folders, folders no row owns,
temporary files of dead writers, `.partial` folders of dead trainings) is removed by `recover`,
which runs when a Workspace is opened. Model names are reserved the same way for the whole length
of a training (`reserve_model`, then `commit_model` or `release_model`).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

from ..runs import JobState
from .files import conform, publish_folder, read_json
from .model_catalogue import ModelCatalogue
from .records import (JSON_COLUMNS, CorpusRecord, DatasetRecord, ModelRecord, RunRecord, WorkspaceError, check_name,
                      new_id)
from .recovery import (MODEL_PARTIAL, PARTIAL, RECORD_PARTIAL, RESERVED_TABLES, entries, process_identity, recover,
                       writer_alive)

__all__ = ["Workspace", "WorkspaceError", "CorpusRecord", "DatasetRecord", "RunRecord", "ModelRecord", "check_name",
           "new_id", "process_identity", "load_saved_results", "CATALOGUE", "DEFAULT_WORKSPACE"]

DEFAULT_WORKSPACE = "workspace"
CATALOGUE = "catalogue.sqlite"
T = TypeVar("T")
log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS corpora (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, created REAL NOT NULL,
    params TEXT NOT NULL, n_documents INTEGER NOT NULL, n_chunks INTEGER NOT NULL, writer TEXT);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, created REAL NOT NULL, kind TEXT NOT NULL,
    corpus_id TEXT, params TEXT NOT NULL, n_queries INTEGER NOT NULL, writer TEXT);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, created REAL NOT NULL,
    finished REAL, state TEXT NOT NULL, dataset_id TEXT, params TEXT NOT NULL, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, kind TEXT NOT NULL, created REAL NOT NULL,
    path TEXT NOT NULL, base_model TEXT NOT NULL, run_id TEXT, metrics TEXT NOT NULL, writer TEXT, dataset_id TEXT);
"""
# Columns newer than the first catalogues: added to an older one when it is opened.
_ADDED_COLUMNS = [*((table, "writer") for table in RESERVED_TABLES), ("models", "dataset_id")]



_RECORDS = {"corpora": CorpusRecord, "datasets": DatasetRecord, "runs": RunRecord, "models": ModelRecord}
_FIELDS = {table: [f.name for f in fields(cls)] for table, cls in _RECORDS.items()}
_SINGULAR = {"corpora": "corpus", "datasets": "dataset", "runs": "run", "models": "model"}


class Workspace(ModelCatalogue):
    def __init__(self, root: str | Path | None = None, recover: bool = True):
        """Open (or create) the workspace at `root`; with `recover` (the app and the CLI; a job's
        worker opens it without) what killed processes left behind is cleaned up first."""
        self.root = Path(root or os.environ.get("RAGTUNE_WORKSPACE") or DEFAULT_WORKSPACE).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / CATALOGUE
        fresh = not self.db_path.exists() or self.db_path.stat().st_size == 0
        self._create_schema()
        if recover:
            # A catalogue made just now lists nothing: the folders beside it are not orphans but the
            # data of a lost catalogue, and are kept.
            self.recover(orphans=not fresh)

    # the catalogue -----------------------------------------------------------------------------
    @contextmanager
    def _connect(self):
        """A connection in a transaction (committed at the end); an unreadable catalogue is a
        WorkspaceError naming it, never a bare sqlite3 error."""
        try:
            conn = sqlite3.connect(self.db_path, timeout=30)
        except sqlite3.Error as exc:
            raise self._catalogue_error(exc) from exc
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            with conn:
                yield conn
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # a duplicate name, or a bug: not damage
        except sqlite3.DatabaseError as exc:
            raise self._catalogue_error(exc) from exc
        finally:
            conn.close()

    def _catalogue_error(self, exc: sqlite3.Error) -> WorkspaceError:
        if isinstance(exc, sqlite3.OperationalError):
            return WorkspaceError(f"the workspace catalogue {CATALOGUE} in {self.root} could not be used: {exc}")
        return WorkspaceError(f"the workspace catalogue {CATALOGUE} in {self.root} is damaged ({exc}); "
                              "restore it from a backup or start a new workspace")

    def _create_schema(self) -> None:
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
            missing = [(t, c) for t, c in _ADDED_COLUMNS if c not in self._columns(conn, t)]
        if missing:  # a catalogue of an older version: every row it has is complete
            with self._connect() as conn:
                conn.execute("BEGIN IMMEDIATE")  # two processes opening it at once migrate it once
                for table, column in missing:
                    if column not in self._columns(conn, table):
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

    @staticmethod
    def _columns(conn, table: str) -> set[str]:
        return {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}

    def dir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    # generic catalogue access -------------------------------------------------------------
    def _insert(self, table: str, record, writer: dict | None = None) -> None:
        values = {k: json.dumps(v) if k in JSON_COLUMNS else v for k, v in vars(record).items()}
        if table in RESERVED_TABLES:
            values["writer"] = json.dumps(writer) if writer else None
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._connect() as conn:
            conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(values.values()))

    def _update(self, table: str, record_id: str, **fields) -> None:
        values = {k: json.dumps(v) if k in JSON_COLUMNS else v for k, v in fields.items()}
        assignments = ", ".join(f"{k} = ?" for k in values)
        complete = " AND writer IS NULL" if table in RESERVED_TABLES else ""
        with self._connect() as conn:
            cur = conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?{complete}",
                               [*values.values(), record_id])
        if cur.rowcount == 0:
            raise WorkspaceError(f"no {_SINGULAR[table]} with id {record_id!r}")

    def _rows(self, table: str, condition: str = "", args: tuple = (), pending: bool = False) -> list[sqlite3.Row]:
        """Rows of `table` matching `condition`, newest first: complete records only unless `pending`."""
        conditions = [c for c in (condition, "" if pending or table not in RESERVED_TABLES else "writer IS NULL") if c]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        with self._connect() as conn:
            return conn.execute(f"SELECT * FROM {table} {where} ORDER BY created DESC", args).fetchall()

    def _list(self, table: str, condition: str = "", args: tuple = ()) -> list:
        return [self._record(table, row) for row in self._rows(table, condition, args)]

    def _get(self, table: str, record_id: str):
        found = self._list(table, "id = ?", (record_id,))
        if not found:
            raise WorkspaceError(f"no {_SINGULAR[table]} with id {record_id!r}")
        return found[0]

    def _find_by_name(self, table: str, name: str):
        found = self._list(table, "name = ?", (name,))
        return found[0] if found else None

    def _record(self, table: str, row: sqlite3.Row):
        try:
            data = {k: json.loads(row[k]) if k in JSON_COLUMNS else row[k] for k in _FIELDS[table]}
        except (ValueError, TypeError, IndexError) as exc:
            raise WorkspaceError(f"the workspace catalogue {CATALOGUE} in {self.root} is damaged: "
                                 f"{_SINGULAR[table]} {row['id']!r} cannot be read ({exc})") from exc
        return _RECORDS[table](**data)

    def resolve(self, table: str, id_or_name: str):
        """Look a record up by id, or else by name (what a CLI user types)."""
        by_name = self._find_by_name(table, id_or_name)
        return by_name or self._get(table, id_or_name)

    # saving: reserve, write, rename, commit --------------------------------------------------
    def add(self, table: str, record, write_files: Callable[[Path], None]) -> None:
        """Save a new record: its row is reserved first (a name already taken is refused before
        anything is written), `write_files(folder)` fills a temporary folder, which is flushed and
        renamed into place, and the row is then marked complete. A failure, or a kill at any point,
        leaves neither folder nor row (a kill's leftovers are removed by `recover`)."""
        writer = process_identity()
        self._reserve(table, record, writer)
        final = self.root / table / record.id
        work = None
        try:
            work = Path(tempfile.mkdtemp(prefix=f".{record.id}.", suffix=PARTIAL, dir=self.dir(table)))
            write_files(work)
            publish_folder(work, final)
            work = None
            self._commit(table, record.id)
        except BaseException:
            # `final` is named by this record's unique id: no other save can own it.
            self._roll_back(table, record.id, extra=[p for p in (work, final) if p])
            raise

    def _reserve(self, table: str, record, writer: dict | None) -> None:
        """Insert `record` as pending; the UNIQUE name decides between concurrent savers. A name held
        by a pending row whose writer died is freed first."""
        for attempt in range(2):
            try:
                self._insert(table, record, writer)
                return
            except sqlite3.IntegrityError:
                if attempt == 0 and self._clear_stale(table, record.name):
                    continue
                raise WorkspaceError(self._taken_message(table, record.name)) from None

    def _commit(self, table: str, record_id: str, **fields) -> None:
        """Mark a reserved record complete (with `fields` updated)."""
        values = {k: json.dumps(v) if k in JSON_COLUMNS else v for k, v in fields.items()}
        assignments = "".join(f", {k} = ?" for k in values)
        with self._connect() as conn:
            cur = conn.execute(f"UPDATE {table} SET writer = NULL{assignments} WHERE id = ? AND writer IS NOT NULL",
                               [*values.values(), record_id])
        if cur.rowcount == 0:
            raise WorkspaceError(f"the {_SINGULAR[table]} {record_id!r} was no longer reserved when it was "
                                 "complete (another process took its writer for dead); save it again")

    def _roll_back(self, table: str, record_id: str, extra: list[Path] = (), writer: str | None = None) -> None:
        """Remove a pending record: its folders (and `extra`) first, then its row. A complete
        record is never touched, nor, with `writer`, one that another process holds now."""
        with self._connect() as conn:
            row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (record_id,)).fetchone()
        if row is not None and (row["writer"] is None or (writer is not None and row["writer"] != writer)):
            return
        for folder in [*extra, *(self._folders_of(table, row) if row is not None else [])]:
            shutil.rmtree(folder, ignore_errors=True)
        if row is not None:
            with self._connect() as conn:
                conn.execute(f"DELETE FROM {table} WHERE id = ? AND writer = ?", (record_id, row["writer"]))

    def _folders_of(self, table: str, row: sqlite3.Row) -> list[Path]:
        """Where a pending record's files may be: its folder and its temporary folders."""
        if table == "models":
            models = self.root / "models"
            folder = Path(row["path"]).name  # under this workspace's models/, wherever the path says
            partials = [p for p in entries(models) if (m := MODEL_PARTIAL.match(p.name)) and m["folder"] == folder]
            return [models / folder, *partials]
        parent = self.root / table
        partials = [p for p in entries(parent) if (m := RECORD_PARTIAL.match(p.name)) and m["id"] == row["id"]]
        return [parent / row["id"], *partials]

    def _clear_stale(self, table: str, name: str) -> bool:
        """Roll back the pending record named `name` if its writer is gone; whether one was."""
        with self._connect() as conn:
            row = conn.execute(f"SELECT id, writer FROM {table} WHERE name = ?", (name,)).fetchone()
        if row is None or row["writer"] is None or writer_alive(row["writer"]):
            return False
        self._roll_back(table, row["id"], writer=row["writer"])
        return True

    def _taken_message(self, table: str, name: str) -> str:
        """Why `name` cannot be used in `table`: a complete record has it, or a save holds it."""
        with self._connect() as conn:
            row = conn.execute(f"SELECT * FROM {table} WHERE name = ?", (name,)).fetchone()
        what = _SINGULAR[table]
        if row is None or row["writer"] is None:
            return f"a {what} named {name!r} already exists"
        if table == "models" and row["run_id"]:
            return (f"a {what} named {name!r} already exists: run {row['run_id']}{self._run_label(row['run_id'])} "
                    "is training it; pick another name, or cancel that run")
        try:
            pid = json.loads(row["writer"])["pid"]
        except (ValueError, KeyError, TypeError):
            pid = "?"
        doing = "training" if table == "models" else "saving"
        return f"a {what} named {name!r} already exists: process {pid} is {doing} it"

    def _run_label(self, run_id: str) -> str:
        with self._connect() as conn:
            run = conn.execute("SELECT name, state FROM runs WHERE id = ?", (run_id,)).fetchone()
        return f" ({run['name']!r}, {run['state']})" if run else ""

    def recover(self, orphans: bool = True) -> list[str]:
        """Remove what killed processes left (see `store.recovery`); the paths and rows removed."""
        return recover(self, orphans)

    # corpora -------------------------------------------------------------------------------
    def list_corpora(self) -> list[CorpusRecord]:
        return self._list("corpora")

    def get_corpus(self, corpus_id: str) -> CorpusRecord:
        return self._get("corpora", corpus_id)

    def corpus_dir(self, corpus_id: str) -> Path:
        return self.root / "corpora" / corpus_id

    def corpus_dependants(self, corpus_id: str) -> list[str]:
        """What still needs the corpus's documents and chunks, each with why: router datasets made
        from it (their tools run on its documents), generation runs still running, and drafts not yet
        accepted (their review shows its passages). Question datasets carry their passages: not listed."""
        with self._connect() as conn:
            return self._dependants(conn, corpus_id)

    def _dependants(self, conn, corpus_id: str) -> list[str]:
        found = [f"router dataset {row['name']!r} (its tools run on the corpus's documents)" for row in
                 conn.execute("SELECT name FROM datasets WHERE corpus_id = ? AND kind = 'router' ORDER BY created",
                              (corpus_id,))]
        for row in conn.execute("SELECT * FROM runs WHERE state IN ('queued', 'running', 'succeeded') ORDER BY created"):
            run = self._record("runs", row)
            if run.params.get("corpus_id") != corpus_id or run.result.get("accepted_dataset_id"):
                continue
            if run.state != JobState.SUCCEEDED:
                found.append(f"{run.state} run {run.name!r} ({run.id})")
            elif run.result.get("draft"):
                found.append(f"the draft of run {run.name!r} ({run.id}), not accepted yet")
        return found

    def delete_corpus(self, corpus_id: str) -> None:
        """Delete a corpus and its files; refused (WorkspaceError listing them) while anything
        needs it (`corpus_dependants`): those would be left unable to run or show."""
        record = self._get("corpora", corpus_id)
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # no dataset or run can start using it meanwhile
            dependants = self._dependants(conn, corpus_id)
            if dependants:
                raise WorkspaceError(f"corpus {record.name!r} is still needed by {'; '.join(dependants)}. Delete or "
                                     "accept those first (a dataset: `ragtune delete-dataset`), or keep the corpus")
            conn.execute("DELETE FROM corpora WHERE id = ?", (corpus_id,))
        shutil.rmtree(self.corpus_dir(corpus_id), ignore_errors=True)

    # datasets ------------------------------------------------------------------------------
    def update_dataset_record(self, dataset_id: str, n_queries: int, params: dict | None = None) -> DatasetRecord:
        """A dataset's new query count, with `params` merged into its parameters."""
        record = self._get("datasets", dataset_id)
        self._update("datasets", dataset_id, n_queries=n_queries, params={**record.params, **(params or {})})
        return self._get("datasets", dataset_id)

    def dataset_path(self, dataset_id: str) -> Path:
        return self.root / "datasets" / dataset_id / "dataset.json"

    def list_datasets(self, kind: str | None = None) -> list[DatasetRecord]:
        return self._list("datasets", "kind = ?", (kind,)) if kind else self._list("datasets")

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        return self._get("datasets", dataset_id)

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset and its file; refused while a queued or running job uses it. Models
        trained on it and saved reports stay."""
        record = self._get("datasets", dataset_id)
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            busy = conn.execute("SELECT name FROM runs WHERE dataset_id = ? AND state IN ('queued', 'running')",
                                (dataset_id,)).fetchall()
            if busy:
                raise WorkspaceError(f"dataset {record.name!r} is in use by the job {busy[0]['name']!r}; "
                                     "wait for it or cancel it first")
            conn.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
        shutil.rmtree(self.root / "datasets" / dataset_id, ignore_errors=True)

    # runs ----------------------------------------------------------------------------------
    def create_run(self, kind: str, name: str, params: dict, dataset_id: str | None = None,
                   run_id: str | None = None) -> RunRecord:
        """A new queued run (with `run_id` when the caller chose it) and its folder, in that order."""
        record = RunRecord(run_id or new_id("run"), name, kind, time.time(), None, JobState.QUEUED, dataset_id,
                           params, {})
        self._insert("runs", record)
        self.dir("runs", record.id)
        return record

    def update_run(self, run_id: str, **fields) -> None:
        self._update("runs", run_id, **fields)

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def list_runs(self, kind: str | None = None) -> list[RunRecord]:
        return self._list("runs", "kind = ?", (kind,)) if kind else self._list("runs")

    def get_run(self, run_id: str) -> RunRecord:
        return self._get("runs", run_id)


def load_saved_results(folder: Path, parse: Callable[[dict], T], log: logging.Logger, what: str,
                       dataset_id: str | None = None, part: str | None = None, schema: object = None) -> list[T]:
    """The saved results (objects with dataset_id, part and created) in `folder`'s *.json files, of
    `dataset_id` and `part` when given, newest first. Each file is checked against `schema` (its
    dataclass) before `parse` reads it; one that does not fit is skipped with a warning on `log`
    naming the file, the key and what was expected (`unreadable_results` lists them for a page)."""
    loaded, problems = _read_results(folder, parse, what, schema)
    for problem in problems:
        log.warning("skipping unreadable %s", problem)
    found = [r for r in loaded if (dataset_id is None or r.dataset_id == dataset_id) and (part is None or r.part == part)]
    return sorted(found, key=lambda r: r.created, reverse=True)


def unreadable_results(folder: Path, parse: Callable[[dict], T], what: str, schema: object = None) -> list[str]:
    """What load_saved_results skips in `folder`: one message naming the file and why, per file."""
    return _read_results(folder, parse, what, schema)[1]


def _read_results(folder: Path, parse: Callable[[dict], T], what: str, schema: object) -> tuple[list[T], list[str]]:
    loaded, problems = [], []
    for path in sorted(folder.glob("*.json")):
        try:
            data = read_json(path, what)
            if schema is not None:
                conform(data, schema, f"{what} {path.name}")
            loaded.append(parse(data))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            problems.append(str(exc) if path.name in str(exc) else f"{what} {path.name}: {exc}")
    return loaded, problems
