"""The adapters of the training jobs: an embedding or a cross-encoder trained and registered (progress
in estimated seconds, a stop request keeping the best model), and an LLM fine-tuned at its provider."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..runs import EventKind
from .cancellation import exit_on_sigterm
from .llm_calls import llm_waits_shown
from .runner import STOP_REQUEST

if TYPE_CHECKING:  # the training stage loads in the worker that trains, not with this module
    from .results import TrainingRunResult


def run_training_job(ctx, params: dict) -> dict:
    """params {dataset_id, model_name, config: asdict(EmbeddingTrainConfig)}."""
    from ..training.config import EmbeddingTrainConfig

    result = _train(ctx, params, EmbeddingTrainConfig)
    return _with_verdict(ctx, result, f"{_stop_note(result)}{result.figures(result.primary_metric)}")


def run_cross_encoder_job(ctx, params: dict) -> dict:
    """params {dataset_id, model_name, config: asdict(CrossEncoderTrainConfig)}."""
    from ..training.config import CrossEncoderTrainConfig

    result = _train(ctx, params, CrossEncoderTrainConfig)
    metric, kept = result.primary_metric, result.blend
    blend = "" if kept is None else f", {kept.describe()}"
    return _with_verdict(
        ctx,
        result,
        f"{_stop_note(result)}{result.figures(metric)} "
        f"(validation embedder alone {result.metrics_embedder[metric]:.3f}{blend})",
    )


def _with_verdict(ctx, result: TrainingRunResult, summary: str) -> dict:
    """The training's closing line, then, when the model does not beat what it started from, the
    sentence saying so (kept in the result, where the job panel reads it: training.verdict)."""
    from dataclasses import replace

    from ..training.verdict import worse_than_start

    verdict = worse_than_start(result)
    ctx.complete(f"{summary}. {verdict}" if verdict else summary)
    return replace(result, verdict=verdict).to_dict()


def _stop_note(result: TrainingRunResult) -> str:
    """The start of a training's closing line when the user stopped it (jobs.request_stop): where, and the step kept."""
    if not result.stopped_by_user:
        return ""
    where = (
        f"after {len(result.trials)} trial(s)" if result.trials else f"at step {result.steps} of {result.planned_steps}"
    )
    return f"stopped by the user {where}, kept step {result.best_step} · "


def training_job_params(dataset_id: str, model_name: str, config, search=None) -> dict:
    """What a training job (`run_training_job`, `run_cross_encoder_job`) is started with: the config
    and any hyperparameter search as plain data."""
    from dataclasses import asdict

    return {
        "dataset_id": dataset_id,
        "model_name": model_name,
        "config": asdict(config),
        **({"search": asdict(search)} if search else {}),
    }


def _train(ctx, params: dict, config_class: type) -> TrainingRunResult:
    """Train and register; progress is TrainingMeter's (in estimated seconds), the other events the run's.
    The result holds the estimate said before training (estimated_seconds) and the time taken (seconds).
    A stop request file in the run's folder (runner.request_stop) ends training, its best model kept."""
    from ..questions.qa_dataset import load_dataset
    from ..store.models import prefer_offline
    from ..training.duration import TrainingMeter, estimate_training
    from ..training.register import train_and_register
    from ..training.search import SearchSettings
    from ..training.stopping import stop_when
    from .results import TrainingRunResult

    exit_on_sigterm()
    prefer_offline()
    _refuse_evaluation_only(ctx.workspace, params["dataset_id"])
    config = config_class.from_dict(params.get("config") or {})
    search = SearchSettings(**params["search"]) if params.get("search") else None
    plan = estimate_training(load_dataset(ctx.workspace, params["dataset_id"]), config, search)
    ctx.emit(EventKind.DURATION, estimated_seconds=plan.expected_seconds, phases=plan.estimate.phases)
    ctx.count_in_estimated_seconds(plan.expected_part)
    meter = TrainingMeter(plan, ctx.progress, lambda event, data: ctx.emit(event, **data), ctx.elapsed)
    with stop_when((ctx.run_dir / STOP_REQUEST).exists):  # a stat call after each step
        result = train_and_register(
            ctx.workspace,
            params["dataset_id"],
            params["model_name"],
            config,
            on_event=meter,
            run_id=ctx.run_id,
            search=search,
        )
    meter.learn()
    timed = {"estimated_seconds": round(plan.expected_seconds, 1), "seconds": round(ctx.elapsed(), 1)}
    return TrainingRunResult.read({**result, **timed}, ctx.run_id)  # parsed: a reranker's blend is a Blend again


def _refuse_evaluation_only(ws, dataset_id: str) -> None:
    """DatasetError before anything loads when the dataset is evaluation-only (never trained on),
    however the job was started."""
    from ..questions.qa_dataset import load_dataset, refuse_evaluation_only

    refuse_evaluation_only(load_dataset(ws, dataset_id), ws.get_dataset(dataset_id).name)


def run_llm_finetune_job(ctx, params: dict) -> dict:
    """params: LLMFinetuneRequest.to_params(). The provider's metrics become "metrics" events and the
    progress (step of total), its messages "provider_event" events; a cancel cancels its job too."""
    from ..store.models import prefer_offline
    from ..training.llm.finetune import LLMFinetuneRequest, fine_tune_llm

    exit_on_sigterm()
    prefer_offline()
    request = LLMFinetuneRequest.from_params(params)

    def forward(event: str, data: dict) -> None:
        if event == EventKind.STATE:
            ctx.note(data["message"])
            return
        ctx.emit(event, **data)
        if event == EventKind.METRICS and data.get("step") and data.get("total_steps"):
            loss = data.get("train_loss")
            ctx.progress(
                int(data["step"]),
                int(data["total_steps"]),
                f"step {data['step']}" + (f" · loss {loss:.4f}" if loss is not None else ""),
            )

    with llm_waits_shown(ctx):
        result = fine_tune_llm(ctx.workspace, request, on_event=forward, run_id=ctx.run_id)
    ctx.note(f"registered {result.model_name} ({result.fine_tuned_model or 'local'})")
    return result.to_dict()
