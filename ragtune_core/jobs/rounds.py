"""A curation round's retrain and compare: the same training as a model's, on the dataset's new version,
then both models evaluated on the new version's validation questions, and the gains with their intervals.

A round starts from a model fine-tuned here on an earlier version (its run holds the settings it was
trained with); the new model is trained with exactly those on the new version (`start_retrain`); the
job the Compare page would run scores both on the same questions (`start_round_evaluation`), and
`round_gains` reads the new model's paired gains over the old from what that job saved.

`ROUNDS` is the one table of what a round retrains and how it compares, by the model's kind and the
dataset's: on a QA dataset an embedding model ranks the corpus and a cross-encoder reranks its embedder's
top passages (an evaluation job, its retrieval reports); on a router dataset either routes the queries to
a tool (a selector comparison, its match rates). A distilled LLM learns from its teacher's calls, not
from the dataset, so a round does not retrain one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ..evaluation.reranking import RERANK_TOP_K, reranked_name
from ..evaluation.retrieval import latest_reports
from ..evaluation.slices import GAIN_METRICS, PairedGain, paired_gain
from ..questions.qa_dataset import VAL, DatasetError, load_dataset
from ..questions.versions import versions_of
from ..routing.compare import list_comparisons
from ..routing.specs import SelectorSpec
from ..routing.stats import match_rate_gain
from ..store.models import CROSS_ENCODER, DEFAULT_BASE_MODEL, EMBEDDING
from ..store.workspace import ModelRecord, Workspace
from .comparison_tasks import start_comparison_job
from .runner import JobKind, JobStatus, start_job

RETRAINABLE = "models fine-tuned here (by a training run) as an embedding model or a cross-encoder"
ROUND_METRICS = ("ndcg@10", *GAIN_METRICS)


@dataclass(frozen=True)
class _Retrieval:
    """An evaluation job ranks the corpus for each validation question with both models, or, with
    `reranking`, reorders their embedder's top passages with each; the gains come from its saved reports."""

    reranking: bool = False
    job = JobKind.EVALUATE

    @property
    def measures(self) -> str:
        """How the models are scored on the validation questions, as the page says it."""
        if self.reranking:
            return f"reranking the top {RERANK_TOP_K} passages their embedder finds for each"
        return "ranking the corpus for each"

    def start(self, ws: Workspace, dataset_id: str, old: ModelRecord, new: ModelRecord) -> JobStatus:
        models = [{"label": m.name, "path": m.path} for m in (old, new)]
        params = {"dataset_id": dataset_id, "part": VAL, "models": models}
        if self.reranking:
            params.update(models=[_first_stage(ws, old)], rerankers=models)
        return start_job(ws, self.job, params, name=f"round · {new.name}", dataset_id=dataset_id)

    def gains(self, ws: Workspace, dataset_id: str, old: ModelRecord, new: ModelRecord) -> list[PairedGain] | None:
        embedder = _first_stage(ws, old)["label"] if self.reranking else None
        names = [reranked_name(embedder, m.name) if embedder else m.name for m in (old, new)]
        reports = {r.name: r for r in latest_reports(ws, dataset_id, VAL)}
        if not all(name in reports for name in names):
            return None
        return [paired_gain(reports[names[0]], reports[names[1]], metric) for metric in ROUND_METRICS]


class _Routing:
    """A selector comparison routes each validation question with both models; the gain is in match rate."""

    job = JobKind.COMPARE_SELECTORS
    measures = "routing each to a tool"

    def start(self, ws: Workspace, dataset_id: str, old: ModelRecord, new: ModelRecord) -> JobStatus:
        return start_comparison_job(ws, dataset_id, [SelectorSpec(m.name, m.kind, m.path) for m in (old, new)], VAL)

    def gains(self, ws: Workspace, dataset_id: str, old: ModelRecord, new: ModelRecord) -> list[PairedGain] | None:
        for comparison in list_comparisons(ws, dataset_id, VAL):  # newest first
            if {old.name, new.name} <= {report.name for report in comparison.reports}:
                return [match_rate_gain(comparison, old.name, new.name)]
        return None


