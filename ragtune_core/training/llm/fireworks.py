"""Fireworks AI's fine-tuning API behind the provider interface (`providers.FineTuneProvider`).

Fireworks trains a LoRA adapter on the chat JSONL OpenAI takes (messages with tool calls, tools) as a
supervised fine-tuning job of an account. Every path is under `/v1/accounts/<account-id>`, so the
provider's base URL names the account (`fireworks_base_url` makes it, from $FIREWORKS_ACCOUNT_ID by
default), and `availability` refuses a base URL without one. Each chat file becomes a dataset
(created, then its file posted to `:upload`, then awaited until READY), which the job names; the job's
states map onto the states every provider shows, and a failure's reason is its `status.message`.

Fireworks has no events or checkpoints API for these jobs: `events` are derived from the job's state
and times (its creation, then one event per state it is found in), and `checkpoints` is empty.

The fine-tuned model answers at Fireworks' OpenAI-compatible inference endpoint (`inference_base_url`:
`https://api.fireworks.ai/inference/v1`), not at the management API it was trained through, and only
once it is deployed: `FIREWORKS_NOTICE` says so wherever Fireworks is offered.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from ...llm import schemas
from .hosted import JobsAPIProvider, epoch_seconds, newest_first
from .providers import (
    CANCELLED,
    FAILED,
    QUEUED,
    RUNNING,
    SUCCEEDED,
    VALIDATING,
    Checkpoint,
    JobEvent,
    ProviderError,
    ProviderJob,
)

FIREWORKS_API = "https://api.fireworks.ai/v1"
FIREWORKS_ACCOUNT_ENV = "FIREWORKS_ACCOUNT_ID"
FIREWORKS_INFERENCE = "https://api.fireworks.ai/inference/v1"
FIREWORKS_NOTICE = (
    "A Fireworks fine-tune (a LoRA adapter) answers only once it is deployed: as a serverless LoRA "
    "where Fireworks serves its base model so (`firectl load-lora MODEL`), else on an on-demand "
    "deployment (`firectl create deployment MODEL`), billed by the hour until you delete it. It "
    f"answers at Fireworks' inference endpoint ({FIREWORKS_INFERENCE}), which RAGTune records with "
    f"it; the base URL here is the account's fine-tuning API, {FIREWORKS_API}/accounts/<account-id> "
    f"(${FIREWORKS_ACCOUNT_ENV} fills it in)."
)
FIREWORKS_LORA_RANK = 8  # sent, not left to Fireworks: a job without a LoRA rank may train every weight
BASE_MODELS = "accounts/fireworks/models/"  # where a base model named without its account lives
# Fireworks' job states, by the states all providers share (a job being deleted has stopped for good).
_STATES = {
    "JOB_STATE_UNSPECIFIED": QUEUED,
    "JOB_STATE_CREATING": QUEUED,
    "JOB_STATE_VALIDATING": VALIDATING,
    "JOB_STATE_RUNNING": RUNNING,
    "JOB_STATE_WRITING_RESULTS": RUNNING,
    "JOB_STATE_EVALUATION": RUNNING,
    "JOB_STATE_ROLLOUT": RUNNING,
    "JOB_STATE_COMPLETED": SUCCEEDED,
    "JOB_STATE_FAILED": FAILED,
    "JOB_STATE_CANCELLED": CANCELLED,
    "JOB_STATE_DELETING": CANCELLED,
}
_QUIET_STATES = ("JOB_STATE_UNSPECIFIED", "JOB_STATE_CREATING")  # what a new job is: its creation event says so
_DATASET_WAIT_SECONDS = 120.0  # a dataset is READY moments after its upload; past this, something is wrong
_ACCOUNT_PATH = re.compile(r"/accounts/([^/]+)$")


def fireworks_base_url(account: str | None = None) -> str:
    """Fireworks' API for `account` (default: $FIREWORKS_ACCOUNT_ID); without one, the bare API, which
    `availability` refuses, saying how to name the account."""
    account = (os.environ.get(FIREWORKS_ACCOUNT_ENV, "") if account is None else account).strip()
    return f"{FIREWORKS_API}/accounts/{account}" if account else FIREWORKS_API


def inference_url(base_url: str) -> str:
    """The OpenAI-compatible inference endpoint beside Fireworks' API at `base_url`, on the same host
    (https://api.fireworks.ai/v1/accounts/acme -> https://api.fireworks.ai/inference/v1)."""
    return re.sub(r"(/v1)?(/accounts/[^/]+)?$", "", base_url, count=1) + "/inference/v1"


class FireworksProvider(JobsAPIProvider):
    """Supervised fine-tuning jobs of the Fireworks account `config.base_url` names (the key as for any endpoint)."""

    name = "fireworks"
    label = "Fireworks"
    notice = FIREWORKS_NOTICE
    probe_path = "/supervisedFineTuningJobs"
    not_found_hint = ": is the account id at the end of the base URL right?"

    @classmethod
    def default_base_url(cls) -> str:
        return fireworks_base_url()

    def __init__(self, config):
        super().__init__(config)
        self._found: dict[str, dict] = {}  # each job as `status` last found it: what `events` tells of

    @property
    def account(self) -> str | None:
        found = _ACCOUNT_PATH.search(urlsplit(self.config.base_url or "").path)
        return found.group(1) if found else None

    @property
    def inference_base_url(self) -> str | None:
        return inference_url(self.config.base_url) if self.config.base_url else None

    def _refusal(self) -> str | None:
        if self.account:
            return None
        return (
            f"the base URL names no Fireworks account: give {FIREWORKS_API}/accounts/<account-id> (or set "
            f"${FIREWORKS_ACCOUNT_ENV} for the default)"
        )

    def upload(self, path: Path) -> str:
        path = Path(path)
        content = path.read_bytes()
        dataset_id = _resource_id(path.stem)
        self._request(
            f"create dataset {dataset_id}",
            "post",
            "/datasets",
            body={
                "datasetId": dataset_id,
                "dataset": {
                    "userUploaded": {},
                    "exampleCount": sum(1 for line in content.splitlines() if line.strip()),
                },
            },
        )
        self._request(
            f"take {path.name}",
            "post",
            f"/datasets/{dataset_id}:upload",
            files=[("file", (path.name, content))],
            options={"headers": {"Content-Type": "multipart/form-data"}},
        )
        self._await_dataset(dataset_id)
        return f"accounts/{self.account}/datasets/{dataset_id}"

    def _await_dataset(self, dataset_id: str) -> None:
        """Back once the dataset is READY; ProviderError if it fails, or takes too long."""
        deadline, pause = time.monotonic() + _DATASET_WAIT_SECONDS, 0.25
        while True:
            state = self._request(
                f"report dataset {dataset_id}", "get", f"/datasets/{dataset_id}", shape=schemas.FireworksDataset
            )["state"]
            if state == "READY":
                return
            if state not in ("UPLOADING", "STATE_UNSPECIFIED", "DATASET_STATE_UNSPECIFIED", None):
                raise ProviderError(f"Fireworks could not take dataset {dataset_id}: it is {state}")
            if time.monotonic() + pause > deadline:
                raise ProviderError(
                    f"Fireworks' dataset {dataset_id} is still {state} after "
                    f"{_DATASET_WAIT_SECONDS:.0f} s: see the account's datasets in its console"
                )
            time.sleep(pause)
            pause = min(pause * 2, 5.0)

    def create(
        self,
        base_model: str,
        train_file: str,
        val_file: str | None = None,
        epochs: int | None = None,
        suffix: str | None = None,
    ) -> ProviderJob:
        body = {
            "dataset": train_file,
            "baseModel": base_model if "/" in base_model else BASE_MODELS + base_model,
            "loraRank": FIREWORKS_LORA_RANK,
        }
        if val_file:
            body["evaluationDataset"] = val_file
        if epochs:
            body["epochs"] = epochs
        if suffix:  # the fine-tuned model is named after it (by default Fireworks names it after the job)
            body.update(displayName=suffix, outputModel=f"accounts/{self.account}/models/{_resource_id(suffix)}")
        return self._keep(
            self._request(
                "create the job",
                "post",
                "/supervisedFineTuningJobs",
                body=body,
                shape=schemas.FireworksJob,
                retrying=False,
            )
        )

    def status(self, job_id: str) -> ProviderJob:
        return self._keep(self._request(f"report job {job_id}", "get", _job_path(job_id), shape=schemas.FireworksJob))

    def _keep(self, job: dict) -> ProviderJob:
        found = _job(job)
        self._found[found.id] = job
        return found

    def events(self, job_id: str) -> list[JobEvent]:
        """Derived from the job as `status` last found it (Fireworks has no events API for these jobs)."""
        job_id = _short(job_id)
        if job_id not in self._found:
            self.status(job_id)
        return _events(self._found[job_id])

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        return []  # Fireworks keeps the final adapter only (no checkpoints API for these jobs)

    def cancel(self, job_id: str) -> ProviderJob:
        # Fireworks' own cancel (POST ...:cancel, what `firectl supervised-fine-tuning-job cancel` asks), not
        # DELETE: a cancelled job stays listed as CANCELLED, where a deleted one would vanish, and its reason with it.
        self._request(f"cancel {job_id}", "post", f"{_job_path(job_id)}:cancel", body={})
        return self.status(job_id)

    def list(self, limit: int = 20) -> list[ProviderJob]:
        listed = self._request(
            "list its jobs",
            "get",
            "/supervisedFineTuningJobs",
            options={"params": {"pageSize": limit}},
            shape=schemas.FireworksJobs,
        )
        return newest_first((_job(j) for j in listed.get("supervisedFineTuningJobs") or []), limit)


def _resource_id(stem: str) -> str:
    """A Fireworks resource id (lower-case letters, digits, hyphens; a letter first) from `stem`, with a
    unique tail: "train" -> "ragtune-train-3f9a1c2b"."""
    slug = re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-")[:40].strip("-")
    return f"ragtune-{slug + '-' if slug else ''}{uuid.uuid4().hex[:8]}"


def _short(job_id: str) -> str:
    """A job's id from its id or its name ("accounts/acme/supervisedFineTuningJobs/abc" -> "abc")."""
    return job_id.rsplit("/", 1)[-1]


def _job_path(job_id: str) -> str:
    return f"/supervisedFineTuningJobs/{_short(job_id)}"


def _job(job: dict) -> ProviderJob:
    state = _STATES.get(job.get("state"), RUNNING)
    return ProviderJob(
        _short(job.get("name") or ""),
        state,
        job.get("baseModel") or "",
        job.get("outputModel") if state == SUCCEEDED else None,
        _failure(job) if state == FAILED else None,
        None,
        epoch_seconds(job.get("createTime")),
    )


def _failure(job: dict) -> str:
    return (job.get("status") or {}).get("message") or "the job failed (Fireworks gave no reason)"


def _events(job: dict) -> list[JobEvent]:
    """What the job itself tells: its creation, and the state it is in (one event per state, by id, so
    a follower that keeps the ids it has seen tells each state it finds once)."""
    job_id, state = _short(job.get("name") or ""), job.get("state") or "JOB_STATE_UNSPECIFIED"
    events = [
        JobEvent(
            f"{job_id}-created",
            epoch_seconds(job.get("createTime")),
            f"created fine-tuning job {job_id} of {job.get('baseModel')} on {job.get('dataset')}",
        )
    ]
    if state not in _QUIET_STATES:
        failed = _STATES.get(state) == FAILED
        when = job.get("completedTime") or job.get("updateTime") or job.get("createTime")
        events.append(
            JobEvent(
                f"{job_id}-{state}",
                epoch_seconds(when),
                f"state: {state.removeprefix('JOB_STATE_').lower()}" + (f" ({_failure(job)})" if failed else ""),
                level="error" if failed else "info",
            )
        )
    return events
