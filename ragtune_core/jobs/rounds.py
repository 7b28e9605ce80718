"""A curation round's retrain and compare: the same training as a model's, on the dataset's new version,
then both models evaluated on the new version's validation questions, and the gains with their intervals.

A round starts from a model fine-tuned here on an earlier version (its run holds the settings it was
trained with); the new model is trained with exactly those on the new version (`start_retrain`); the
job the Compare page would run scores both on the same questions (`start_round_evaluation`), and
`round_gains` reads the new model's paired gains over the old from what that job saved.

`ROUNDS` is the one table of what a round retrains and how it compares, by the model's kind and the
dataset's: on a QA dataset an embedding model ranks the corpus and a cross-encoder reranks its embedder's
top passages (an evaluation job, its retrieval reports); on a router dataset either routes the queries to
a tool (a selector comparison, its match rates), and so does an LLM fine-tuned on chat lines built from a
router dataset's labels: its round builds the new version's lines alike and fine-tunes on them with the
same request (`_Distillation`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import NamedTuple

from ..evaluation.reranking import RERANK_TOP_K, reranked_name
from ..evaluation.retrieval import latest_reports
from ..evaluation.slices import GAIN_METRICS, PairedGain, paired_gain
from ..llm.config import OPENAI_BASE_URL
from ..questions.qa_dataset import VAL, DatasetError, load_dataset
from ..questions.versions import versions_of
from ..routing.compare import list_comparisons
from ..routing.llm_selector import HOSTED, FinetunedLLM
from ..routing.specs import SelectorSpec, llm_model_spec
from ..routing.stats import match_rate_gain
from ..store.models import CROSS_ENCODER, DEFAULT_BASE_MODEL, EMBEDDING, LLM
from ..store.workspace import ModelRecord, Workspace
from ..training.llm.data import (
    DATASET_LABELS,
    NAME_SWAPS,
    build_chat_data,
    list_chat_data,
    load_chat_data,
    save_chat_data,
)
from ..training.llm.finetune import LLMFinetuneRequest
from ..training.register import check_model_name
from .comparison_tasks import start_comparison_job
from .llm_finetune import start_llm_finetune_job
from .runner import JobKind, JobStatus, start_job

RETRAINABLE = "embedding models, cross-encoders and (on a router dataset) LLMs fine-tuned here by a training run"
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

    def start(
        self, ws: Workspace, dataset_id: str, old: ModelRecord, new: ModelRecord, api_key: str | None = None
    ) -> JobStatus:
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

    def start(
        self, ws: Workspace, dataset_id: str, old: ModelRecord, new: ModelRecord, api_key: str | None = None
    ) -> JobStatus:
        """`api_key`: a hosted fine-tuned LLM's endpoint key (None: the server's, for its own endpoint)."""
        specs = [_selector_spec(m) for m in (old, new)]
        return start_comparison_job(ws, dataset_id, specs, VAL, secret_env=_endpoint_key_env(new, api_key))

    def gains(self, ws: Workspace, dataset_id: str, old: ModelRecord, new: ModelRecord) -> list[PairedGain] | None:
        before, after = (_selector_spec(m).label for m in (old, new))
        for comparison in list_comparisons(ws, dataset_id, VAL):  # newest first
            if {before, after} <= {report.name for report in comparison.reports}:
                return [match_rate_gain(comparison, before, after)]
        return None


@dataclass(frozen=True)
class _Training:
    """The job that trained the model, run again with its run's parameters on the new version, under the new name."""

    job: JobKind

    def params(self, ws: Workspace, model: ModelRecord, dataset_id: str, name: str) -> dict:
        return {**ws.get_run(model.run_id).params, "dataset_id": dataset_id, "model_name": name}

    def start(
        self, ws: Workspace, model: ModelRecord, dataset_id: str, name: str, api_key: str | None = None
    ) -> JobStatus:
        return start_job(ws, self.job, self.params(ws, model, dataset_id, name), name=name, dataset_id=dataset_id)


class _Distillation:
    """An LLM fine-tuned on chat lines built from a router dataset's labels (training/llm/data.py): the new
    version's lines are built alike, saved as chat data named after the new model, and fine-tuned on with the
    model's own request, started as the Fine-tune LLM page starts one (its pre-flight here; a hosted
    endpoint's key, typed in or the server's, handed to the worker, never stored)."""

    job = JobKind.TRAIN_LLM

    def params(self, ws: Workspace, model: ModelRecord, dataset_id: str, name: str) -> dict:
        return self.renamed(self.own_request(ws, model), name).to_params()

    def start(
        self, ws: Workspace, model: ModelRecord, dataset_id: str, name: str, api_key: str | None = None
    ) -> JobStatus:
        own = self.own_request(ws, model)
        request = dataclasses.replace(self.renamed(own, name), api_key=api_key)
        check_model_name(ws, name, "LLM")  # a taken name is refused before chat data is saved under it
        _save_version_chat_data(ws, own.data_name, request.data_name, dataset_id)
        return start_llm_finetune_job(ws, request)

    @staticmethod
    def own_request(ws: Workspace, model: ModelRecord) -> LLMFinetuneRequest:
        return LLMFinetuneRequest.from_params(ws.get_run(model.run_id).params)

    @staticmethod
    def renamed(own: LLMFinetuneRequest, name: str) -> LLMFinetuneRequest:
        """The model's own request on the new chat data, under `name`: a new job, even where the model's run
        followed one that an interrupted run had created (jobs.llm_finetune.follow_again)."""
        return dataclasses.replace(own, data_name=chat_data_name(name), model_name=name, provider_job_id=None)


