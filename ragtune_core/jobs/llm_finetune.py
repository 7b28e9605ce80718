"""Starting an LLM fine-tuning run, and following again a hosted one whose worker stopped while the
provider's job ran on (and billed): its run keeps the provider's job id in a "provider_job" event, and
a new run follows that job to its end instead of creating another. The worker's adapter of these runs
is `training_tasks.run_llm_finetune_job`."""

from __future__ import annotations

import dataclasses

from ..runs import EventKind, JobState
from .runner import JobError, JobKind, JobStatus, read_events, read_status, start_job, status_path


def start_llm_finetune_job(ws, request) -> JobStatus:
    """Start fine-tuning an LLM (an LLMFinetuneRequest) in a worker, after its pre-flight here, so that
    a bad request fails at once; a hosted provider's key reaches the worker through its environment."""
    from ..training.llm.finetune import check_request

    check_request(ws, request)
    secret_env = request.llm_config().secret_env() if request.provider != "local" else None
    return start_job(
        ws, JobKind.TRAIN_LLM, request.to_params(), name=f"fine-tune LLM · {request.model_name}", secret_env=secret_env
    )


def provider_job_of(ws, run_id: str) -> str | None:
    """The provider's job id an LLM fine-tuning run created (its "provider_job" event), if any."""
    return next((e.get("job_id") for e in read_events(ws, run_id) if e["event"] == EventKind.PROVIDER_JOB), None)


def followable_runs(ws) -> dict[str, str]:
    """{run id: provider job id} of the hosted fine-tunings whose worker stopped (run "interrupted")
    after creating their job, which the provider may still be running and billing; a job that a later
    run follows is left out."""
    runs = sorted(ws.list_runs(JobKind.TRAIN_LLM), key=lambda run: run.created)
    followable = {}
    for run in runs:
        followed = (run.params.get("config") or {}).get("provider_job_id")
        followable = {run_id: job for run_id, job in followable.items() if job != followed}
        if not status_path(ws, run.id).exists() or read_status(ws, run.id).state != JobState.INTERRUPTED:
            continue
        job_id = provider_job_of(ws, run.id)
        if job_id and (run.params.get("config") or {}).get("provider") != "local":
            followable[run.id] = job_id
    return followable


def follow_again(ws, run_id: str, api_key: str | None = None) -> JobStatus:
    """Start a run that follows an interrupted hosted run's provider job (see followable_runs) to its
    end and registers the model under the same name; the endpoint's key as for the first run (typed in,
    or the environment's)."""
    from ..training.llm.finetune import LLMFinetuneRequest

    job_id = followable_runs(ws).get(run_id)
    if job_id is None:
        raise JobError(
            f"run {run_id!r} is not a hosted fine-tuning interrupted while its provider's job "
            "ran (see ragtune llm-jobs)"
        )
    request = LLMFinetuneRequest.from_params(ws.get_run(run_id).params)
    return start_llm_finetune_job(ws, dataclasses.replace(request, provider_job_id=job_id, api_key=api_key))
