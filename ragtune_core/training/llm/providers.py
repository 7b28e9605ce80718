"""Where an LLM is fine-tuned, behind one interface: upload, create, status, events, checkpoints,
cancel, list.

- `OpenAIShapedProvider`: the OpenAI fine-tuning jobs API (`files.create(purpose="fine-tune")`,
  `fine_tuning.jobs.*`), also served by Azure OpenAI and LiteLLM's proxy: any base URL.
- `LocalProvider`: TRL + LoRA (`local.train_lora`) on a thread of this process (the job's worker),
  with the same job states and events.
- `together.TogetherProvider`: Together AI's own jobs API, the same chat JSONL.
- `fireworks.FireworksProvider`: Fireworks AI's supervised fine-tuning jobs of an account, the same chat JSONL.

`availability` says, before anyone builds data, whether a provider can fine-tune a base model and
why not. OpenAI takes no new fine-tuning jobs after 2027-01-06 and shuts its fine-tunable models
(and their fine-tunes) down on 2027-01-14: `OPENAI_NOTICE` says so wherever OpenAI is offered.
"""

from __future__ import annotations

import datetime
import functools
import importlib.util
import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import openai

from ...errors import RagtuneError
from ...llm import schemas
from ...llm.client import OPENAI_BASE_URL, LLMConfig, describe_error, make_client, wait_callback
from ...llm.retries import call_retrying
from ...network import Answer, read_answer

VALIDATING, QUEUED, RUNNING = "validating_files", "queued", "running"
SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"
ACTIVE_STATES, FINAL_STATES = (VALIDATING, QUEUED, RUNNING), (SUCCEEDED, FAILED, CANCELLED)

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
LOCAL_MODULES = ("trl", "peft")


class ProviderError(RagtuneError):
    """A provider that refused or failed a request; the message says which and why."""


@dataclass
class Availability:
    usable: bool
    reason: str  # why not, or what will be used
    notice: str = ""  # dates a user must know (OpenAI's end of fine-tuning)


@dataclass
class ProviderJob:
    id: str
    state: str  # one of ACTIVE_STATES + FINAL_STATES
    base_model: str
    fine_tuned_model: str | None = None  # a model id (hosted) or a folder (local), once succeeded
    error: str | None = None
    trained_tokens: int | None = None
    created: float = 0.0
    metrics: dict = field(default_factory=dict)  # the final metrics a local training returns


@dataclass
class JobEvent:
    id: str
    created: float
    message: str
    kind: str = "message"  # "message" or "metrics"
    level: str = "info"
    data: dict = field(default_factory=dict)  # metrics: step, train_loss, train_mean_token_accuracy, valid_*


@dataclass
class Checkpoint:
    id: str
    step: int
    model: str
    metrics: dict = field(default_factory=dict)


class FineTuneProvider(Protocol):
    name: str
    inference_base_url: str | None  # where a model fine-tuned here answers (hosted; None: OpenAI's API, or local)

    def availability(self, base_model: str) -> Availability: ...
    def upload(self, path: Path) -> str: ...
    def create(
        self,
        base_model: str,
        train_file: str,
        val_file: str | None = None,
        epochs: int | None = None,
        suffix: str | None = None,
    ) -> ProviderJob: ...
    def status(self, job_id: str) -> ProviderJob: ...
    def events(self, job_id: str) -> list[JobEvent]: ...  # oldest first
    def checkpoints(self, job_id: str) -> list[Checkpoint]: ...
    def cancel(self, job_id: str) -> ProviderJob: ...
    def list(self, limit: int = 20) -> list[ProviderJob]: ...


class HostedProvider:
    """A provider behind an HTTP API: the endpoint's settings, and one SDK client made on first use."""

    def __init__(self, config: LLMConfig):
        self.config = config

    @functools.cached_property
    def client(self) -> openai.OpenAI:
        return make_client(self.config)

    @property
    def inference_base_url(self) -> str | None:
        """Where a model fine-tuned here answers (None: OpenAI's API): this endpoint, unless a provider
        says otherwise."""
        return self.config.base_url

    def _send(self, request, *args, retrying: bool = True, **kwargs):
        """`request(*args, **kwargs)`, retried through 429s, 5xx and dropped connections up to the endpoint's
        `max_retries` (each wait told to the `report_waits` callback in effect). `retrying=False` sends it
        once: a job's creation, which a 5xx may answer after the job was made, so that a retry would train
        (and bill) twice."""
        retries = self.config.max_retries if retrying else 0
        return call_retrying(lambda: request(*args, **kwargs), retries, wait_callback(None))