class Round(NamedTuple):
    """Each part's `start` takes the endpoint key a hosted fine-tuned LLM's round needs (the others ignore it)."""

    training: _Training | _Distillation  # the model's training, run again on the new version
    comparison: _Retrieval | _Routing  # the job that scores both models, and the gains read back


ROUNDS = {  # (model kind, dataset kind): the round of such a model
    (EMBEDDING, "qa"): Round(_Training(JobKind.TRAIN_EMBEDDING), _Retrieval()),
    (CROSS_ENCODER, "qa"): Round(_Training(JobKind.TRAIN_CROSS_ENCODER), _Retrieval(reranking=True)),
    (EMBEDDING, "router"): Round(_Training(JobKind.TRAIN_EMBEDDING), _Routing()),
    (CROSS_ENCODER, "router"): Round(_Training(JobKind.TRAIN_CROSS_ENCODER), _Routing()),
    (LLM, "router"): Round(_Distillation(), _Routing()),
}


def round_of(ws: Workspace, model: ModelRecord, dataset_id: str) -> Round:
    """The round of `model` on the dataset `dataset_id`; DatasetError when a round cannot retrain it."""
    kind = ws.get_dataset(dataset_id).kind
    found = ROUNDS.get((model.kind, kind))
    if found is None or not model.run_id:
        raise DatasetError(
            f"model {model.name!r} cannot be trained again on this {kind} dataset and compared: a round "
            f"retrains {RETRAINABLE}"
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
    return training.job, training.params(ws, model, dataset_id, name)


def start_retrain(
    ws: Workspace, model: ModelRecord, dataset_id: str, name: str, api_key: str | None = None
) -> JobStatus:
    """Start `model`'s training on the dataset `dataset_id` under `name`; `api_key`: a hosted fine-tuned
    LLM's endpoint key (None: the server's, for its own endpoint)."""
    return round_of(ws, model, dataset_id).training.start(ws, model, dataset_id, name, api_key)


def start_round_evaluation(
    ws: Workspace, dataset_id: str, old: ModelRecord, new: ModelRecord, api_key: str | None = None
) -> JobStatus:
    """Score the two models on the version's validation questions, as the Compare page would (ROUNDS)."""
    _check_split(ws, dataset_id)
    return round_of(ws, old, dataset_id).comparison.start(ws, dataset_id, old, new, api_key)


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


def hosted_endpoint(model: ModelRecord) -> str | None:
    """The endpoint a hosted fine-tuned LLM's round trains and routes at (where its key goes); None for
    any other model."""
    if model.kind != LLM:
        return None
    described = FinetunedLLM.load(model.path)
    return (described.base_url or OPENAI_BASE_URL) if described.where == HOSTED else None


def chat_data_name(model_name: str) -> str:
    """The chat data a round saves for the new LLM `model_name`: its name in the letters chat data names take."""
    return f"{re.sub(r'[^A-Za-z0-9._-]+', '-', model_name).strip('-._')[:75] or 'round'}-chat"


def _save_version_chat_data(ws: Workspace, learned_from: str, data_name: str, dataset_id: str) -> None:
    """The version's chat lines saved as `data_name`, built as the old model's (`learned_from`) were; kept
    as they are when an earlier start of the same round saved them (the same version, the same build)."""
    if data_name in list_chat_data(ws) and load_chat_data(ws, data_name).dataset_id == dataset_id:
        return
    learned = load_chat_data(ws, learned_from)
    if learned.labels != DATASET_LABELS:
        raise DatasetError(
            f"chat data {learned_from!r} has {learned.labels} labels, not the dataset's: a round builds the new "
            "version's chat data from its own labels only (it asks no teacher LLM); build it on the Fine-tune LLM "
            "page and fine-tune on it there"
        )
    _check_split(ws, dataset_id)  # its validation lines are the questions the round compares on
    swaps = NAME_SWAPS if learned.name_swaps is None else learned.name_swaps
    data = build_chat_data(load_dataset(ws, dataset_id), dataset_id=dataset_id, name_swaps=swaps)
    save_chat_data(ws, data_name, data)


def _check_split(ws: Workspace, dataset_id: str) -> None:
    if not load_dataset(ws, dataset_id).split:
        raise DatasetError("this version has no train/validation split: split it first")


def _selector_spec(model: ModelRecord) -> SelectorSpec:
    """A model as a round's selector; a fine-tuned LLM under the label the Compare page knows it by."""
    if model.kind == LLM:
        return llm_model_spec(model.name, model.path)
    return SelectorSpec(model.name, model.kind, model.path)


def _endpoint_key_env(model: ModelRecord, api_key: str | None) -> dict[str, str] | None:
    """What hands a hosted fine-tuned LLM's endpoint key to the comparison's worker (None: no hosted model)."""
    if hosted_endpoint(model) is None:
        return None
    return FinetunedLLM.load(model.path).selector(model.path, api_key).config.secret_env()
