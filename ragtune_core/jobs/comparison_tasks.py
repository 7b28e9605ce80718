"""The adapters of the comparison jobs: retrieval models (and rerankers) evaluated on a dataset and its
held-out sets, selectors compared on a router dataset, with the starter that checks a comparison first."""

from __future__ import annotations

from ..runs import EventKind
from .llm_calls import batches_cancelled_on_stop, llm_waits_shown
from .runner import JobKind, JobStatus, start_job


def run_evaluation_job(ctx, params: dict) -> dict:
    """params {dataset_id, part, models: [{label, path}]} (path None: the base model), and optionally
    rerankers: [{label, path}] that rerank the first model's top passages, and held_out: [dataset id]
    (evaluation-only sets, such as hand-written evidence-phrase questions) on which the same models
    and rerankers are evaluated too, every question of each, each set reported on its own."""
    from ..evaluation.retrieval import ModelSpec
    from ..evaluation.run_result import EvaluationRunResult
    from ..timing.pace import Work, learn_pace

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
    learn_pace(models[0].path, Work.EVALUATION, meter.timed())
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
    ctx.count_in_estimated_seconds()
    return Meter(estimate, ctx.progress, ctx.elapsed)


def _evaluate_dataset(
    ctx, dataset_part: tuple[str, str], models: list, rerankers: list, meter, named_phases: bool
) -> list:
    """Evaluate `models` on one dataset part, the first reranked by each of `rerankers`; saved reports.
    Progress goes to `meter`, under phases named after the set when there are several (set_phase)."""
    from ..evaluation.duration import ENCODING, set_phase
    from ..evaluation.reranking import RERANK_TOP_K, rerank_and_save, rerank_names
    from ..evaluation.retrieval import evaluate_models
    from ..reporting.history import RETRIEVAL, recording

    dataset_id, part = dataset_part

    def on_phase(phase: str, done: int, total: int, message: str) -> None:
        meter(set_phase(dataset_id, phase) if named_phases else phase, done, total, message)

    labels = [m.label for m in models] + rerank_names(models[0].label, rerankers)
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
    from ..routing.duration import (
        comparison_phase,
        comparison_sets,
        endpoint_paces,
        estimate_comparison,
        learn_from_comparison,
    )
    from ..routing.llm_selector import BATCH_STATES, batch_states_in
    from ..routing.run_result import ComparisonRunResult
    from ..routing.specs import SelectorSpec
    from ..timing.work import Meter

    specs = [SelectorSpec.from_dict(data) for data in params["selectors"]]
    sets = [(params["dataset_id"], params.get("part", "val"))] + [(d, "all") for d in params.get("held_out", [])]
    tasks = comparison_sets(ctx.workspace, sets)
    estimate = estimate_comparison(tasks, specs, endpoint_paces(ctx.workspace, specs))
    ctx.emit(EventKind.DURATION, estimated_seconds=estimate.seconds, phases=estimate.phases)
    ctx.count_in_estimated_seconds()
    meter = Meter(estimate, ctx.progress, ctx.elapsed)

    def on_phase(name: str):  # one bar over every set, in the estimate's seconds
        return lambda phase, done, total, message: meter(comparison_phase(tasks, name, phase), done, total, message)

    configs = [spec.llm_config() for spec in specs]
    with (
        llm_waits_shown(ctx),
        batches_cancelled_on_stop(ctx, configs),
        batch_states_in(ctx.workspace.dir(*BATCH_STATES)),
    ):
        comparisons = [
            recorded_comparison(ctx.workspace, dataset_id, specs, part, on_phase(name), ctx.run_id)
            for (dataset_id, part), (name, _) in zip(sets, tasks, strict=True)
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
    learn_from_comparison(tasks, specs, meter.timed_phases())
    timed = {"estimated_seconds": round(estimate.seconds, 1), "seconds": round(ctx.elapsed(), 1)}
    return ComparisonRunResult(**result, **timed).to_dict()
