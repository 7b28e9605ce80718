"""Local fine-tuning behind the provider interface (`providers.FineTuneProvider`): TRL + LoRA
(`local.train_lora`) on a thread of this process (the job's worker), with the hosted providers' job
states and events."""

from __future__ import annotations

import importlib.util
import itertools
import threading
import time
from pathlib import Path

from .providers import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    Availability,
    Checkpoint,
    JobEvent,
    ProviderError,
    ProviderJob,
)

LOCAL_MODULES = ("trl", "peft")

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
