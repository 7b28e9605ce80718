"""The workspace's SQLite catalogue: its rows, and the transaction every save goes through.

1. reserve: the record's row goes in first, *pending* (its `writer` column names the process
   writing it); the UNIQUE name decides between two savers, and the loser has written nothing;
2. the saver writes its files in a staging folder (`store.staging`) and renames it into place;
3. commit: the row's writer is cleared, the record is complete.

A failure rolls back: the record's folder (and staging folders), then its row. Listings and look-ups
show complete records only. `Catalogue` is used by the workspace, its model catalogue and recovery
alike; none of them reaches into another.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path

import psutil
import pydantic

from .records import JSON_COLUMNS, CorpusRecord, DatasetRecord, ModelRecord, RunRecord, WorkspaceError
from .shapes import schema_problem
from .staging import staging_folders_of

CATALOGUE = "catalogue.sqlite"
# Tables whose rows are reserved before their files exist: `writer` is NULL once a record is complete,
# and otherwise the JSON identity ({"pid", "started"}) of the process writing it.
RESERVED_TABLES = ("corpora", "datasets", "models")

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
_ROW_SCHEMAS = {table: pydantic.TypeAdapter(cls) for table, cls in _RECORDS.items()}  # a row's fields, typed
SINGULAR = {"corpora": "corpus", "datasets": "dataset", "runs": "run", "models": "model"}


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


def writer_alive(writer: str | None) -> bool:
    """Whether the process a row's `writer` column names still runs."""
    try:
        return process_alive(json.loads(writer)) if writer else False
    except ValueError:
        return False


def to_columns(values: dict) -> dict:
    """Record fields as the catalogue stores them (the JSON columns as text)."""
    return {k: json.dumps(v) if k in JSON_COLUMNS else v for k, v in values.items()}


