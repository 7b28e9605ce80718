"""What a page's pickers preselect: the things that belong together.

A picker shows its first option first: `training_first` puts the datasets that may be trained on before
the evaluation sets (an evidence-phrase set, or a router dataset imported from a file, such as hand-written
queries: never trained on), and `models_for_dataset` offers a dataset's own models (fine-tuned on one of its
versions) before the others of its kind, never a model trained on a dataset of the other kind.
"""

from __future__ import annotations

from ..store.records import DatasetRecord, ModelRecord
from .qa_dataset import EVALUATION_ONLY
from .versions import root_of


def for_evaluation_only(record: DatasetRecord) -> bool:
    """An evidence-phrase set, or a router dataset imported from a file: evaluated, never trained on."""
    return bool(record.params.get(EVALUATION_ONLY)) or (record.kind == "router" and bool(record.params.get("imported")))


def training_first(datasets: list[DatasetRecord]) -> list[DatasetRecord]:
    """The datasets, those that may be trained on first (each group in its own order, newest first as listed)."""
    return sorted(datasets, key=for_evaluation_only)


def models_for_dataset(
    record: DatasetRecord, models: list[ModelRecord], datasets: list[DatasetRecord]
) -> list[ModelRecord]:
    """The models fit to use on `record`: those fine-tuned on a version of it first, then those of no known
    dataset or one of the same kind; models trained on a dataset of the other kind (router vs. QA) left out."""
    by_id = {d.id: d for d in datasets}
    lineage = {d.id for d in datasets if root_of(d) == root_of(record)}
    own = [m for m in models if m.dataset_id in lineage]
    others = [
        m
        for m in models
        if m.dataset_id not in lineage and (m.dataset_id not in by_id or by_id[m.dataset_id].kind == record.kind)
    ]
    return own + others
