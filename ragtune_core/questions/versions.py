"""Dataset versions: curating a dataset saves a new version beside it, never over it.

A version is a dataset of its own (its own record and file), so a model trained on one keeps pointing at
exactly the questions it saw. Its parameters say whose version it is: `version_of` (the first version's
id), `version` (1, 2, ...), `parent` (the version it was made from) and `changes` (what differs from the
parent, question by question). `update_dataset` refuses to change a dataset a model was trained on or a
job is using; save a new version instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from ..store.workspace import DatasetRecord, Workspace, check_name, new_id
from .qa_dataset import DatasetError, QADataset, load_dataset

CHANGE_KINDS = ("relabelled", "reworded", "dropped", "added")


@dataclass(frozen=True)
class Changes:
    relabelled: list[str]  # query ids whose answer changed
    reworded: list[str]  # query ids whose question text changed
    dropped: list[str]
    added: list[str]

    def counts(self) -> dict[str, int]:
        return {kind: len(getattr(self, kind)) for kind in CHANGE_KINDS}

    def describe(self) -> str:
        said = [f"{n} {kind}" for kind, n in self.counts().items() if n]
        return ", ".join(said) if said else "no change"


def diff(old: QADataset, new: QADataset) -> Changes:
    """What changed from `old` to `new`, question by question (in each dataset's order)."""
    kept = [q for q in new.queries if q in old.queries]
    return Changes(
        relabelled=[q for q in kept if new.relevant_docs[q] != old.relevant_docs[q]],
        reworded=[q for q in kept if new.queries[q] != old.queries[q]],
        dropped=[q for q in old.queries if q not in new.queries],
        added=[q for q in new.queries if q not in old.queries],
    )


def root_of(record: DatasetRecord) -> str:
    """The id of the first version of `record`'s dataset (its own id when it is the first)."""
    return record.params.get("version_of") or record.id


def versions_of(ws: Workspace, dataset_id: str) -> list[DatasetRecord]:
    """Every version of the dataset `dataset_id` is a version of, first to last."""
    root = root_of(ws.get_dataset(dataset_id))
    found = [d for d in ws.list_datasets() if root_of(d) == root]
    return sorted(found, key=lambda d: d.params.get("version", 1))


def save_version(ws: Workspace, parent_id: str, dataset: QADataset, name: str | None = None) -> DatasetRecord:
    """Save `dataset`, an edit of the dataset `parent_id`, as its lineage's next version (named
    "<first name> v<n>" unless `name` is given); the parent is left as it is. DatasetError when
    nothing changed or the edit is not a usable dataset."""
    parent = ws.get_dataset(parent_id)
    changes = diff(load_dataset(ws, parent_id), dataset)
    if not any(changes.counts().values()):
        raise DatasetError(f"nothing changed from dataset {parent.name!r}: no new version saved")
    dataset.validate()
    lineage = versions_of(ws, parent_id)
    number = max(d.params.get("version", 1) for d in lineage) + 1
    params = {key: value for key, value in parent.params.items() if key != "split_note"}
    params.update(
        version_of=root_of(parent),
        version=number,
        parent=parent.id,
        changes={kind: getattr(changes, kind) for kind in CHANGE_KINDS},
    )
    record = DatasetRecord(
        new_id("dataset"),
        check_name(name or f"{lineage[0].name} v{number}"),
        time.time(),
        dataset.kind,
        parent.corpus_id,
        params,
        len(dataset.queries),
    )
    ws.add("datasets", record, lambda folder: replace(dataset, source=None, version=None).save(folder / "dataset.json"))
    return record


def changes_of(record: DatasetRecord) -> Changes | None:
    """What a version changed from its parent; None for a first version."""
    stored = record.params.get("changes")
    return Changes(**{kind: list(stored.get(kind, [])) for kind in CHANGE_KINDS}) if stored else None