class JobsAPIProvider(HostedProvider):
    """A provider with a fine-tuning API of its own (Together, Fireworks), asked in JSON through the SDK's
    client (its key handling, host allow-list and errors), not a second HTTP stack. A subclass names the
    provider in messages (`label`), says what its users must know (`notice`), and which path answers
    where its API is served (`probe_path`)."""

    label = ""
    notice = ""
    probe_path = ""
    not_found_hint = ""  # added to the reason a server without the API (404) is refused

    @classmethod
    def default_base_url(cls) -> str:
        """Where the provider's API is when no base URL is given."""
        raise NotImplementedError

    def availability(self, base_model: str) -> Availability:
        refused = "name the base model to fine-tune" if not base_model.strip() else self._refusal()
        if refused:
            return Availability(False, refused, self.notice)
        try:
            self.client.get(self.probe_path, cast_to=object)
        except openai.NotFoundError:
            return Availability(
                False,
                f"{self.config.base_url} has no {self.label} fine-tuning API "
                f"({self.probe_path} answered 404){self.not_found_hint}",
                self.notice,
            )
        except (openai.APIError, ValueError) as exc:
            return Availability(False, f"{self.config.base_url} cannot be asked: {describe_error(exc)}", self.notice)
        return Availability(True, f"fine-tune {base_model} (LoRA) at {self.label}", self.notice)

    def _refusal(self) -> str | None:
        """Why this endpoint's settings cannot reach the API at all (asked before any request), or None."""
        return None

    def _request(
        self, what: str, method: str, path: str, shape: type[Answer] = Answer, retrying: bool = True, **kwargs
    ) -> dict:
        """The JSON object `method` ("get", "post"...) at `path` answers, checked as `shape` (llm/schemas.py)
        and given back as a dict of its fields; ProviderError saying what was refused or missing."""
        refused = self._refusal()
        if refused:
            raise ProviderError(f"{self.label} cannot be asked to {what}: {refused}")
        try:
            answer = self._send(getattr(self.client, method), path, cast_to=object, retrying=retrying, **kwargs)
        except (openai.APIError, ValueError) as exc:
            raise ProviderError(f"{self.label} refused to {what}: {describe_error(exc)}") from exc
        return read_answer(shape, answer, f"{self.label} ({self.config.base_url}{path})", ProviderError).model_dump()


