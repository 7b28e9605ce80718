"""Where an LLM is fine-tuned, behind one interface: upload, create, status, events, checkpoints,
cancel, list. This module holds the interface (`FineTuneProvider`), the job states and the shapes every
provider answers in (`ProviderJob`, `JobEvent`, `Checkpoint`, `Availability`); the providers are:

- `openai_shaped.OpenAIShapedProvider`: the OpenAI fine-tuning jobs API (`files.create(purpose="fine-tune")`,
  `fine_tuning.jobs.*`), also served by Azure OpenAI and LiteLLM's proxy: any base URL.
- `local_provider.LocalProvider`: TRL + LoRA (`local.train_lora`) on a thread of this process (the job's
  worker), with the same job states and events.
- `together.TogetherProvider`: Together AI's own jobs API, the same chat JSONL.
- `fireworks.FireworksProvider`: Fireworks AI's supervised fine-tuning jobs of an account, the same chat JSONL.

The hosted ones share `hosted.HostedProvider`. `availability` says, before anyone builds data, whether a
provider can fine-tune a base model and why not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ...errors import RagtuneError

VALIDATING, QUEUED, RUNNING = "validating_files", "queued", "running"
SUCCEEDED, FAILED, CANCELLED = "succeeded", "failed", "cancelled"
ACTIVE_STATES, FINAL_STATES = (VALIDATING, QUEUED, RUNNING), (SUCCEEDED, FAILED, CANCELLED)


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


PROVIDERS = ("local", "openai", "together", "fireworks")
