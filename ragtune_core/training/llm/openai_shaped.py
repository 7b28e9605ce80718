"""The OpenAI fine-tuning jobs API behind the provider interface (`providers.FineTuneProvider`):
`files.create(purpose="fine-tune")` and `fine_tuning.jobs.*`, at OpenAI or any base URL that serves it
(Azure OpenAI, LiteLLM's proxy).

OpenAI takes no new fine-tuning jobs after 2027-01-06 and shuts its fine-tunable models (and their
fine-tunes) down on 2027-01-14: `OPENAI_NOTICE` says so wherever OpenAI is offered.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import openai

from ...llm import schemas
from ...llm.client import describe_error
from ...llm.config import OPENAI_BASE_URL, LLMConfig
from ...network import Answer, read_answer
from .hosted import HostedProvider
from .providers import Availability, Checkpoint, JobEvent, ProviderError, ProviderJob

OPENAI_LAST_JOB_DAY = datetime.date(2027, 1, 6)
OPENAI_SHUTDOWN_DAY = datetime.date(2027, 1, 14)
OPENAI_NOTICE = (
    "OpenAI takes no new fine-tuning jobs after 6 January 2027 (many organisations are closed "
    "already), and shuts the fine-tunable models down on 14 January 2027, their fine-tunes with "
    "them: a model fine-tuned there stops answering that day. The local provider has no end date."
)
# OpenAI's fine-tunable chat models (supervised), by snapshot.
OPENAI_FINE_TUNABLE = (
    "gpt-4o-mini-2024-07-18",
    "gpt-4o-2024-08-06",
    "gpt-4.1-2025-04-14",
    "gpt-4.1-mini-2025-04-14",
    "gpt-4.1-nano-2025-04-14",
)


class OpenAIShapedProvider(HostedProvider):
    """Fine-tuning through an OpenAI-compatible jobs API at `config.base_url` (None: OpenAI)."""

    def __init__(self, config: LLMConfig, today: datetime.date | None = None):
        super().__init__(config)
        self.name = "openai" if config.is_openai else f"OpenAI-compatible {config.base_url}"
        self.today = today or datetime.date.today()

    def availability(self, base_model: str) -> Availability:
        notice = OPENAI_NOTICE if self.config.is_openai else ""
        refused = self._refusal(base_model)
        if refused:
            return Availability(False, refused, notice)
        try:
            self.client.fine_tuning.jobs.list(limit=1)
        except openai.NotFoundError:
            return Availability(
                False,
                f"{self._where()} has no fine-tuning API (/v1/fine_tuning/jobs answered "
                "404): it serves models but cannot fine-tune them",
                notice,
            )
        except (openai.APIError, ValueError) as exc:
            return Availability(False, f"{self._where()} cannot be asked: {describe_error(exc)}", notice)
        served = self._served_models()
        if served is not None and base_model not in served:
            return Availability(False, f"{base_model!r} is not among the models {self._where()} lists", notice)
        return Availability(True, f"fine-tune {base_model} at {self._where()}", notice)

    def _refusal(self, base_model: str) -> str | None:
        if not base_model.strip():
            return "name the base model to fine-tune"
        if not self.config.is_openai:
            return None
        if self.today > OPENAI_SHUTDOWN_DAY:
            return "OpenAI shut its fine-tunable models down on 14 January 2027"
        if self.today > OPENAI_LAST_JOB_DAY:
            return "OpenAI takes no new fine-tuning jobs since 6 January 2027"
        if base_model not in OPENAI_FINE_TUNABLE:
            return f"{base_model!r} cannot be fine-tuned on OpenAI; these can: {', '.join(OPENAI_FINE_TUNABLE)}"
        return None

    def _served_models(self) -> set[str] | None:
        """The models the endpoint lists, or None when it lists none (not every server does)."""
        if self.config.is_openai:
            return None
        try:
            return {model.id for model in self.client.models.list()}
        except (openai.APIError, ValueError):
            return None

    def _where(self) -> str:
        return "OpenAI" if self.config.is_openai else self.config.base_url

    def _call(self, what: str, shape: type[Answer], path: str, request, *args, **kwargs):
        """What `request` answers, checked as `shape`; ProviderError naming the endpoint and what was refused
        or missing."""
        try:
            answer = self._send(request, *args, **kwargs)
        except (openai.APIError, ValueError) as exc:
            raise ProviderError(f"{self._where()} refused to {what}: {describe_error(exc)}") from exc
        return read_answer(shape, answer, f"{self.config.base_url or OPENAI_BASE_URL}{path}", ProviderError)

    def upload(self, path: Path) -> str:
        path = Path(path)
        return self._call(
            f"take {path.name}",
            schemas.FileAnswer,
            "/files",
            self.client.files.create,
            file=(path.name, path.read_bytes()),
            purpose="fine-tune",
        ).id

    def create(
        self,
        base_model: str,
        train_file: str,
        val_file: str | None = None,
        epochs: int | None = None,
        suffix: str | None = None,
    ) -> ProviderJob:
        options = {"validation_file": val_file} if val_file else {}
        if suffix:
            options["suffix"] = suffix
        method = {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": epochs or "auto"}}}
        return _job(
            self._call(
                "create the job",
                schemas.FineTuningJob,
                _JOBS,
                self.client.fine_tuning.jobs.create,
                model=base_model,
                training_file=train_file,
                method=method,
                retrying=False,
                **options,
            )
        )

    def status(self, job_id: str) -> ProviderJob:
        return _job(
            self._call(
                f"report job {job_id}",
                schemas.FineTuningJob,
                f"{_JOBS}/{job_id}",
                self.client.fine_tuning.jobs.retrieve,
                job_id,
            )
        )

    def events(self, job_id: str) -> list[JobEvent]:
        page = self._call(
            f"list the events of {job_id}",
            schemas.FineTuningEvents,
            f"{_JOBS}/{job_id}/events",
            self.client.fine_tuning.jobs.list_events,
            job_id,
            limit=100,
        )
        return [
            JobEvent(
                e.id, e.created_at, e.message, e.type or "message", e.level, e.data if isinstance(e.data, dict) else {}
            )
            for e in reversed(page.data)
        ]

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        page = self._call(
            f"list the checkpoints of {job_id}",
            schemas.FineTuningCheckpoints,
            f"{_JOBS}/{job_id}/checkpoints",
            self.client.fine_tuning.jobs.checkpoints.list,
            job_id,
        )
        return sorted(
            (
                Checkpoint(
                    c.id,
                    c.step_number,
                    c.fine_tuned_model_checkpoint,
                    {k: v for k, v in c.metrics.items() if v is not None},
                )
                for c in page.data
            ),
            key=lambda c: c.step,
        )

    def cancel(self, job_id: str) -> ProviderJob:
        return _job(
            self._call(
                f"cancel {job_id}",
                schemas.FineTuningJob,
                f"{_JOBS}/{job_id}/cancel",
                self.client.fine_tuning.jobs.cancel,
                job_id,
            )
        )

    def list(self, limit: int = 20) -> list[ProviderJob]:
        page = self._call(
            "list its jobs", schemas.FineTuningJobs, _JOBS, self.client.fine_tuning.jobs.list, limit=limit
        )
        return [_job(job) for job in page.data]


_JOBS = "/fine_tuning/jobs"


def _job(job: schemas.FineTuningJob) -> ProviderJob:
    error = job.error.message if job.error and job.error.message else None
    return ProviderJob(job.id, job.status, job.model, job.fine_tuned_model, error, job.trained_tokens, job.created_at)
