"""A fine-tuning of an LLM from start to registered model: what a TRAIN_LLM job runs.

`check_request` is the pre-flight a page or the CLI calls before starting a job (model name,
saved chat data, provider availability, the data's own pre-flight). `fine_tune_llm` reserves the
model name, uploads the chat data, creates the provider's job and follows it (status, events,
metrics) to its end, then registers the model as a workspace model of kind "llm": a folder with
`llm_model.json` (hosted model id or local weights, tools and their hash, base model, data,
metrics). A cancel (SIGTERM in a worker) cancels the provider's job too; any failure gives the
name up.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated

from ...llm.config import LLMConfig
from ...llm.pricing import price_table
from ...routing.llm_selector import HOSTED, LOCAL, FinetunedLLM
from ...runs import EventKind
from ...store.models import LLM
from ...store.run_results import RunResult
from ...store.shapes import limit, settings
from ...store.workspace import Workspace, WorkspaceError
from ..config import TrainingError
from ..register import check_model_name
from .data import SYSTEM_PROMPT, ChatData, chat_data_paths, load_chat_data
from .fireworks import FireworksProvider
from .local_provider import LocalProvider
from .openai_shaped import OpenAIShapedProvider
from .preflight import PreflightReport, local_token_counter, run_preflight
from .providers import ACTIVE_STATES, PROVIDERS, SUCCEEDED, FineTuneProvider, ProviderJob
from .together import TogetherProvider

OnEvent = Callable[[str, dict], None]
# Hosted providers with a jobs API of their own, by name; any other hosted name is OpenAI-shaped.
_OWN_APIS = {provider.name: provider for provider in (TogetherProvider, FireworksProvider)}
DEFAULT_POLL_SECONDS = 10.0  # hosted jobs take minutes to hours: no need to ask more often
# Jobs end within hours (queues included); past this, following stops and the job is cancelled, so that
# no job left behind trains, and bills, unseen.
DEFAULT_MAX_WAIT_HOURS = 72.0
MAX_HOSTED_EPOCHS = 50  # OpenAI's most
# What a run's "metrics" events carry, read from either provider's metrics events.
METRIC_FIELDS = ("train_loss", "train_mean_token_accuracy", "valid_loss", "valid_mean_token_accuracy")


@settings(TrainingError, frozen=False)
class LLMFinetuneRequest:
    SETTINGS_NAME = "LLM fine-tuning request"

    data_name: str  # chat data saved under llm_data/
    model_name: str  # the workspace model to register
    provider: str = "local"  # one of PROVIDERS
    base_model: str = ""  # hosted: required; local: "" is the offline SmolLM2
    epochs: Annotated[
        int | None, limit("passes over the training lines", 1, MAX_HOSTED_EPOCHS, none_means="the provider's auto")
    ] = None
    llm: dict | None = None  # hosted: public LLMConfig settings of the endpoint (its key comes from the environment)
    settings: dict = field(default_factory=dict)  # local: LocalLLMSettings fields
    suffix: str | None = None  # hosted: added to the fine-tuned model's name
    poll_seconds: float = DEFAULT_POLL_SECONDS
    max_wait_hours: float = DEFAULT_MAX_WAIT_HOURS  # how long the job is followed before it is given up
    # Hosted: follow this job of the provider instead of uploading and creating one (jobs.follow_again).
    provider_job_id: str | None = None
    api_key: str | None = field(default=None, repr=False, compare=False)  # never stored

    def __post_init__(self) -> None:
        if self.provider not in PROVIDERS:
            raise TrainingError(f"provider must be one of {', '.join(PROVIDERS)}, not {self.provider!r}")
        if self.provider != "local" and not (self.base_model or "").strip():
            raise TrainingError("a hosted fine-tuning needs the base model's name (e.g. gpt-4.1-mini-2025-04-14)")
        if self.provider != "local" and self.llm is None:
            raise TrainingError("a hosted fine-tuning needs the endpoint's settings (base URL; key in the environment)")
        if self.poll_seconds <= 0:
            raise TrainingError("poll_seconds must be more than 0")
        if self.max_wait_hours <= 0:
            raise TrainingError("max_wait_hours must be more than 0")
        if self.provider_job_id is not None and self.provider == "local":
            raise TrainingError("a local fine-tuning stops with its worker: there is no job to follow again")
        default_url = default_base_url(self.provider)
        if default_url and not self.llm.get("base_url"):
            self.llm = {**self.llm, "base_url": default_url}

    def llm_config(self) -> LLMConfig:
        config = LLMConfig.from_public_dict({**self.llm, "model": self.base_model})
        config.api_key = self.api_key
        return config

    def provider_for(self, output_dir: Path) -> FineTuneProvider:
        if self.provider == "local":
            return LocalProvider(output_dir, self.settings, single_job=True)
        return hosted_provider(self.provider, self.llm_config())

    def to_params(self) -> dict:
        """Job parameters: `config` holds the request (runner reserves `model_name` with its base model)."""
        config = asdict(self)
        del config["api_key"]
        return {"model_name": self.model_name, "config": config}

    @classmethod
    def from_params(cls, params: dict) -> LLMFinetuneRequest:
        config = params.get("config")
        if not isinstance(config, dict):
            raise TrainingError("the job's parameters have no fine-tuning request")
        if "api_key" in config:
            raise TrainingError("api_key must not be stored with the request: pass it in the environment")
        return cls(**config)


def hosted_provider(name: str, config: LLMConfig) -> FineTuneProvider:
    """The hosted provider `name` ("openai": any OpenAI-shaped endpoint; "together", "fireworks") at
    `config`'s endpoint."""
    return _OWN_APIS.get(name, OpenAIShapedProvider)(config)