class Catalogue:
    """The catalogue of the workspace folder `root` (created, or brought up to date, when opened)."""

    def __init__(self, root: Path):
        self.root = root
        self.path = root / CATALOGUE
        self._create_schema()

    # connections ---------------------------------------------------------------------------------
    @contextmanager
    def connect(self):
        """A connection in a transaction (committed at the end); an unreadable catalogue is a
        WorkspaceError naming it, never a bare sqlite3 error."""
        try:
            conn = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            with conn:
                yield conn
        except (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # a duplicate name, or a bug: not damage
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc
        finally:
            conn.close()

    def _error(self, exc: sqlite3.Error) -> WorkspaceError:
        if isinstance(exc, sqlite3.OperationalError):
            return WorkspaceError(f"the workspace catalogue {CATALOGUE} in {self.root} could not be used: {exc}")
        return WorkspaceError(
            f"the workspace catalogue {CATALOGUE} in {self.root} is damaged ({exc}); "
            "restore it from a backup or start a new workspace"
        )

    def _create_schema(self) -> None:
        with self.connect() as conn:
            conn.executescript(_SCHEMA)
            missing = [(t, c) for t, c in _ADDED_COLUMNS if c not in _columns(conn, t)]
        if missing:  # a catalogue of an older version: every row it has is complete
            with self.connect() as conn:
                conn.execute("BEGIN IMMEDIATE")  # two processes opening it at once migrate it once
                for table, column in missing:
                    if column not in _columns(conn, table):
                        conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} TEXT")

    # reading and writing rows --------------------------------------------------------------------
    def insert(self, table: str, record, writer: dict | None = None, conn: sqlite3.Connection | None = None) -> None:
        """Add `record`'s row, pending (held by `writer`) when given, in `conn`'s transaction if given."""
        values = to_columns(vars(record))
        if table in RESERVED_TABLES:
            values["writer"] = json.dumps(writer) if writer else None
        sql = f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})"
        if conn is not None:
            conn.execute(sql, list(values.values()))
            return
        with self.connect() as own:
            own.execute(sql, list(values.values()))

    def update(self, table: str, record_id: str, **fields) -> None:
        """Change a complete record's `fields`; WorkspaceError when there is none with that id."""
        values = to_columns(fields)
        assignments = ", ".join(f"{k} = ?" for k in values)
        complete = " AND writer IS NULL" if table in RESERVED_TABLES else ""
        with self.connect() as conn:
            cur = conn.execute(
                f"UPDATE {table} SET {assignments} WHERE id = ?{complete}", [*values.values(), record_id]
            )
        if cur.rowcount == 0:
            raise WorkspaceError(f"no {SINGULAR[table]} with id {record_id!r}")

    def rows(self, table: str, condition: str = "", args: tuple = (), pending: bool = False) -> list[sqlite3.Row]:
        """Rows of `table` matching `condition`, newest first: complete records only unless `pending`."""
        conditions = [c for c in (condition, "" if pending or table not in RESERVED_TABLES else "writer IS NULL") if c]
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        with self.connect() as conn:
            return conn.execute(f"SELECT * FROM {table} {where} ORDER BY created DESC", args).fetchall()

    def list(self, table: str, condition: str = "", args: tuple = ()) -> list:
        return [self.record(table, row) for row in self.rows(table, condition, args)]

    def get(self, table: str, record_id: str):
        found = self.list(table, "id = ?", (record_id,))
        if not found:
            raise WorkspaceError(f"no {SINGULAR[table]} with id {record_id!r}")
        return found[0]

    def find_by_name(self, table: str, name: str):
        found = self.list(table, "name = ?", (name,))
        return found[0] if found else None

    def record(self, table: str, row: sqlite3.Row):
        """The record a row holds, checked against its record's schema (the JSON columns objects); a
        row that cannot be read is a WorkspaceError naming it and the field."""
        data = {}
        try:
            for key in _FIELDS[table]:
                data[key] = json.loads(row[key]) if key in JSON_COLUMNS else row[key]
            return _ROW_SCHEMAS[table].validate_python(data)
        except pydantic.ValidationError as exc:
            problem = schema_problem(exc)
        except (ValueError, TypeError, IndexError) as exc:  # a JSON column that is not JSON, a missing column
            problem = f"{key}: {exc}"
        raise WorkspaceError(
            f"the workspace catalogue {CATALOGUE} in {self.root} is damaged: "
            f"{SINGULAR[table]} {row['id']!r} cannot be read ({problem})"
        )

    # the save transaction ------------------------------------------------------------------------
    def reserve(self, table: str, record, writer: dict | None) -> None:
        """Insert `record` as pending; the UNIQUE name decides between concurrent savers. A name held
        by a pending row whose writer died is freed first."""
        for attempt in range(2):
            try:
                self.insert(table, record, writer)
                return
            except sqlite3.IntegrityError:
                if attempt == 0 and self._clear_stale(table, record.name):
                    continue
                raise WorkspaceError(self.taken_message(table, record.name)) from None

    def commit(self, table: str, record_id: str, **fields) -> None:
        """Mark a reserved record complete (with `fields` updated)."""
        values = to_columns(fields)
        assignments = "".join(f", {k} = ?" for k in values)
        with self.connect() as conn:
            cur = conn.execute(
                f"UPDATE {table} SET writer = NULL{assignments} WHERE id = ? AND writer IS NOT NULL",
                [*values.values(), record_id],
            )
        if cur.rowcount == 0:
            raise WorkspaceError(
                f"the {SINGULAR[table]} {record_id!r} was no longer reserved when it was "
                "complete (another process took its writer for dead); save it again"
            )

    def roll_back(self, table: str, record_id: str, extra: list[Path] = (), writer: str | None = None) -> None:
        """Remove a pending record: its folders (and `extra`) first, then its row. A complete
        record is never touched, nor, with `writer`, one that another process holds now."""
        with self.connect() as conn:
            row = conn.execute(f"SELECT * FROM {table} WHERE id = ?", (record_id,)).fetchone()
        if row is not None and (row["writer"] is None or (writer is not None and row["writer"] != writer)):
            return
        for folder in [*extra, *(self._folders_of(table, row) if row is not None else [])]:
            shutil.rmtree(folder, ignore_errors=True)
        if row is not None:
            with self.connect() as conn:
                conn.execute(f"DELETE FROM {table} WHERE id = ? AND writer = ?", (record_id, row["writer"]))

    def _folders_of(self, table: str, row: sqlite3.Row) -> list[Path]:
        """Where a pending record's files may be: its folder and the staging folders building it."""
        # a model's folder is under this workspace's models/, wherever its stored path says
        folder = self.root / table / (Path(row["path"]).name if table == "models" else row["id"])
        return [folder, *staging_folders_of(folder)]

    def _clear_stale(self, table: str, name: str) -> bool:
        """Roll back the pending record named `name` if its writer is gone; whether one was."""
        with self.connect() as conn:
            row = conn.execute(f"SELECT id, writer FROM {table} WHERE name = ?", (name,)).fetchone()
        if row is None or row["writer"] is None or writer_alive(row["writer"]):
            return False
        self.roll_back(table, row["id"], writer=row["writer"])
        return True

    def taken_message(self, table: str, name: str) -> str:
        """Why `name` cannot be used in `table`: a complete record has it, or a save holds it."""
        with self.connect() as conn:
            row = conn.execute(f"SELECT * FROM {table} WHERE name = ?", (name,)).fetchone()
        what = SINGULAR[table]
        if row is None or row["writer"] is None:
            return f"a {what} named {name!r} already exists"
        if table == "models" and row["run_id"]:
            return (
                f"a {what} named {name!r} already exists: run {row['run_id']}{self._run_label(row['run_id'])} "
                "is training it; pick another name, or cancel that run"
            )
        try:
            pid = json.loads(row["writer"])["pid"]
        except (ValueError, KeyError, TypeError):
            pid = "?"
        doing = "training" if table == "models" else "saving"
        return f"a {what} named {name!r} already exists: process {pid} is {doing} it"

    def _run_label(self, run_id: str) -> str:
        with self.connect() as conn:
            run = conn.execute("SELECT name, state FROM runs WHERE id = ?", (run_id,)).fetchone()
        return f" ({run['name']!r}, {run['state']})" if run else ""


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
