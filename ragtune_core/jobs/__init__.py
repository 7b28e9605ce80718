"""Background jobs: a worker process per run, its status and events on disk, and every job kind."""

from ..runs import ACTIVE_STATES, EventKind, JobState
from .comparison_tasks import start_comparison_job
from .llm_finetune import follow_again, followable_runs, provider_job_of, start_llm_finetune_job
from .runner import (
    STOPPABLE_KINDS,
    JobError,
    JobKind,
    JobStatus,
    active_jobs,
    cancel_job,
    list_jobs,
    read_events,
    read_status,
    request_stop,
    start_job,
    status_path,
    stop_pending,
    wait,
)
from .training_tasks import training_job_params

__all__ = [
    "ACTIVE_STATES",
    "EventKind",
    "JobState",
    "JobError",
    "STOPPABLE_KINDS",
    "JobStatus",
    "start_job",
    "read_status",
    "read_events",
    "cancel_job",
    "request_stop",
    "stop_pending",
    "list_jobs",
    "active_jobs",
    "wait",
    "status_path",
    "JobKind",
    "training_job_params",
    "start_comparison_job",
    "start_llm_finetune_job",
    "follow_again",
    "followable_runs",
    "provider_job_of",
]
