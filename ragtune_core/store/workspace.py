"""The workspace: a folder holding everything a user makes, with a SQLite catalogue of it.

Files hold the data (corpora as JSONL, datasets as JSON, runs' logs, models); the catalogue lists
them with names, parameters and metrics so pages, the CLI and workers all see the same state.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from .files import read_json

DEFAULT_WORKSPACE = "workspace"
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS corpora (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, created REAL NOT NULL,
    params TEXT NOT NULL, n_documents INTEGER NOT NULL, n_chunks INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, created REAL NOT NULL, kind TEXT NOT NULL,
    corpus_id TEXT, params TEXT NOT NULL, n_queries INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, created REAL NOT NULL,
    finished REAL, state TEXT NOT NULL, dataset_id TEXT, params TEXT NOT NULL, result TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, kind TEXT NOT NULL, created REAL NOT NULL,
    path TEXT NOT NULL, base_model TEXT NOT NULL, run_id TEXT, metrics TEXT NOT NULL);
"""


class WorkspaceError(ValueError):
    """A request the workspace refuses (unknown id, duplicate name); nothing was changed."""


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
    kind: str  # "embedding" | "cross_encoder"
    created: float
    path: str
    base_model: str
    run_id: str | None
    metrics: dict = field(default_factory=dict)


_RECORDS = {"corpora": CorpusRecord, "datasets": DatasetRecord, "runs": RunRecord, "models": ModelRecord}
_JSON_COLUMNS = {"params", "result", "metrics"}
_SINGULAR = {"corpora": "corpus", "datasets": "dataset", "runs": "run", "models": "model"}


def new_id(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


class Workspace:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or os.environ.get("RAGTUNE_WORKSPACE") or DEFAULT_WORKSPACE).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "catalogue.sqlite"
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self):
        conn = sqlite3.connect(self.db_path, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            with conn:
                yield conn
        finally:
            conn.close()

    def dir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    # generic catalogue access -------------------------------------------------------------
    def _insert(self, table: str, record) -> None:
        values = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in vars(record).items()}
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        try:
            with self._connect() as conn:
                conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({marks})", list(values.values()))
        except sqlite3.IntegrityError as exc:
            raise WorkspaceError(f"a {_SINGULAR[table]} named {record.name!r} already exists") from exc

    def _update(self, table: str, record_id: str, **fields) -> None:
        values = {k: json.dumps(v) if k in _JSON_COLUMNS else v for k, v in fields.items()}
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self._connect() as conn:
            cur = conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", [*values.values(), record_id])
        if cur.rowcount == 0:
            raise WorkspaceError(f"no {_SINGULAR[table]} with id {record_id!r}")

    def _list(self, table: str, where: str = "", args: tuple = ()) -> list:
        with self._connect() as conn:
            rows = conn.execute(f"SELECT * FROM {table} {where} ORDER BY created DESC", args).fetchall()
        return [self._record(table, row) for row in rows]

    def _get(self, table: str, record_id: str):
        found = self._list(table, "WHERE id = ?", (record_id,))
        if not found:
            raise WorkspaceError(f"no {_SINGULAR[table]} with id {record_id!r}")
        return found[0]

    def _find_by_name(self, table: str, name: str):
        found = self._list(table, "WHERE name = ?", (name,))
        return found[0] if found else None

    @staticmethod
    def _record(table: str, row: sqlite3.Row):
        data = {k: json.loads(row[k]) if k in _JSON_COLUMNS else row[k] for k in row.keys()}
        return _RECORDS[table](**data)

    def resolve(self, table: str, id_or_name: str):
        """Look a record up by id, or else by name (what a CLI user types)."""
        by_name = self._find_by_name(table, id_or_name)
        return by_name or self._get(table, id_or_name)

    def _delete(self, table: str, record_id: str, folder: Path) -> None:
        with self._connect() as conn:
            conn.execute(f"DELETE FROM {table} WHERE id = ?", (record_id,))
        shutil.rmtree(folder, ignore_errors=True)

    def add(self, table: str, record, write_files: Callable[[Path], None]) -> None:
        """List a new record after `write_files(folder)` has written its folder; a name already
        taken is refused before anything is written, and a failure leaves neither folder nor row."""
        if self._find_by_name(table, record.name):
            raise WorkspaceError(f"a {_SINGULAR[table]} named {record.name!r} already exists")
        folder = self.dir(table, record.id)
        try:
            write_files(folder)
            self._insert(table, record)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

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
        return self.dir("datasets", dataset_id) / "dataset.json"

    def list_datasets(self, kind: str | None = None) -> list[DatasetRecord]:
        return self._list("datasets", "WHERE kind = ?", (kind,)) if kind else self._list("datasets")

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        return self._get("datasets", dataset_id)

    # runs ----------------------------------------------------------------------------------
    def create_run(self, kind: str, name: str, params: dict, dataset_id: str | None = None) -> RunRecord:
        record = RunRecord(new_id("run"), name, kind, time.time(), None, "queued", dataset_id, params, {})
        self.dir("runs", record.id)
        self._insert("runs", record)
        return record

    def update_run(self, run_id: str, **fields) -> None:
        self._update("runs", run_id, **fields)

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def list_runs(self, kind: str | None = None) -> list[RunRecord]:
        return self._list("runs", "WHERE kind = ?", (kind,)) if kind else self._list("runs")

    def get_run(self, run_id: str) -> RunRecord:
        return self._get("runs", run_id)

    # models --------------------------------------------------------------------------------
    def model_dir(self, name: str) -> Path:
        """Where a new model named `name` is saved (the folder itself is made by the atomic save)."""
        return self.dir("models") / _slug(name)

    def register_model(self, name: str, kind: str, path: Path, base_model: str,
                       run_id: str | None = None, metrics: dict | None = None) -> ModelRecord:
        record = ModelRecord(new_id("model"), check_name(name), kind, time.time(), str(path), base_model, run_id, metrics or {})
        self._insert("models", record)
        return record

    def list_models(self, kind: str | None = None) -> list[ModelRecord]:
        return self._list("models", "WHERE kind = ?", (kind,)) if kind else self._list("models")

    def model_name_taken(self, name: str) -> bool:
        return self._find_by_name("models", name) is not None or self.model_dir(name).exists()


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
