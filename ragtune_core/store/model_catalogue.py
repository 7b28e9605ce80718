"""The models in a workspace's catalogue, and their names held for the whole length of a training.

A training reserves its model's name (and folder) when its job starts (`reserve_model`), so a second
training with that name is refused at once, not after a whole training; it then publishes into the
folder and commits the row (`commit_model`), or gives the name up (`release_model`) when it fails.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

from .catalogue import Catalogue, process_identity, writer_alive
from .records import ModelRecord, WorkspaceError, check_name, new_id


class ModelCatalogue:
    """The models listed in `catalogue`, saved under its workspace's models/ folder."""

    def __init__(self, catalogue: Catalogue):
        self.catalogue = catalogue
        self.folder = catalogue.root / "models"

    def model_dir(self, name: str) -> Path:
        """Where a new model named `name` is saved (the folder itself is made by the atomic save)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / _slug(name)

    def register_model(
        self, name: str, kind: str, path: Path, base_model: str, run_id: str | None = None, metrics: dict | None = None
    ) -> ModelRecord:
        """List a model whose folder is complete already (a training reserves, then commits)."""
        record = ModelRecord(
            new_id("model"), check_name(name), kind, time.time(), str(path), base_model, run_id, metrics or {}
        )
        try:
            self.catalogue.insert("models", record)
        except sqlite3.IntegrityError:
            raise WorkspaceError(self.catalogue.taken_message("models", record.name)) from None
        return record

    def reserve_model(
        self, name: str, kind: str, base_model: str, run_id: str | None = None, writer: dict | None = None
    ) -> ModelRecord:
        """Hold `name` (and its folder, `model_dir(name)`) for a training about to start, as a
        pending model that listings do not show; the training publishes into `path` and then calls
        `commit_model`, or `release_model` when it fails. A reservation made for `run_id` (by
        jobs.start_job) is taken over by that run's worker, not refused. `writer` (default: this
        process) is the process whose death frees the name. WorkspaceError when the name or its
        folder is taken, naming the run that trains it."""
        name = check_name(name)
        path = self.model_dir(name)
        writer = writer or process_identity()
        for _attempt in range(2):
            stale = []
            with self.catalogue.connect() as conn:
                conn.execute("BEGIN IMMEDIATE")  # one reservation at a time: name and folder checked together
                for row in conn.execute("SELECT * FROM models").fetchall():
                    if row["name"] != name and not _same_folder(row["path"], path):
                        continue
                    if row["writer"] is not None and run_id and row["run_id"] == run_id and row["name"] == name:
                        conn.execute(
                            "UPDATE models SET writer = ?, kind = ? WHERE id = ?", (json.dumps(writer), kind, row["id"])
                        )
                        return self.catalogue.record("models", {**dict(row), "kind": kind})
                    if row["writer"] is not None and not writer_alive(row["writer"]):
                        stale.append((row["id"], row["writer"]))
                    elif row["name"] == name:
                        raise WorkspaceError(self.catalogue.taken_message("models", name))
                    else:
                        raise WorkspaceError(
                            f"the model {row['name']!r} has the folder models/{path.name} that "
                            f"{name!r} would be saved in; pick another name"
                        )
                if not stale:
                    if path.exists():
                        raise WorkspaceError(
                            f"a model folder models/{path.name} already exists (no model in the "
                            f"catalogue owns it); pick another name"
                        )
                    record = ModelRecord(new_id("model"), name, kind, time.time(), str(path), base_model, run_id, {})
                    self.catalogue.insert("models", record, writer, conn)
                    return record
            for record_id, stale_writer in stale:  # outside the transaction: removing a model's files takes a while
                self.catalogue.roll_back("models", record_id, writer=stale_writer)
        raise WorkspaceError(self.catalogue.taken_message("models", name))

    def hand_over_model(self, record_id: str, pid: int) -> None:
        """Make the process `pid` (a job's worker) the holder of a reserved model name."""
        identity = process_identity(pid)
        if identity is None:
            return  # gone already: the reservation dies with its first holder
        with self.catalogue.connect() as conn:
            conn.execute(
                "UPDATE models SET writer = ? WHERE id = ? AND writer IS NOT NULL", (json.dumps(identity), record_id)
            )

    def commit_model(self, record_id: str, metrics: dict | None = None, dataset_id: str | None = None) -> ModelRecord:
        """The reserved model, complete now (its folder is in place): listed from here on."""
        self.catalogue.commit("models", record_id, metrics=metrics or {}, created=time.time(), dataset_id=dataset_id)
        return self.catalogue.get("models", record_id)

    def release_model(self, record_id: str) -> None:
        """Give a reserved model name up (the training failed): row, folder and partial folders go."""
        self.catalogue.roll_back("models", record_id)

    def release_run_models(self, run_id: str) -> list[str]:
        """Give up every model name `run_id` still holds (the run failed, was cancelled or
        interrupted); returns the names freed."""
        freed = []
        for row in self.catalogue.rows("models", "run_id = ? AND writer IS NOT NULL", (run_id,), pending=True):
            self.catalogue.roll_back("models", row["id"])
            freed.append(row["name"])
        return freed

    def list_models(self, kind: str | None = None) -> list[ModelRecord]:
        return self.catalogue.list("models", "kind = ?", (kind,)) if kind else self.catalogue.list("models")

    def newest_model_trained_on(self, dataset_id: str, kind: str) -> ModelRecord | None:
        """The newest model of `kind` fine-tuned on the dataset, if any."""
        trained = [m for m in self.list_models(kind) if m.dataset_id == dataset_id]
        return max(trained, key=lambda m: m.created, default=None)

    def model_name_conflict(self, name: str, run_id: str | None = None) -> str | None:
        """Why a new model cannot be named `name`, or None: a model has the name or its folder, a
        training (other than `run_id`'s) holds it, or the folder exists."""
        path = self.model_dir(name)
        held = False  # the folder belongs to a reservation that is no obstacle
        for row in self.catalogue.rows("models", pending=True):
            if row["name"] != name and not _same_folder(row["path"], path):
                continue
            if row["writer"] is not None and (run_id and row["run_id"] == run_id or not writer_alive(row["writer"])):
                held = True  # its own reservation, or one that a dead process left (freed when reserving)
                continue
            if row["name"] == name:
                return self.catalogue.taken_message("models", name)
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


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "model"
