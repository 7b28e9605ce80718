"""The adapters of the question-generation jobs: a QA or a router dataset generated into the run's
draft.json, an LLM run's estimate announced before it and its cost summed after."""

from __future__ import annotations

from ..runs import EventKind
from .llm_calls import batches_cancelled_on_stop, llm_waits_shown


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
    from ..questions.router.request import RouterRequest, estimate_router_run, generate_router_for_corpus

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