def epoch_seconds(when: str | int | float | None) -> float:
    """A time given as an ISO date (or epoch seconds), as epoch seconds; 0 when absent."""
    if isinstance(when, (int, float)):
        return float(when)
    try:
        return datetime.datetime.fromisoformat(str(when).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def newest_first(jobs, limit: int) -> list[ProviderJob]:
    """At most `limit` of `jobs`, the newest first (for a provider that lists them in another order)."""
    return sorted(jobs, key=lambda job: job.created, reverse=True)[:limit]


# --- OpenAI-shaped -------------------------------------------------------------------------------
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


# --- local ---------------------------------------------------------------------------------------
# The local trainer's metrics event keys, by the names hosted events use.
_LOCAL_METRICS = {
    "step": "step",
    "epoch": "epoch",
    "max_steps": "total_steps",
    "loss": "train_loss",
    "token_accuracy": "train_mean_token_accuracy",
    "eval_loss": "valid_loss",
    "eval_token_accuracy": "valid_mean_token_accuracy",
}


class LocalProvider:
    """TRL + LoRA fine-tuning on a thread of this process: `create` starts it, the other calls watch it.

    `settings` are the fields of `local.LocalLLMSettings`; a job's folder is `output_dir/<job id>`
    unless `output_dir` is the folder itself (`single_job=True`, as a worker training one model)."""

    name = "local"
    inference_base_url = None  # a local model answers from its folder

    def __init__(self, output_dir: Path, settings: dict | None = None, single_job: bool = False):
        self.output_dir = Path(output_dir)
        self.settings = settings or {}
        self.single_job = single_job
        self._jobs: dict[str, _LocalJob] = {}
        self._ids = itertools.count(1)

    def availability(self, base_model: str = "") -> Availability:
        missing = [m for m in LOCAL_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            return Availability(False, f"local fine-tuning needs {', '.join(missing)}: pip install {' '.join(missing)}")
        if importlib.util.find_spec("ragtune_core.training.llm.local") is None:
            return Availability(False, "the local trainer (ragtune_core.training.llm.local) is not installed")
        return Availability(True, f"TRL + LoRA on this machine's CPU{f', from {base_model}' if base_model else ''}")

    def upload(self, path: Path) -> str:
        path = Path(path)
        if not path.is_file():
            raise ProviderError(f"no training file {str(path)!r}")
        return str(path)

    def create(
        self,
        base_model: str,
        train_file: str,
        val_file: str | None = None,
        epochs: int | None = None,
        suffix: str | None = None,
    ) -> ProviderJob:
        from .local import LocalLLMSettings, train_lora  # torch, transformers and TRL load only here

        settings = LocalLLMSettings.from_dict(
            {
                **self.settings,
                **({"base_model": base_model} if base_model else {}),
                **({"epochs": epochs} if epochs else {}),
            }
        )
        job_id = f"local-{next(self._ids)}"
        job = _LocalJob(ProviderJob(job_id, QUEUED, base_model, created=time.time()))
        output = self.output_dir if self.single_job else self.output_dir / job_id
        args = (Path(train_file), Path(val_file) if val_file else None, output, settings)
        job.thread = threading.Thread(target=job.run, args=(train_lora, *args), daemon=True, name=job_id)
        self._jobs[job_id] = job
        job.thread.start()
        return job.snapshot()

    def _get(self, job_id: str) -> _LocalJob:
        if job_id not in self._jobs:
            raise ProviderError(f"no local job {job_id!r} in this process")
        return self._jobs[job_id]

    def status(self, job_id: str) -> ProviderJob:
        return self._get(job_id).snapshot()

    def events(self, job_id: str) -> list[JobEvent]:
        return list(self._get(job_id).events)

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        return []  # a local run keeps its best model only

    def cancel(self, job_id: str) -> ProviderJob:
        job = self._get(job_id)
        job.stop.set()
        return job.snapshot()

    def wait(self, job_id: str, timeout: float | None = None) -> ProviderJob:
        self._get(job_id).thread.join(timeout)
        return self.status(job_id)

    def list(self, limit: int = 20) -> list[ProviderJob]:
        return [job.snapshot() for job in list(self._jobs.values())[::-1][:limit]]


class _LocalJob:
    def __init__(self, job: ProviderJob):
        self.job = job
        self.events: list[JobEvent] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def snapshot(self) -> ProviderJob:
        with self.lock:
            return ProviderJob(**vars(self.job))

    def record(self, event: dict) -> None:
        """A trainer event ({"type": "metrics" | "state", ...}) as a JobEvent, in the hosted shape."""
        kind = event.get("type")
        if kind == "state":
            message, data, kind = f"state: {event.get('state')}", {}, "message"
        elif kind == "metrics":
            data = {name: event.get(key) for key, name in _LOCAL_METRICS.items() if event.get(key) is not None}
            message = f"step {event.get('step')}" + "".join(
                f", {k}={v:.4g}" for k, v in data.items() if k not in ("step", "epoch", "total_steps")
            )
        else:
            message, data, kind = str(event.get("message") or event), {}, "message"
        with self.lock:
            if self.job.state == QUEUED:
                self.job.state = RUNNING
            self.events.append(JobEvent(f"{self.job.id}-{len(self.events) + 1}", time.time(), message, kind, data=data))

    def run(self, train_lora, *args) -> None:
        self.record({"type": "state", "state": RUNNING})
        try:
            result = train_lora(*args, on_event=self.record, should_stop=self.stop.is_set)
        except Exception as exc:  # reported as the job's failure, as a hosted job's would be
            if self.stop.is_set():  # the trainer stops by raising once asked to
                self._finish(CANCELLED)
            else:
                self._finish(FAILED, error=f"{type(exc).__name__}: {exc}")
            return
        metrics = result.get("metrics") or {}
        self._finish(
            SUCCEEDED,
            model=result["model_path"],
            base_model=result.get("base_model"),
            tokens=metrics.get("tokens"),
            metrics=metrics,
        )

    def _finish(
        self,
        state: str,
        error: str | None = None,
        model: str | None = None,
        base_model: str | None = None,
        tokens: int | None = None,
        metrics: dict | None = None,
    ) -> None:
        with self.lock:
            self.job.state, self.job.error, self.job.fine_tuned_model = state, error, model
            self.job.base_model = base_model or self.job.base_model
            self.job.trained_tokens, self.job.metrics = tokens, metrics or {}
            self.events.append(
                JobEvent(
                    f"{self.job.id}-{len(self.events) + 1}",
                    time.time(),
                    f"state: {state}" + (f" ({error})" if error else ""),
                    level="error" if error else "info",
                )
            )


PROVIDERS = ("local", "openai", "together", "fireworks")
