"""Training on a workspace dataset and registering the result as a named workspace model."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

from ..questions.qa_dataset import TRAIN, DatasetError, QADataset, load_dataset, refuse_evaluation_only
from ..store.models import DEFAULT_BASE_MODEL
from ..store.workspace import Workspace, WorkspaceError, check_name
from . import cross_encoder, devices, embedding
from .config import CrossEncoderTrainConfig, EmbeddingTrainConfig, TrainConfig, TrainingError
from .fit import OnEvent, Schedule, check_parts, plan_schedule
from .name_swap import NameSwapper, renamed_pairs
from .search import SearchSettings, search_and_train


class ModelNameError(TrainingError):
    """The new model's name cannot be used (empty, too long or taken): another name fixes it."""


def check_model_name(ws: Workspace, model_name: str, what: str = "model", run_id: str | None = None) -> str:
    """The new model's name, stripped; ModelNameError (before any training) when empty, too long or
    taken: by a model, or by a training still running (named in the message). The reservation of
    `run_id` (the job about to train it) is no obstacle."""
    if not (model_name or "").strip():
        raise ModelNameError(f"a name for the fine-tuned {what} is required")
    try:
        model_name = check_name(model_name)
    except WorkspaceError as exc:
        raise ModelNameError(str(exc)) from None
    conflict = ws.model_name_conflict(model_name, run_id)
    if conflict:
        raise ModelNameError(conflict)
    return model_name


def training_inputs(
    ws: Workspace, dataset_id: str, model_name: str, config: TrainConfig, what: str = "model", run_id: str | None = None
) -> tuple[str, QADataset]:
    """The checked model name and the dataset to train on, or TrainingError before anything loads."""
    model_name = check_model_name(ws, model_name, what, run_id)
    try:
        dataset = load_dataset(ws, dataset_id)
    except DatasetError as exc:
        raise TrainingError(f"dataset {dataset_id!r} cannot be used: {exc}") from exc
    try:
        refuse_evaluation_only(dataset, ws.get_dataset(dataset_id).name)
    except DatasetError as exc:  # its message names the dataset and why: said as it is
        raise TrainingError(str(exc)) from None
    return model_name, dataset


def preflight(
    ws: Workspace, dataset_id: str, model_name: str, config: TrainConfig, what: str = "model"
) -> tuple[str, QADataset]:
    """Everything checkable before a training starts (name, dataset, split): the page and the CLI
    call it, so a job is never started to fail on its inputs. Raises TrainingError."""
    model_name, dataset = training_inputs(ws, dataset_id, model_name, config, what)
    check_parts(dataset)
    return model_name, dataset


def check_devices(search: SearchSettings | None) -> None:
    """Refuse what cannot train on several devices (training.devices): a hyperparameter search, whose
    trials end on a clock each rank reads apart, so that the ranks would part ways and wait for each other."""
    if search and devices.world_size() > 1:
        raise TrainingError(
            "a hyperparameter search trains on one device: run it without torchrun or accelerate launch"
        )


def run_config(dataset: QADataset, config: TrainConfig) -> TrainConfig:
    """The settings a training of `dataset` runs with: a QA embedding trains its question encoder alone,
    at that encoder's batch size and learning rate (EmbeddingTrainConfig.for_query_side)."""
    if isinstance(config, EmbeddingTrainConfig) and dataset.kind != "router":
        return config.for_query_side()
    return config


