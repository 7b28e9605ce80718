"""The workspace: a folder holding everything a user makes, with a SQLite catalogue of it.

Files hold the data (corpora as JSONL, datasets as JSON, runs' logs, models); the catalogue lists
them with names, parameters and metrics so pages, the CLI and workers all see the same state.

Every save is one transaction, whoever else saves at the same time and whenever the process dies:
its row is reserved in the catalogue (`store.catalogue`), its files are written to a staging folder
(`store.staging`), flushed and renamed into place, and the row is committed; a failure rolls back.
What a killed process leaves is removed by `recover` (`store.recovery`) when a Workspace is opened.
Model names are reserved the same way for the whole length of a training (`store.model_catalogue`:
`reserve_model`, then `commit_model` or `release_model`).

The workspace, its model catalogue and recovery each use one `Catalogue`; none calls another's
private methods.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ..runs import ACTIVE_STATES, JobState
from . import shapes
from .catalogue import CATALOGUE, Catalogue, process_identity
from .files import FileContentError, read_json
from .model_catalogue import ModelCatalogue
from .records import CorpusRecord, DatasetRecord, ModelRecord, RunRecord, WorkspaceError, check_name, new_id
from .recovery import recover
from .staging import publish_folder, staged

__all__ = [
    "Workspace",
    "WorkspaceError",
    "CorpusRecord",
    "DatasetRecord",
    "RunRecord",
    "ModelRecord",
    "check_name",
    "new_id",
    "process_identity",
    "load_saved_results",
    "CATALOGUE",
    "DEFAULT_WORKSPACE",
]

DEFAULT_WORKSPACE = "workspace"
T = TypeVar("T")
log = logging.getLogger(__name__)


class Workspace:
    def __init__(self, root: str | Path | None = None, recover: bool = True):
        """Open (or create) the workspace at `root`; with `recover` (the app and the CLI; a job's
        worker opens it without) what killed processes left behind is cleaned up first."""
        self.root = Path(root or os.environ.get("RAGTUNE_WORKSPACE") or DEFAULT_WORKSPACE).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        catalogue_path = self.root / CATALOGUE
        fresh = not catalogue_path.exists() or catalogue_path.stat().st_size == 0
        self.catalogue = Catalogue(self.root)
        self.models = ModelCatalogue(self.catalogue)
        if recover:
            # A catalogue made just now lists nothing: the folders beside it are not orphans but the
            # data of a lost catalogue, and are kept.
            self.recover(orphans=not fresh)

    def dir(self, *parts: str) -> Path:
        path = self.root.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def resolve(self, table: str, id_or_name: str):
        """Look a record up by id, or else by name (what a CLI user types)."""
        by_name = self.catalogue.find_by_name(table, id_or_name)
        return by_name or self.catalogue.get(table, id_or_name)

    def add(self, table: str, record, write_files: Callable[[Path], None]) -> None:
        """Save a new record: its row is reserved first (a name already taken is refused before
        anything is written), `write_files(folder)` fills a temporary folder, which is flushed and
        renamed into place, and the row is then marked complete. A failure, or a kill at any point,
        leaves neither folder nor row (a kill's leftovers are removed by `recover`)."""
        self.catalogue.reserve(table, record, process_identity())
        final = self.root / table / record.id
        try:
            with staged(final) as work:
                write_files(work)
                publish_folder(work, final)
            self.catalogue.commit(table, record.id)
        except BaseException:
            # `final` is named by this record's unique id: no other save can own it.
            self.catalogue.roll_back(table, record.id, extra=[final])
            raise

    def recover(self, orphans: bool = True) -> list[str]:
        """Remove what killed processes left (see `store.recovery`); the paths and rows removed."""
        return recover(self.catalogue, orphans)

    # models (store.model_catalogue) ----------------------------------------------------------
    def model_dir(self, name: str) -> Path:
        return self.models.model_dir(name)

    def register_model(
        self, name: str, kind: str, path: Path, base_model: str, run_id: str | None = None, metrics: dict | None = None
    ) -> ModelRecord:
        return self.models.register_model(name, kind, path, base_model, run_id, metrics)

    def reserve_model(
        self, name: str, kind: str, base_model: str, run_id: str | None = None, writer: dict | None = None
    ) -> ModelRecord:
        return self.models.reserve_model(name, kind, base_model, run_id, writer)

    def hand_over_model(self, record_id: str, pid: int) -> None:
        self.models.hand_over_model(record_id, pid)

    def commit_model(self, record_id: str, metrics: dict | None = None, dataset_id: str | None = None) -> ModelRecord:
        return self.models.commit_model(record_id, metrics, dataset_id)

    def release_model(self, record_id: str) -> None:
        self.models.release_model(record_id)

    def release_run_models(self, run_id: str) -> list[str]:
        return self.models.release_run_models(run_id)

    def list_models(self, kind: str | None = None) -> list[ModelRecord]:
        return self.models.list_models(kind)

    def newest_model_trained_on(self, dataset_id: str, kind: str) -> ModelRecord | None:
        return self.models.newest_model_trained_on(dataset_id, kind)

    def model_name_conflict(self, name: str, run_id: str | None = None) -> str | None:
        return self.models.model_name_conflict(name, run_id)

    def model_name_taken(self, name: str) -> bool:
        return self.models.model_name_taken(name)

    # corpora -------------------------------------------------------------------------------
    def list_corpora(self) -> list[CorpusRecord]:
        return self.catalogue.list("corpora")

    def get_corpus(self, corpus_id: str) -> CorpusRecord:
        return self.catalogue.get("corpora", corpus_id)

    def corpus_dir(self, corpus_id: str) -> Path:
        return self.root / "corpora" / corpus_id

    def corpus_dependants(self, corpus_id: str, pending_draft: Callable[[RunRecord], bool]) -> list[str]:
        """What still needs the corpus's documents and chunks, each with why: router datasets made
        from it (their tools run on its documents), generation runs still running, and drafts not yet
        accepted (their review shows its passages): the succeeded runs for which `pending_draft` (the
        questions stage's, which reads their result) is true. Question datasets carry their passages: not listed."""
        with self.catalogue.connect() as conn:
            return self._dependants(conn, corpus_id, pending_draft)

    def _dependants(self, conn, corpus_id: str, pending_draft: Callable[[RunRecord], bool]) -> list[str]:
        found = [
            f"router dataset {row['name']!r} (its tools run on the corpus's documents)"
            for row in conn.execute(
                "SELECT name FROM datasets WHERE corpus_id = ? AND kind = 'router' ORDER BY created", (corpus_id,)
            )
        ]
        needing = (*ACTIVE_STATES, JobState.SUCCEEDED)  # a succeeded generation run may hold a draft
        for row in conn.execute(f"SELECT * FROM runs WHERE state IN ({_marks(needing)}) ORDER BY created", needing):
            run = self.catalogue.record("runs", row)
            if run.params.get("corpus_id") != corpus_id:
                continue
            if run.state != JobState.SUCCEEDED:
                found.append(f"{run.state} run {run.name!r} ({run.id})")
            elif pending_draft(run):
                found.append(f"the draft of run {run.name!r} ({run.id}), not accepted yet")
        return found

    def delete_corpus(self, corpus_id: str, pending_draft: Callable[[RunRecord], bool]) -> None:
        """Delete a corpus and its files; refused (WorkspaceError listing them) while anything
        needs it (`corpus_dependants`, with `pending_draft`): those would be left unable to run or show."""
        record = self.catalogue.get("corpora", corpus_id)
        with self.catalogue.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")  # no dataset or run can start using it meanwhile
            dependants = self._dependants(conn, corpus_id, pending_draft)
            if dependants:
                raise WorkspaceError(
                    f"corpus {record.name!r} is still needed by {'; '.join(dependants)}. Delete or "
                    "accept those first (a dataset: `ragtune delete-dataset`), or keep the corpus"
                )
            conn.execute("DELETE FROM corpora WHERE id = ?", (corpus_id,))
        shutil.rmtree(self.corpus_dir(corpus_id), ignore_errors=True)

    # datasets ------------------------------------------------------------------------------
    def update_dataset_record(self, dataset_id: str, n_queries: int, params: dict | None = None) -> DatasetRecord:
        """A dataset's new query count, with `params` merged into its parameters."""
        record = self.catalogue.get("datasets", dataset_id)
        self.catalogue.update("datasets", dataset_id, n_queries=n_queries, params={**record.params, **(params or {})})
        return self.catalogue.get("datasets", dataset_id)

    def dataset_path(self, dataset_id: str) -> Path:
        return self.root / "datasets" / dataset_id / "dataset.json"

    def list_datasets(self, kind: str | None = None) -> list[DatasetRecord]:
        return self.catalogue.list("datasets", "kind = ?", (kind,)) if kind else self.catalogue.list("datasets")

    def get_dataset(self, dataset_id: str) -> DatasetRecord:
        return self.catalogue.get("datasets", dataset_id)

    def delete_dataset(self, dataset_id: str) -> None:
        """Delete a dataset and its file; refused while a queued or running job uses it. Models
        trained on it and saved reports stay."""
        record = self.catalogue.get("datasets", dataset_id)
        with self.catalogue.connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            busy = conn.execute(
                f"SELECT name FROM runs WHERE dataset_id = ? AND state IN ({_marks(ACTIVE_STATES)})",
                (dataset_id, *ACTIVE_STATES),
            ).fetchall()
            if busy:
                raise WorkspaceError(
                    f"dataset {record.name!r} is in use by the job {busy[0]['name']!r}; wait for it or cancel it first"
                )
            conn.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,))
        shutil.rmtree(self.root / "datasets" / dataset_id, ignore_errors=True)

    # runs ----------------------------------------------------------------------------------
    def create_run(
        self, kind: str, name: str, params: dict, dataset_id: str | None = None, run_id: str | None = None
    ) -> RunRecord:
        """A new queued run (with `run_id` when the caller chose it) and its folder, in that order."""
        record = RunRecord(
            run_id or new_id("run"), name, kind, time.time(), None, JobState.QUEUED, dataset_id, params, {}
        )
        self.catalogue.insert("runs", record)
        self.dir("runs", record.id)
        return record

    def update_run(self, run_id: str, **fields) -> None:
        self.catalogue.update("runs", run_id, **fields)

    def run_dir(self, run_id: str) -> Path:
        return self.root / "runs" / run_id

    def list_runs(self, kind: str | None = None) -> list[RunRecord]:
        return self.catalogue.list("runs", "kind = ?", (kind,)) if kind else self.catalogue.list("runs")

    def get_run(self, run_id: str) -> RunRecord:
        return self.catalogue.get("runs", run_id)


def _marks(values: tuple) -> str:
    """The SQL placeholders of `values` in an IN list: "?, ?"."""
    return ", ".join("?" * len(values))


def load_saved_results(
    folder: Path,
    parse: Callable[[dict], T],
    log: logging.Logger,
    what: str,
    dataset_id: str | None = None,
    part: str | None = None,
    schema: object = None,
) -> list[T]:
    """The saved results (objects with dataset_id, part and created) in `folder`'s *.json files, of
    `dataset_id` and `part` when given, newest first. Each file is checked against `schema` (its
    dataclass, configured with FILE_SHAPE) before `parse` reads it; one that does not fit is skipped with a
    warning on `log`
    naming the file, the key and what was expected (`unreadable_results` lists them for a page)."""
    loaded, problems = _read_results(folder, parse, what, schema)
    for problem in problems:
        log.warning("skipping unreadable %s", problem)
    found = [
        r for r in loaded if (dataset_id is None or r.dataset_id == dataset_id) and (part is None or r.part == part)
    ]
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
                shapes.parse(schema, data, f"{what} {path.name}", FileContentError)
            loaded.append(parse(data))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            problems.append(str(exc) if path.name in str(exc) else f"{what} {path.name}: {exc}")
    return loaded, problems
