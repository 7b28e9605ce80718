"""What a run is in and what it reports: the words that status.json, events.jsonl and the catalogue hold.

Both are str enums: the files keep the same strings, files written before load as they did, and a
member compares equal to its string. A module of the bottom floor, since the store, the training
stage, the jobs, the CLI and the pages all use them.
"""

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # by the user
    INTERRUPTED = "interrupted"  # its worker stopped without finishing


ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING)


class EventKind(StrEnum):
    """The name of an event (a line of a run's events.jsonl, or what a training reports to its caller)."""

    # a training's (training.fit, training.search, training.embedding/cross_encoder, TrainingMeter)
    PREPARE = "prepare"  # passages embedded or ranked before the first step
    VALIDATING = "validating"  # pairs scored so far in a validation or test run that takes seconds
    SCHEDULE = "schedule"
    PROGRESS = "progress"
    TRAIN_STEP = "train_step"
    EVAL = "eval"
    BEST = "best"
    SEARCH = "search"
    TRIAL = "trial"
    # an LLM fine-tuning's (training.llm)
    STATE = "state"  # shown on the progress line, not logged
    PROVIDER_JOB = "provider_job"
    PROVIDER_EVENT = "provider_event"
    METRICS = "metrics"  # a fine-tuning's step metrics, an evaluation's report
    # any job's (jobs.tasks, jobs.worker)
    DURATION = "duration"
    ESTIMATE = "estimate"
    ERROR = "error"
    FAILURE = "failure"  # a chunk a generator could not use
    BATCH_CANCELLED = "batch_cancelled"
    MATCH_RATE = "match_rate"
    SELECTOR_FAILED = "selector_failed"
    SKIPPED = "skipped"
    TITLE = "title"
    TITLE_FAILED = "title_failed"
    CHILD = "child"
    STEP = "step"