def default_base_url(name: str) -> str | None:
    """The endpoint a hosted provider trains at when none is given: Together's API, Fireworks' API for
    $FIREWORKS_ACCOUNT_ID; None for an OpenAI-shaped one (the server's endpoint, else OpenAI's)."""
    return _OWN_APIS[name].default_base_url() if name in _OWN_APIS else None


def check_request(ws: Workspace, request: LLMFinetuneRequest) -> tuple[ChatData, PreflightReport]:
    """Everything checkable before a job starts; TrainingError naming the first obstacle."""
    check_model_name(ws, request.model_name, "LLM")
    data = load_chat_data(ws, request.data_name)
    availability = request.provider_for(ws.model_dir(request.model_name)).availability(request.base_model)
    if not availability.usable:
        raise TrainingError(f"{request.provider} cannot fine-tune: {availability.reason}")
    count_tokens = local_token_counter(request.base_model) if request.provider == "local" else None
    report = run_preflight(
        data.train, data.val, request.base_model, request.epochs, count_tokens=count_tokens, prices=price_table(ws)
    )
    if not report.ok:
        raise TrainingError("the chat data fails its pre-flight check: " + "; ".join(report.errors))
    return data, report


@dataclass(kw_only=True)
class LLMFinetuneResult(RunResult):
    """What an LLM fine-tuning run (jobs' train_llm) keeps, typed: the model it registered and the provider's
    job that trained it. Built by fine_tune_llm, parsed once where it is read (store.run_results)."""

    model_id: str
    model_name: str
    model_path: str
    provider: str  # "local", "openai", "together", "fireworks"
    provider_job: str  # the provider's job id
    fine_tuned_model: str | None  # a hosted model id; None for a local LoRA (its folder is model_path)
    base_model: str
    tools_hash: str  # the tools it learned to route (training.llm.data)
    trained_tokens: int | None = None
    metrics: dict[str, float | int | str] = field(default_factory=dict)  # the provider's final metrics


def fine_tune_llm(
    ws: Workspace, request: LLMFinetuneRequest, on_event: OnEvent | None = None, run_id: str | None = None
) -> LLMFinetuneResult:
    """Fine-tune on the request's chat data and register the model; returns the run's result.

    Example:
        >>> fine_tune_llm(ws, LLMFinetuneRequest("cities-chat", "cities-smollm2"), print)
    """
    on_event = on_event or (lambda event, data: None)
    model_name = check_model_name(ws, request.model_name, "LLM", run_id)
    data = load_chat_data(ws, request.data_name)
    try:
        reserved = ws.reserve_model(model_name, LLM, request.base_model or "local default", run_id=run_id)
    except WorkspaceError as exc:
        raise TrainingError(str(exc)) from exc
    folder = Path(reserved.path)
    try:
        provider = request.provider_for(folder)
        job, last = _run_job(provider, request, data, chat_data_paths(ws, request.data_name), on_event)
        metrics = _final_metrics(job, last)
        if request.provider != "local":
            folder.mkdir(parents=True)
        FinetunedLLM(
            LOCAL if request.provider == "local" else HOSTED,
            job.base_model,
            data.tools,
            SYSTEM_PROMPT,
            model_id=None if request.provider == "local" else job.fine_tuned_model,
            base_url=provider.inference_base_url,
            provider=request.provider,
            dataset_id=data.dataset_id,
            metrics=metrics,
            data_name=request.data_name,
        ).save(folder)
        record = ws.commit_model(
            reserved.id, metrics={**metrics, "tools_hash": data.tools_hash}, dataset_id=data.dataset_id
        )
    except BaseException:
        ws.release_model(reserved.id)
        raise
    return LLMFinetuneResult(
        model_id=record.id,
        model_name=record.name,
        model_path=str(folder),
        provider=request.provider,
        provider_job=job.id,
        fine_tuned_model=job.fine_tuned_model,
        base_model=job.base_model,
        tools_hash=data.tools_hash,
        trained_tokens=job.trained_tokens,
        metrics=metrics,
    )