class Round(NamedTuple):
    training: JobKind  # the job that trained the model, run again on the new version
    comparison: _Retrieval | _Routing  # the job that scores both models, and the gains read back


ROUNDS = {  # (model kind, dataset kind): the round of such a model
    (EMBEDDING, "qa"): Round(JobKind.TRAIN_EMBEDDING, _Retrieval()),
    (CROSS_ENCODER, "qa"): Round(JobKind.TRAIN_CROSS_ENCODER, _Retrieval(reranking=True)),
    (EMBEDDING, "router"): Round(JobKind.TRAIN_EMBEDDING, _Routing()),
    (CROSS_ENCODER, "router"): Round(JobKind.TRAIN_CROSS_ENCODER, _Routing()),
}


def round_of(ws: Workspace, model: ModelRecord, dataset_id: str) -> Round:
    """The round of `model` on the dataset `dataset_id`; DatasetError when a round cannot retrain it."""
    found = ROUNDS.get((model.kind, ws.get_dataset(dataset_id).kind))
    if found is None or not model.run_id:
        raise DatasetError(
            f"model {model.name!r} was not fine-tuned here as an embedding model or a cross-encoder: there are "
            f"no settings to train again and compare (a round retrains {RETRAINABLE})"
        )
    return found


def earlier_models(ws: Workspace, dataset_id: str) -> list[ModelRecord]:
    """The models a round can retrain: fine-tuned here (by a run) on an earlier version of the dataset, newest first."""
    earlier = [d.id for d in versions_of(ws, dataset_id)]
    earlier = set(earlier[: earlier.index(dataset_id)])
    kind = ws.get_dataset(dataset_id).kind
    return [m for m in ws.list_models() if m.dataset_id in earlier and m.run_id and (m.kind, kind) in ROUNDS]


def retrain_params(ws: Workspace, model: ModelRecord, dataset_id: str, name: str) -> tuple[JobKind, dict]:
    """The job kind and parameters of `model`'s training, on the dataset `dataset_id` under `name`."""
    training = round_of(ws, model, dataset_id).training
    params = ws.get_run(model.run_id).params
    return training, {**params, "dataset_id": dataset_id, "model_name": name}


def start_retrain(ws: Workspace, model: ModelRecord, dataset_id: str, name: str) -> JobStatus:
    kind, params = retrain_params(ws, model, dataset_id, name)
    return start_job(ws, kind, params, name=name, dataset_id=dataset_id)


def start_round_evaluation(ws: Workspace, dataset_id: str, old: ModelRecord, new: ModelRecord) -> JobStatus:
    """Score the two models on the version's validation questions, as the Compare page would (ROUNDS)."""
    if not load_dataset(ws, dataset_id).split:
        raise DatasetError("this version has no train/validation split: split it first")
    return round_of(ws, old, dataset_id).comparison.start(ws, dataset_id, old, new)


def round_gains(ws: Workspace, dataset_id: str, old: ModelRecord, new: ModelRecord) -> list[PairedGain] | None:
    """The new model's gains over the old on the version's validation questions, each with its 95%
    bootstrap interval; None until both have been scored there."""
    return round_of(ws, old, dataset_id).comparison.gains(ws, dataset_id, old, new)


def _first_stage(ws: Workspace, reranker: ModelRecord) -> dict:
    """The embedder a cross-encoder was trained with (its run's settings), as an evaluation job's model:
    labelled by its workspace name, the bundled model's name, or its Hub id or folder."""
    path = (ws.get_run(reranker.run_id).params.get("config") or {}).get("embedder")
    named = next((m.name for m in ws.list_models(EMBEDDING) if m.path == path), None)
    return {"label": named or path or DEFAULT_BASE_MODEL, "path": path}
