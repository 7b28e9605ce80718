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
import re
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar

import psutil

from .files import fsync_dir, fsync_tree, is_stray_temp_file, read_json

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
    path TEXT NOT NULL, base_model TEXT NOT NULL, run_id TEXT, metrics TEXT NOT NULL, writer TEXT);
"""
# Tables whose rows are reserved before their files exist: `writer` is NULL once a record is complete,
# and otherwise the JSON identity ({"pid", "started"}) of the process writing it.
_RESERVED_TABLES = ("corpora", "datasets", "models")
_PARTIAL = ".partial"
_ID_FOLDER = re.compile(r"^(corpus|dataset|run)-\d{8}-\d{6}-[0-9a-f]{6}$")
_RECORD_PARTIAL = re.compile(r"^\.(?P<id>[a-z]+-\d{8}-\d{6}-[0-9a-f]{6})\.[a-z0-9_]{8}\.partial$")
# training.fit_and_publish trains in tempfile.mkdtemp(prefix=".<folder>-", suffix=".partial")
_MODEL_PARTIAL = re.compile(r"^\.(?P<folder>.+)-[a-z0-9_]{8}\.partial$")


class WorkspaceError(ValueError):
    """A request the workspace refuses (unknown id, duplicate name, damaged catalogue); nothing was changed."""


@dataclass
class CorpusRecord:
    id: str
    name: str
    created: float
    params: dict
    n_documents: int
    n_chunks: int


@dataclass
class DatasetRecord:
    id: str
    name: str
    created: float
    kind: str
    corpus_id: str | None
    params: dict
    n_queries: int


@dataclass
class RunRecord:
    id: str
    name: str
    kind: str
    created: float
    finished: float | None
    state: str
    dataset_id: str | None
    params: dict
    result: dict


@dataclass
class ModelRecord:
    id: str
    name: str
    kind: str  # "embedding" | "cross_encoder" | "llm" (a fine-tuned LLM: its folder holds llm_model.json)
    created: float
    path: str
    base_model: str
    run_id: str | None
    metrics: dict = field(default_factory=dict)


_RECORDS = {"corpora": CorpusRecord, "datasets": DatasetRecord, "runs": RunRecord, "models": ModelRecord}
_FIELDS = {table: [f.name for f in fields(cls)] for table, cls in _RECORDS.items()}
_JSON_COLUMNS = {"params", "result", "metrics"}
_SINGULAR = {"corpora": "corpus", "datasets": "dataset", "runs": "run", "models": "model"}


def new_id(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def process_identity(pid: int | None = None) -> dict | None:
    """Who a process is: its id and start time (a later process reusing the id has another)."""
    try:
        proc = psutil.Process(pid or os.getpid())
        return {"pid": proc.pid, "started": proc.create_time()}
    except psutil.NoSuchProcess:
        return None


def process_alive(identity: dict | None) -> bool:
    """Whether the process `identity` names still runs (a zombie has stopped)."""
    try:
        proc = psutil.Process(identity["pid"])
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return abs(proc.create_time() - identity["started"]) < 0.01
    except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError, TypeError, ValueError):
        return False


def _writer_alive(writer: str | None) -> bool:
    try:
        return process_alive(json.loads(writer)) if writer else False
    except ValueError:
        return False


class Workspace:
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
            missing = [t for t in _RESERVED_TABLES if "writer" not in self._columns(conn, t)]
        if missing:  # a catalogue of an older version: every row it has is complete
            with self._connect() as conn:
                conn.execute("BEGIN IMMEDIATE")  # two processes opening it at once migrate it once
                for table in missing:
                    if "writer" not in self._columns(conn, table):
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN writer TEXT")

    @staticmethod
    def _columns(conn, table: str) -> set[str]:
        return {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}

    def dir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    # generic catalogue access -------------------------------------------------------------
    def _insert(self, table: str, record, writer: dict | None = None) -> None:
        values = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in vars(record).items()}
        if table in _RESERVED_TABLES:
            values["writer"] = json.dumps(writer) if writer else None
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._connect() as conn:
            conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(values.values()))

    def _update(self, table: str, record_id: str, **fields) -> None:
        values = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in fields.items()}
        assignments = ", ".join(f"{k} = ?" for k in values)
        complete = " AND writer IS NULL" if table in _RESERVED_TABLES else ""
        with self._connect() as conn:
            cur = conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?{complete}",
                               [*values.values(), record_id])
        if cur.rowcount == 0:
            raise WorkspaceError(f"no {_SINGULAR[table]} with id {record_id!r}")

    def _rows(self, table: str, condition: str = "", args: tuple = (), pending: bool = False) -> list[sqlite3.Row]:
        """Rows of `table` matching `condition`, newest first: complete records only unless `pending`."""
        conditions = [c for c in (condition, "" if pending or table not in _RESERVED_TABLES else "writer IS NULL") if c]
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
            data = {k: json.loads(row[k]) if k in _JSON_COLUMNS else row[k] for k in _FIELDS[table]}
        except (ValueError, TypeError, IndexError) as exc:
            raise WorkspaceError(f"the workspace catalogue {CATALOGUE} in {self.root} is damaged: "
                                 f"{_SINGULAR[table]} {row['id']!r} cannot be read ({exc})") from exc
        return _RECORDS[table](**data)

    def resolve(self, table: str, id_or_name: str):
        """Look a record up by id, or else by name (what a CLI user types)."""
        by_name = self._find_by_name(table, id_or_name)
        return by_name or self._get(table, id_or_name)

    def _delete(self, table: str, record_id: str, folder: Path) -> None:
        with self._connect() as conn:
            conn.execute(f"DELETE FROM {table} WHERE id = ?", (record_id,))
        shutil.rmtree(folder, ignore_errors=True)

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
            work = Path(tempfile.mkdtemp(prefix=f".{record.id}.", suffix=_PARTIAL, dir=self.dir(table)))
            write_files(work)
            fsync_tree(work)
            os.rename(work, final)
            work = None
            fsync_dir(final.parent)
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
        values = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in fields.items()}
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
            partials = [p for p in _entries(models) if (m := _MODEL_PARTIAL.match(p.name)) and m["folder"] == folder]
            return [models / folder, *partials]
        parent = self.root / table
        partials = [p for p in _entries(parent) if (m := _RECORD_PARTIAL.match(p.name)) and m["id"] == row["id"]]
        return [parent / row["id"], *partials]

    def _clear_stale(self, table: str, name: str) -> bool:
        """Roll back the pending record named `name` if its writer is gone; whether one was."""
        with self._connect() as conn:
            row = conn.execute(f"SELECT id, writer FROM {table} WHERE name = ?", (name,)).fetchone()
        if row is None or row["writer"] is None or _writer_alive(row["writer"]):
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

    # leftovers of killed processes ------------------------------------------------------------
    def recover(self, orphans: bool = True) -> list[str]:
        """Remove what killed processes left: pending records whose writer is gone (row and
        files), temporary folders of saves and trainings no live process owns, temporary files of
        dead writers and, with `orphans`, record and model folders that no row owns. Never touches
        a live writer's work: folders are listed before rows are read, and every save reserves its
        row before it makes a folder. Returns the workspace-relative paths and rows removed."""
        removed: list[str] = []
        listed = {table: _entries(self.root / table) for table in ("corpora", "datasets", "runs", "models")}
        for table in _RESERVED_TABLES:
            for row in self._rows(table, "writer IS NOT NULL", pending=True):
                if not _writer_alive(row["writer"]):
                    self._roll_back(table, row["id"], writer=row["writer"])
                    removed.append(f"{table}:{row['name']}")
        for table in ("corpora", "datasets", "runs"):
            rows = {row["id"]: row["writer"] if table in _RESERVED_TABLES else None
                    for row in self._rows(table, pending=True)}
            for entry in listed[table]:
                partial = _RECORD_PARTIAL.match(entry.name)
                if partial:
                    stale = not _writer_alive(rows.get(partial["id"]))
                else:
                    stale = orphans and bool(_ID_FOLDER.match(entry.name)) and entry.name not in rows
                if stale:
                    removed.append(self._remove(entry))
        models = self._rows("models", pending=True)
        owned = {Path(row["path"]).name for row in models}
        training = {Path(row["path"]).name for row in models if _writer_alive(row["writer"])}
        for entry in listed["models"]:
            partial = _MODEL_PARTIAL.match(entry.name)
            if partial:
                stale = partial["folder"] not in training
            else:
                stale = orphans and not entry.name.startswith(".") and entry.is_dir() and entry.name not in owned
            if stale:
                removed.append(self._remove(entry))
        removed += self._remove_stray_temp_files()
        if removed:
            log.warning("workspace %s: removed what interrupted saves left: %s", self.root, ", ".join(removed))
        return removed

    def _remove(self, path: Path) -> str:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        return str(path.relative_to(self.root))

    def _remove_stray_temp_files(self) -> list[str]:
        removed = []
        now = time.time()
        for folder, subfolders, files in os.walk(self.root):
            if Path(folder) == self.root:
                subfolders[:] = [s for s in subfolders if s != "models"]  # written by training libraries
            subfolders[:] = [s for s in subfolders if not s.endswith(_PARTIAL)]  # a live save's, or handled above
            for name in files:
                path = Path(folder, name)
                if is_stray_temp_file(path, now):
                    removed.append(self._remove(path))
        return removed

    # corpora -------------------------------------------------------------------------------
    def list_corpora(self) -> list[CorpusRecord]:
        return self._list("corpora")

    def get_corpus(self, corpus_id: str) -> CorpusRecord:
        return self._get("corpora", corpus_id)

    def corpus_dir(self, corpus_id: str) -> Path:
        return self.root / "corpora" / corpus_id

    def delete_corpus(self, corpus_id: str) -> None:
        self._get("corpora", corpus_id)
        self._delete("corpora", corpus_id, self.corpus_dir(corpus_id))

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

    # runs ----------------------------------------------------------------------------------
    def create_run(self, kind: str, name: str, params: dict, dataset_id: str | None = None,
                   run_id: str | None = None) -> RunRecord:
        """A new queued run (with `run_id` when the caller chose it) and its folder, in that order."""
        record = RunRecord(run_id or new_id("run"), name, kind, time.time(), None, "queued", dataset_id, params, {})
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

    # models --------------------------------------------------------------------------------
    def model_dir(self, name: str) -> Path:
        """Where a new model named `name` is saved (the folder itself is made by the atomic save)."""
        return self.dir("models") / _slug(name)

    def register_model(self, name: str, kind: str, path: Path, base_model: str,
                       run_id: str | None = None, metrics: dict | None = None) -> ModelRecord:
        """List a model whose folder is complete already (a training reserves, then commits)."""
        record = ModelRecord(new_id("model"), check_name(name), kind, time.time(), str(path), base_model, run_id, metrics or {})
        try:
            self._insert("models", record)
        except sqlite3.IntegrityError:
            raise WorkspaceError(self._taken_message("models", record.name)) from None
        return record

    def reserve_model(self, name: str, kind: str, base_model: str, run_id: str | None = None,
                      writer: dict | None = None) -> ModelRecord:
        """Hold `name` (and its folder, `model_dir(name)`) for a training about to start, as a
        pending model that listings do not show; the training publishes into `path` and then calls
        `commit_model`, or `release_model` when it fails. A reservation made for `run_id` (by
        jobs.start_job) is taken over by that run's worker, not refused. `writer` (default: this
        process) is the process whose death frees the name. WorkspaceError when the name or its
        folder is taken, naming the run that trains it."""
        name = check_name(name)
        path = self.model_dir(name)
        writer_json = json.dumps(writer or process_identity())
        for attempt in range(2):
            stale = []
            with self._connect() as conn:
                conn.execute("BEGIN IMMEDIATE")  # one reservation at a time: name and folder checked together
                for row in conn.execute("SELECT * FROM models").fetchall():
                    if row["name"] != name and not _same_folder(row["path"], path):
                        continue
                    if row["writer"] is not None and run_id and row["run_id"] == run_id and row["name"] == name:
                        conn.execute("UPDATE models SET writer = ?, kind = ? WHERE id = ?", (writer_json, kind, row["id"]))
                        return self._record("models", {**dict(row), "kind": kind})
                    if row["writer"] is not None and not _writer_alive(row["writer"]):
                        stale.append((row["id"], row["writer"]))
                    elif row["name"] == name:
                        raise WorkspaceError(self._taken_message("models", name))
                    else:
                        raise WorkspaceError(f"the model {row['name']!r} has the folder models/{path.name} that "
                                             f"{name!r} would be saved in; pick another name")
                if not stale:
                    if path.exists():
                        raise WorkspaceError(f"a model folder models/{path.name} already exists (no model in the "
                                             f"catalogue owns it); pick another name")
                    record = ModelRecord(new_id("model"), name, kind, time.time(), str(path), base_model, run_id, {})
                    values = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in vars(record).items()}
                    values["writer"] = writer_json
                    conn.execute(f"INSERT INTO models ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                                 list(values.values()))
                    return record
            for record_id, writer in stale:  # outside the transaction: removing a model's files takes a while
                self._roll_back("models", record_id, writer=writer)
        raise WorkspaceError(self._taken_message("models", name))

    def hand_over_model(self, record_id: str, pid: int) -> None:
        """Make the process `pid` (a job's worker) the holder of a reserved model name."""
        identity = process_identity(pid)
        if identity is None:
            return  # gone already: the reservation dies with its first holder
        with self._connect() as conn:
            conn.execute("UPDATE models SET writer = ? WHERE id = ? AND writer IS NOT NULL",
                         (json.dumps(identity), record_id))

    def commit_model(self, record_id: str, metrics: dict | None = None) -> ModelRecord:
        """The reserved model, complete now (its folder is in place): listed from here on."""
        self._commit("models", record_id, metrics=metrics or {}, created=time.time())
        return self._get("models", record_id)

    def release_model(self, record_id: str) -> None:
        """Give a reserved model name up (the training failed): row, folder and partial folders go."""
        self._roll_back("models", record_id)

    def release_run_models(self, run_id: str) -> list[str]:
        """Give up every model name `run_id` still holds (the run failed, was cancelled or
        interrupted); returns the names freed."""
        freed = []
        for row in self._rows("models", "run_id = ? AND writer IS NOT NULL", (run_id,), pending=True):
            self._roll_back("models", row["id"])
            freed.append(row["name"])
        return freed

    def list_models(self, kind: str | None = None) -> list[ModelRecord]:
        return self._list("models", "kind = ?", (kind,)) if kind else self._list("models")

    def model_name_conflict(self, name: str, run_id: str | None = None) -> str | None:
        """Why a new model cannot be named `name`, or None: a model has the name or its folder, a
        training (other than `run_id`'s) holds it, or the folder exists."""
        path = self.model_dir(name)
        held = False  # the folder belongs to a reservation that is no obstacle
        for row in self._rows("models", pending=True):
            if row["name"] != name and not _same_folder(row["path"], path):
                continue
            if row["writer"] is not None and (run_id and row["run_id"] == run_id or not _writer_alive(row["writer"])):
                held = True  # its own reservation, or one that a dead process left (freed when reserving)
                continue
            if row["name"] == name:
                return self._taken_message("models", name)
            return f"the model {row['name']!r} has the folder models/{path.name}; pick another name"
        if path.exists() and not held:
            return f"a model folder models/{path.name} already exists; pick another name"
        return None

    def model_name_taken(self, name: str) -> bool:
        return self.model_name_conflict(name) is not None


def _same_folder(stored: str, path: Path) -> bool:
    """Whether a model row's stored path is the folder `path` (also when the workspace was moved)."""
    stored = Path(stored)
    return stored == path or (stored.parent.name == "models" and stored.name == path.name)


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []


def check_name(name: str) -> str:
    """The name stripped, or WorkspaceError saying why it cannot be used (checked before any work)."""
    name = (name or "").strip()
    if not name:
        raise WorkspaceError("a name is required")
    if len(name) > 120:
        raise WorkspaceError("names are at most 120 characters")
    return name


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"


def load_saved_results(folder: Path, parse: Callable[[dict], T], log: logging.Logger, what: str,
                       dataset_id: str | None = None, part: str | None = None) -> list[T]:
    """The saved results (objects with dataset_id, part and created) in `folder`'s *.json files, of
    `dataset_id` and `part` when given, newest first; a file that cannot be read is skipped with a
    warning on `log`."""
    loaded = []
    for path in folder.glob("*.json"):
        try:
            loaded.append(parse(read_json(path)))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            log.warning("skipping unreadable %s %s: %s", what, path.name, exc)
    found = [r for r in loaded if (dataset_id is None or r.dataset_id == dataset_id) and (part is None or r.part == part)]
    return sorted(found, key=lambda r: r.created, reverse=True)