def _run_job(
    provider: FineTuneProvider, request: LLMFinetuneRequest, data: ChatData, paths: tuple[Path, Path], on_event: OnEvent
) -> tuple[ProviderJob, dict]:
    """Upload, create and follow the provider's job to its end: (the job, its last metrics). A stop
    (SIGTERM, Ctrl-C) cancels the provider's job."""
    if request.provider_job_id:
        job = provider.status(request.provider_job_id)
    else:
        train_path, val_path = paths
        on_event(EventKind.STATE, {"state": "uploading", "message": f"uploading {len(data.train)} training lines"})
        train_file = provider.upload(train_path)
        val_file = provider.upload(val_path) if data.val else None
        job = provider.create(request.base_model, train_file, val_file, request.epochs, request.suffix)
    on_event(EventKind.PROVIDER_JOB, {"job_id": job.id, "provider": provider.name, "state": job.state})
    seen: set[str] = set()
    last: dict = {}
    pause = request.poll_seconds if request.provider != "local" else min(request.poll_seconds, 1.0)
    deadline = time.monotonic() + request.max_wait_hours * 3600
    try:
        while True:
            job = provider.status(job.id)
            _forward_events(provider, job, seen, last, on_event)
            if job.state not in ACTIVE_STATES:
                break
            if time.monotonic() + pause > deadline:
                raise TrainingError(
                    f"the {request.provider} fine-tuning job {job.id} is still {job.state} after "
                    f"{request.max_wait_hours:g} h of waiting for it to end: it is cancelled, so that "
                    "it trains and bills no further (train-llm --max-wait-hours waits longer)"
                )
            time.sleep(pause)
    except BaseException:
        provider.cancel(job.id)
        if isinstance(provider, LocalProvider):
            provider.wait(job.id, timeout=3.0)  # let the trainer stop and clean up, briefly
        raise
    if job.state != SUCCEEDED:
        raise TrainingError(
            f"the {request.provider} fine-tuning job {job.id} {job.state}" + (f": {job.error}" if job.error else "")
        )
    return job, last


def _forward_events(
    provider: FineTuneProvider, job: ProviderJob, seen: set[str], last: dict, on_event: OnEvent
) -> None:
    """New provider events as run events; `last` keeps the latest value of each metric."""
    for event in provider.events(job.id):
        if event.id in seen:
            continue
        seen.add(event.id)
        if event.kind == "metrics":
            metrics = {k: v for k, v in event.data.items() if k in ("step", "total_steps", "epoch", *METRIC_FIELDS)}
            last.update({k: v for k, v in metrics.items() if k in METRIC_FIELDS})
            on_event(EventKind.METRICS, metrics)
        else:
            on_event(EventKind.PROVIDER_EVENT, {"message": event.message, "level": event.level, "state": job.state})
    waiting = "waiting for " if job.state in ACTIVE_STATES else ""
    on_event(
        EventKind.STATE,
        {
            "state": job.state,
            "message": f"{waiting}{provider.name} job {job.id}{' to end' if waiting else ''}: {job.state}",
        },
    )


def _final_metrics(job: ProviderJob, last: dict) -> dict:
    """The provider's final metrics (local), else the last value of each metric its events gave."""
    merged = {**last, **job.metrics, "trained_tokens": job.trained_tokens}
    return {k: v for k, v in merged.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)}
