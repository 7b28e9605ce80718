"""Every kind of background job, and the adapter the worker runs for each.

An adapter turns a run's JSON parameters into a library call, and the call's progress into the
run's status and events (`ctx`, a worker.JobContext). Each imports its stage when it runs, so a
worker loads only what its task uses. A kind's value is stored in runs' spec.json and in the
catalogue: rename an adapter freely, never a kind.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from ..runs import EventKind
from .runner import STOP_REQUEST, JobKind, JobStatus, start_job

if TYPE_CHECKING:  # the training stage loads in the worker that trains, not with this module
    from .results import TrainingRunResult


# --- questions --------------------------------------------------------------------------------
def run_generation_job(ctx, params: dict) -> dict:
    """Writes the draft dataset of a GenerationRequest to the run's draft.json."""
    from ..questions.generation import GenerationRequest, estimate_llm_run, generate_questions

    request = GenerationRequest.from_params(params)
    estimate = _announce_estimate(ctx, request, estimate_llm_run)
    with llm_waits_shown(ctx), batches_cancelled_on_stop(ctx, [request.llm]):
        dataset, result = generate_questions(ctx.workspace, request, on_progress=_generator_progress(ctx))
    return _save_draft(ctx, dataset, result, request.llm, **estimate)


def run_router_job(ctx, params: dict) -> dict:
    """Writes the draft router dataset of a RouterRequest to the run's draft.json."""
    from ..questions.router.datasets import RouterRequest, estimate_router_run, generate_router_for_corpus

    request = RouterRequest.from_params(params)
    estimate = _announce_estimate(ctx, request, estimate_router_run)
    with llm_waits_shown(ctx), batches_cancelled_on_stop(ctx, [request.llm]):
        dataset, result = generate_router_for_corpus(ctx.workspace, request, on_progress=_generator_progress(ctx))
    # "questions" counts those kept after dropping the ones that fit two documents.
    return _save_draft(
        ctx, dataset, result, request.llm, tools=len(dataset.corpus), questions=len(dataset.queries), **estimate
    )


def _announce_estimate(ctx, request, estimate_run) -> dict:
    """Before an LLM run: what it should use and cost (`estimate_run(ws, request)`: tokens, requests the
    cache answers), as an "estimate" event and on the progress line; {"estimate": ...} for the run's
    result, beside what it used. Empty for the offline generator."""
    from ..llm.pricing import cost_estimate, describe_cost

    if request.llm is None:
        return {}
    usage, cached = estimate_run(ctx.workspace, request)
    estimate = cost_estimate(request.llm, usage, cached)
    ctx.emit(EventKind.ESTIMATE, **estimate)
    ctx.note(describe_cost(request.llm, usage.prompt_tokens, usage.completion_tokens).capitalize())
    return {"estimate": estimate}


@contextmanager
def llm_waits_shown(ctx) -> Iterator[None]:
    """Every LLM retry wait in the block shows on the run's progress line ("waiting for the server
    (HTTP 503), retry 2/5 in 8 s") until the next progress: a slow or hung endpoint is visible."""
    from ..llm.client import report_waits

    with report_waits(ctx.note):
        yield