def planned_schedule(dataset: QADataset, config: TrainConfig) -> Schedule:
    """The schedule training `dataset` with `config` will follow, before anything loads: the training
    examples are the train pairs, or for a cross-encoder each question's positives and negatives."""
    config = run_config(dataset, config)
    train = dataset.subset(TRAIN)
    if isinstance(config, CrossEncoderTrainConfig):
        swapper = NameSwapper(train.corpus, train.passage_docs, config.name_swaps, config.seed)
        renamed = dataset.kind == "router" and config.name_swaps

        def pairs_of(qid: str) -> int:
            right = train.relevant_docs[qid]
            wrong = config.hard_negatives + config.easy_negatives
            pairs = len(set(right)) + min(len(dataset.corpus) - len(set(right)), wrong)
            copies = config.name_swaps if renamed and swapper.renames(train.queries[qid], right) else 0
            return pairs * (1 + copies)

        examples = sum(pairs_of(qid) for qid in train.relevant_docs)
    elif dataset.kind == "router":
        examples = len(train.pairs())
    else:
        examples = len(renamed_pairs(train, config.name_swaps, config.seed))
    return plan_schedule(config, examples, config.target_steps(dataset.kind))


def train_and_register(
    ws: Workspace,
    dataset_id: str,
    model_name: str,
    config: TrainConfig,
    on_event: OnEvent | None = None,
    run_id: str | None = None,
    search: SearchSettings | None = None,
) -> dict:
    """Train the model `config` is for (an embedding model or a cross-encoder) on a workspace dataset
    and register it as `model_name`; returns the training result as JSON-ready data. With `search`,
    the best of several trainings with sampled settings (training.search).

    The name is reserved before training (or the reservation jobs.start_job made for `run_id` is
    taken over), the model is published into the reserved folder, and the reservation is then
    committed: a failure or cancel gives the name up, and a kill leaves a reservation whose holder
    is gone, freed by the next save of that name or by Workspace.recover. Nothing is ever listed
    half-made, and no name stays blocked by an invisible model.

    Under torchrun or accelerate launch (training.devices) every rank calls it and trains; rank 0 alone
    reserves, reports to `on_event`, publishes and registers: the others return {"rank", "processes", "steps"}."""
    if isinstance(config, CrossEncoderTrainConfig):
        kind, what, train = cross_encoder.MODEL_KIND, "cross-encoder", cross_encoder.train_cross_encoder
    else:
        kind, what, train = embedding.MODEL_KIND, "model", embedding.train_embedding
    check_devices(search)
    if not devices.is_main_process():
        return _train_beside_rank_0(ws, dataset_id, config, train)
    model_name, dataset = training_inputs(ws, dataset_id, model_name, config, what, run_id)
    config = run_config(dataset, config)
    try:
        start = cross_encoder.start_model(config) if kind == cross_encoder.MODEL_KIND else config.base_model
        reserved = ws.reserve_model(model_name, kind, start or DEFAULT_BASE_MODEL, run_id=run_id)
    except WorkspaceError as exc:
        raise TrainingError(str(exc)) from exc
    try:
        if search:
            result = search_and_train(
                search,
                train,
                config,
                planned_schedule(dataset, config).epochs,
                dataset,
                Path(reserved.path),
                on_event,
                model_card_name=model_name,
            )
        else:
            result = train(config, dataset, Path(reserved.path), on_event, model_card_name=model_name)
        record = ws.commit_model(reserved.id, metrics=result.metrics_after, dataset_id=dataset_id)
    except BaseException:
        ws.release_model(reserved.id)
        raise
    summary = {key: value for key, value in asdict(result).items() if key != "output_dir"}
    return {
        "model_id": record.id,
        "model_name": record.name,
        "model_path": str(result.output_dir),
        "dataset_kind": dataset.kind,
        **summary,
    }


def _train_beside_rank_0(ws: Workspace, dataset_id: str, config: TrainConfig, train) -> dict:
    """A distributed training's rank other than 0: the same training on its share of every batch, its copy
    of the model saved in a throwaway folder. It reads the workspace and writes nothing there: rank 0 checks
    the name, reports, publishes and registers."""
    dataset = load_dataset(ws, dataset_id)
    with tempfile.TemporaryDirectory(prefix="ragtune-rank-") as scratch:
        result = train(run_config(dataset, config), dataset, Path(scratch) / "model")
    return {"rank": devices.rank(), "processes": result.processes, "steps": result.steps}
