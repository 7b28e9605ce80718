"""A curation round's retrain and compare: the same training as a model's, on the dataset's new version,
then both models evaluated on the new version's validation questions, and the gains with their intervals.

A round starts from a model fine-tuned here on an earlier version (its run holds the settings it was
trained with); the new model is trained with exactly those on the new version (`start_retrain`); the
evaluation job scores both on the same questions (`start_round_evaluation`), and `round_gains` reads the
new model's paired gains over the old from the saved reports.
"""

from __future__ import annotations

from ..evaluation.retrieval import latest_reports
from ..evaluation.slices import GAIN_METRICS, PairedGain, paired_gain
from ..questions.qa_dataset import DatasetError, load_dataset
from ..questions.versions import versions_of
from ..store.workspace import ModelRecord, Workspace
from .runner import JobKind, JobStatus, start_job

RETRAINABLE = {"embedding": JobKind.TRAIN_EMBEDDING}  # a round compares retrievers: embedding models
ROUND_METRICS = ("ndcg@10", *GAIN_METRICS)


def earlier_models(ws: Workspace, dataset_id: str) -> list[ModelRecord]:
    """Models fine-tuned here (by a run) on an earlier version of the dataset, newest first."""
    earlier = [d.id for d in versions_of(ws, dataset_id)]
    earlier = set(earlier[: earlier.index(dataset_id)])
    return [m for m in ws.list_models() if m.dataset_id in earlier and m.run_id and m.kind in RETRAINABLE]


def retrain_params(ws: Workspace, model: ModelRecord, dataset_id: str, name: str) -> tuple[JobKind, dict]:
    """The job kind and parameters of `model`'s training, on the dataset `dataset_id` under `name`."""
    if not model.run_id or model.kind not in RETRAINABLE:
        raise DatasetError(
            f"model {model.name!r} was not fine-tuned here as an embedding model: there are no "
            "settings to train again and compare"
        )
    params = ws.get_run(model.run_id).params
    return RETRAINABLE[model.kind], {**params, "dataset_id": dataset_id, "model_name": name}


def start_retrain(ws: Workspace, model: ModelRecord, dataset_id: str, name: str) -> JobStatus:
    kind, params = retrain_params(ws, model, dataset_id, name)
    return start_job(ws, kind, params, name=name, dataset_id=dataset_id)


def start_round_evaluation(ws: Workspace, dataset_id: str, old: ModelRecord, new: ModelRecord) -> JobStatus:
    """Evaluate the two embedding models on the version's validation questions (one report each)."""
    if not load_dataset(ws, dataset_id).split:
        raise DatasetError("this version has no train/validation split: split it first")
    params = {
        "dataset_id": dataset_id,
        "part": "val",
        "models": [{"label": m.name, "path": m.path} for m in (old, new)],
    }
    return start_job(ws, JobKind.EVALUATE, params, name=f"round · {new.name}", dataset_id=dataset_id)


def round_gains(ws: Workspace, dataset_id: str, old: str, new: str) -> list[PairedGain] | None:
    """The new model's gains over the old on the version's validation questions, each with its 95%
    bootstrap interval; None until both have been evaluated there."""
    reports = {r.name: r for r in latest_reports(ws, dataset_id, "val")}
    if old not in reports or new not in reports:
        return None
    return [paired_gain(reports[old], reports[new], metric) for metric in ROUND_METRICS]