@contextmanager
def batches_cancelled_on_stop(ctx, configs: list) -> Iterator[None]:
    """A job whose LLM calls go through the Batch API (any of `configs` with batch set) cancels its
    batches at the provider when it is cancelled: the provider would otherwise run, and bill, them
    to the end. Each is a "batch_cancelled" event; the job started again sends what they left undone."""
    if (
        not any(config is not None and config.batch for config in configs)
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return
    from ..llm.batch import cancel_batches_in_flight

    def cancel_then_exit(signum, frame) -> None:
        # Here, in the handler: once SystemExit has unwound the batch call, its batch is no longer in flight.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            for batch_id, outcome in cancel_batches_in_flight().items():
                ctx.emit(EventKind.BATCH_CANCELLED, batch_id=batch_id, outcome=outcome)
        finally:
            _exit_once(signum, frame)

    before = signal.signal(signal.SIGTERM, cancel_then_exit)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def _generator_progress(ctx):
    """A generator's progress (chunks done, in all, failed) as the run's."""
    return lambda done, total, failed: ctx.progress(done, total, f"{failed} failed")


def _save_draft(ctx, dataset, result, llm, **counts) -> dict:
    """Each failure as an event, the dataset as the run's draft.json, and the summary (with `counts`
    added to the generation's own, and the LLM's cost)."""
    from ..llm.pricing import estimate_cost
    from ..questions.drafts import DraftResult

    for item_id, why in result.failures:
        ctx.emit(EventKind.FAILURE, chunk_id=item_id, message=why)
    draft = ctx.run_dir / "draft.json"
    dataset.save(draft)
    cost = None if llm is None else estimate_cost(llm, result.usage.prompt_tokens, result.usage.completion_tokens)
    return DraftResult.of_generation(draft, result, cost, **counts).to_dict()


# --- training ---------------------------------------------------------------------------------
def run_training_job(ctx, params: dict) -> dict:
    """params {dataset_id, model_name, config: asdict(EmbeddingTrainConfig)}."""
    from ..training.config import EmbeddingTrainConfig

    result = _train(ctx, params, EmbeddingTrainConfig)
    return _with_verdict(ctx, result, f"{_stop_note(result)}{result.figures('ndcg@10')}")


def run_cross_encoder_job(ctx, params: dict) -> dict:
    """params {dataset_id, model_name, config: asdict(CrossEncoderTrainConfig)}."""
    from ..training.config import CrossEncoderTrainConfig

    result = _train(ctx, params, CrossEncoderTrainConfig)
    metric, weight = result.primary_metric, result.first_stage_weight
    blend = "" if weight is None else f", its score blended with the embedder's at weight {weight:.1f}"
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
    ctx.emit(EventKind.DURATION, estimated_seconds=plan.seconds, phases=plan.estimate.phases)
    meter = TrainingMeter(plan, ctx.progress, lambda event, data: ctx.emit(event, **data))
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
    meter.learn(ctx.elapsed())
    return TrainingRunResult(**result, estimated_seconds=round(plan.seconds, 1), seconds=round(ctx.elapsed(), 1))


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


def _across_sets(ctx, sizes: list[int]):
    """`progress(index)`: the on_progress of the set `index` (selectors done of all), as one bar over every
    set, each weighed by its queries: the bar never starts again at the next set."""

    def progress(index: int):
        before = sum(sizes[:index])
        return lambda done, total, message: ctx.progress(
            before * total + done * sizes[index], sum(sizes) * total, message
        )

    return progress


def exit_on_sigterm() -> None:
    """Cancel sends SIGTERM: exiting through Python runs the `finally` that removes the partial folder."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_once)


def _exit_once(signum, frame) -> None:
    # Cancel signals the whole process group and then each process: a second SIGTERM must not
    # interrupt the clean-up that the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(128 + signum)


# --- evaluation and routing -------------------------------------------------------------------
def run_evaluation_job(ctx, params: dict) -> dict:
    """params {dataset_id, part, models: [{label, path}]} (path None: the base model), and optionally
    rerankers: [{label, path}] that rerank the first model's top passages, and held_out: [dataset id]
    (evaluation-only sets, such as hand-written evidence-phrase questions) on which the same models
    and rerankers are evaluated too, every question of each, each set reported on its own."""
    from ..evaluation.retrieval import ModelSpec
    from ..evaluation.run_result import EvaluationRunResult
    from ..timing.pace import learn_pace

    models = [ModelSpec(m["label"], m.get("path")) for m in params["models"]]
    rerankers = [ModelSpec(r["label"], r["path"]) for r in params.get("rerankers", [])]
    sets = [(params["dataset_id"], params.get("part", "val")), *((held, "all") for held in params.get("held_out", []))]
    meter = _evaluation_meter(ctx, sets, models, rerankers)
    reports = _evaluate_dataset(ctx, sets[0], models, rerankers, meter, len(sets) > 1)
    result = {"reports": [r.report_id for r in reports], "metrics": {r.name: r.metrics for r in reports}}
    for held in sets[1:]:
        held_reports = _evaluate_dataset(ctx, held, models, rerankers, meter, True)
        result["reports"] += [r.report_id for r in held_reports]
        result.setdefault("held_out", {})[held[0]] = {r.name: r.metrics for r in held_reports}
    learn_pace(models[0].path, meter.done_seconds, ctx.elapsed())
    return EvaluationRunResult(
        **result, estimated_seconds=round(meter.estimate.seconds, 1), seconds=round(ctx.elapsed(), 1)
    ).to_dict()


def _evaluation_meter(ctx, sets: list[tuple[str, str]], models: list, rerankers: list):
    """A timing.Meter over every set's phases (evaluation.duration), reporting to the run's progress."""
    from ..evaluation.duration import estimate_evaluation
    from ..evaluation.reranking import RERANK_TOP_K
    from ..questions.qa_dataset import load_dataset
    from ..timing.work import Meter

    named = [(dataset_id, load_dataset(ctx.workspace, dataset_id), part) for dataset_id, part in sets]
    estimate = estimate_evaluation(named, [m.path for m in models], [r.path for r in rerankers], RERANK_TOP_K)
    ctx.emit(EventKind.DURATION, estimated_seconds=estimate.seconds, phases=estimate.phases)
    return Meter(estimate, ctx.progress)


def _evaluate_dataset(
    ctx, dataset_part: tuple[str, str], models: list, rerankers: list, meter, named_phases: bool
) -> list:
    """Evaluate `models` on one dataset part, the first reranked by each of `rerankers`; saved reports.
    Progress goes to `meter`, under phases named after the set when there are several (set_phase)."""
    from ..evaluation.duration import ENCODING, set_phase
    from ..evaluation.reranking import RERANK_TOP_K, rerank_and_save, reranked_name
    from ..evaluation.retrieval import evaluate_models
    from ..reporting.history import RETRIEVAL, recording

    dataset_id, part = dataset_part

    def on_phase(phase: str, done: int, total: int, message: str) -> None:
        meter(set_phase(dataset_id, phase) if named_phases else phase, done, total, message)

    labels = [m.label for m in models] + [reranked_name(models[0].label, r.label) for r in rerankers]
    settings = {"rerank_top_k": RERANK_TOP_K} if rerankers else {}
    with recording(ctx.workspace, RETRIEVAL, dataset_id, part, labels, ctx.run_id, settings) as record:
        kept, reports = record.add_report, []
        if rerankers:  # the first model is then evaluated as the rerankers' first stage, once
            reports = rerank_and_save(
                ctx.workspace, dataset_id, models[0], rerankers, part, on_phase=on_phase, on_saved=kept
            )
            models = models[1:]
        reports += evaluate_models(
            ctx.workspace,
            dataset_id,
            models,
            part,
            on_saved=kept,
            on_progress=lambda done, total, message: on_phase(ENCODING, done, total, message),
        )
    for report in reports:
        ctx.emit(EventKind.METRICS, model=report.name, metrics=report.metrics, dataset_id=dataset_id)
    return reports


def start_comparison_job(
    ws,
    dataset_id: str,
    specs: list,
    part: str = "val",
    secret_env: dict[str, str] | None = None,
    held_out: list[str] = (),
) -> JobStatus:
    """Start comparing `specs` (SelectorSpecs) in a worker, after checking the request here, so that a
    bad one fails at once. Every query of each `held_out` router dataset (hand-written queries,
    say) is routed too, each compared on its own. `secret_env` hands an API key to the worker."""
    from ..routing.compare import load_router_task
    from ..routing.llm_selector import FinetunedLLM
    from ..routing.specs import check_specs

    task = load_router_task(ws, dataset_id, part)
    for other in held_out:
        load_router_task(ws, other, "all")
    check_specs(specs)
    for spec in specs:  # a fine-tuned LLM routes only the tools it learned: refused now, not in the worker
        if spec.kind == "finetuned_llm":
            FinetunedLLM.load(spec.path).check_choices(task.choices)
    params = {
        "dataset_id": dataset_id,
        "part": task.part,
        "selectors": [spec.to_dict() for spec in specs],
        "held_out": list(held_out),
    }
    return start_job(
        ws,
        JobKind.COMPARE_SELECTORS,
        params,
        name=f"compare {len(specs)} selector(s)",
        dataset_id=dataset_id,
        secret_env=secret_env,
    )


def run_router_comparison_job(ctx, params: dict) -> dict:
    """params {dataset_id, part, selectors: [SelectorSpec dicts], held_out: [router dataset ids]}. An LLM
    selector in batch mode keeps its batch's state in the workspace's cache/llm_routing: the same
    comparison started again after a stop resumes the batch."""
    from ..reporting.history import recorded_comparison
    from ..routing.compare import load_router_task
    from ..routing.llm_selector import BATCH_STATES, batch_states_in
    from ..routing.run_result import ComparisonRunResult
    from ..routing.specs import SelectorSpec

    specs = [SelectorSpec.from_dict(data) for data in params["selectors"]]
    sets = [(params["dataset_id"], params.get("part", "val"))] + [(d, "all") for d in params.get("held_out", [])]
    configs = [spec.llm_config() for spec in specs]
    with (
        llm_waits_shown(ctx),
        batches_cancelled_on_stop(ctx, configs),
        batch_states_in(ctx.workspace.dir(*BATCH_STATES)),
    ):
        progress = _across_sets(ctx, [len(load_router_task(ctx.workspace, *named).queries) for named in sets])
        comparisons = [
            recorded_comparison(ctx.workspace, dataset_id, specs, part, progress(index), ctx.run_id)
            for index, (dataset_id, part) in enumerate(sets)
        ]
    for comparison in comparisons:
        for report in comparison.reports:
            ctx.emit(
                EventKind.MATCH_RATE,
                dataset_id=comparison.dataset_id,
                selector=report.name,
                match_rate=report.match_rate,
                failures=report.failures,
            )
        for label, error in comparison.failed:
            ctx.emit(EventKind.SELECTOR_FAILED, dataset_id=comparison.dataset_id, selector=label, error=error)
    for label, reason in comparisons[0].skipped:
        ctx.emit(EventKind.SKIPPED, selector=label, reason=reason)
    first = comparisons[0]
    result = {
        "comparison_id": first.comparison_id,
        "match_rates": {r.name: r.match_rate for r in first.reports},
        "skipped": [list(s) for s in first.skipped],
        "held_out": {c.dataset_id: {r.name: r.match_rate for r in c.reports} for c in comparisons[1:]},
    }
    if first.failed:
        result["failed"] = [list(f) for f in first.failed]
    return ComparisonRunResult(**result).to_dict()


# --- corpus -----------------------------------------------------------------------------------
def run_wiki_fetch_job(ctx, params: dict) -> dict:
    """params {endpoint, titles}: the pages as the run's fetched.json (corpus.wiki_fetch); a "title" event
    as each title is done, a "title_failed" event as one fails. The run fails only when no title loaded."""
    from ..corpus.wiki_fetch import fetch_into

    def fetched(done: int, total: int, title: str) -> None:
        ctx.emit(EventKind.TITLE, done=done, total=total, title=title)
        ctx.progress(done, total, f"fetched {done}/{total} titles · {title}")

    exit_on_sigterm()  # a cancel while the file is written removes its temporary copy
    summary = fetch_into(
        ctx.run_dir,
        params["endpoint"],
        params["titles"],
        ctx.workspace.dir("cache", "mediawiki"),
        on_progress=fetched,
        on_error=lambda error: ctx.emit(EventKind.TITLE_FAILED, title=error.name, message=error.message),
    )
    ctx.complete(f"{summary.documents} page(s) fetched, {len(summary.failed)} title(s) failed")
    return summary.to_dict()


def run_sleep_job(ctx, params: dict) -> dict:
    """Counts steps; optionally starts a grandchild (as dataloader or tokenizer pools do) or fails."""
    steps = int(params.get("steps", 10))
    if params.get("child_seconds"):
        child = subprocess.Popen(["sleep", str(params["child_seconds"])])
        ctx.emit(EventKind.CHILD, pid=child.pid)
    for step in range(1, steps + 1):
        time.sleep(float(params.get("seconds_per_step", 0.1)))
        ctx.emit(EventKind.STEP, step=step)
        ctx.progress(step, steps, f"step {step}/{steps}")
    if params.get("fail"):
        raise RuntimeError("asked to fail")
    return {"steps": steps}


TASKS = {
    JobKind.GENERATE_QUESTIONS: run_generation_job,
    JobKind.GENERATE_ROUTER_QUESTIONS: run_router_job,
    JobKind.TRAIN_EMBEDDING: run_training_job,
    JobKind.TRAIN_CROSS_ENCODER: run_cross_encoder_job,
    JobKind.TRAIN_LLM: run_llm_finetune_job,
    JobKind.EVALUATE: run_evaluation_job,
    JobKind.COMPARE_SELECTORS: run_router_comparison_job,
    JobKind.FETCH_WIKI_PAGES: run_wiki_fetch_job,
    JobKind.SLEEP: run_sleep_job,
}
