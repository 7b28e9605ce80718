"""Together AI's fine-tuning API behind the provider interface (`providers.FineTuneProvider`).

Together takes the chat JSONL OpenAI takes (messages with tool calls, tools) and trains a LoRA adapter
by default, through its own paths (`/files/upload`, `/fine-tunes`) and job states, mapped here onto
the states every provider shows. Requests go through the `openai` SDK's client (its key handling,
host allow-list and errors), not a second HTTP stack. The fine-tuned model answers through Together's
OpenAI-compatible chat endpoint once it is deployed: `TOGETHER_NOTICE` says so wherever Together is
offered.
"""

from __future__ import annotations

import re
from pathlib import Path

from ...llm import schemas
from .hosted import JobsAPIProvider, epoch_seconds, newest_first
from .providers import CANCELLED, FAILED, QUEUED, RUNNING, SUCCEEDED, Checkpoint, JobEvent, ProviderJob

TOGETHER_BASE_URL = "https://api.together.xyz/v1"
TOGETHER_NOTICE = (
    "A Together fine-tune answers only once it is deployed: start a dedicated endpoint for the "
    "fine-tuned model (Together's console, or `together endpoints create --model NAME`) before you "
    "compare it here, and stop it afterwards, as a running endpoint bills by the minute."
)
# Together's job states, by the states all providers share ("cancel_requested" is still running).
_STATES = {
    "pending": QUEUED,
    "queued": QUEUED,
    "running": RUNNING,
    "compressing": RUNNING,
    "uploading": RUNNING,
    "cancel_requested": RUNNING,
    "completed": SUCCEEDED,
    "error": FAILED,
    "cancelled": CANCELLED,
}


class TogetherProvider(JobsAPIProvider):
    """Fine-tuning at Together's API (`config.base_url`; the key as for any endpoint)."""

    name = "together"
    label = "Together"
    notice = TOGETHER_NOTICE
    probe_path = "/fine-tunes"

    @classmethod
    def default_base_url(cls) -> str:
        return TOGETHER_BASE_URL

    def upload(self, path: Path) -> str:
        path = Path(path)
        answer = self._request(
            f"take {path.name}",
            "post",
            "/files/upload",
            body={"purpose": "fine-tune", "file_name": path.name, "file_type": "jsonl"},
            files=[("file", (path.name, path.read_bytes()))],
            options={"headers": {"Content-Type": "multipart/form-data"}},
            shape=schemas.FileAnswer,
        )
        return answer["id"]

    def create(
        self,
        base_model: str,
        train_file: str,
        val_file: str | None = None,
        epochs: int | None = None,
        suffix: str | None = None,
    ) -> ProviderJob:
        body = {"model": base_model, "training_file": train_file, "lora": True}
        if val_file:
            body.update(validation_file=val_file, n_evals=max(1, epochs or 1))  # a validation loss per epoch
        if epochs:
            body["n_epochs"] = epochs
        if suffix:
            body["suffix"] = suffix
        return _job(
            self._request("create the job", "post", "/fine-tunes", body=body, shape=schemas.TogetherJob, retrying=False)
        )

    def status(self, job_id: str) -> ProviderJob:
        return _job(self._request(f"report job {job_id}", "get", f"/fine-tunes/{job_id}", shape=schemas.TogetherJob))

    def events(self, job_id: str) -> list[JobEvent]:
        listed = self._request(
            f"list the events of {job_id}", "get", f"/fine-tunes/{job_id}/events", shape=schemas.TogetherEvents
        )
        events = [
            JobEvent(
                f"{job_id}-event-{number}",
                epoch_seconds(e.get("created_at")),
                e.get("message") or "",
                level="error" if str(e.get("level", "")).lower() == "error" else "info",
            )
            for number, e in enumerate(listed.get("data") or [], start=1)
        ]
        return sorted(events, key=lambda e: e.created)  # stable: equal times keep Together's order

    def checkpoints(self, job_id: str) -> list[Checkpoint]:
        listed = self._request(
            f"list the checkpoints of {job_id}",
            "get",
            f"/fine-tunes/{job_id}/checkpoints",
            shape=schemas.TogetherCheckpoints,
        )
        found = [
            Checkpoint(c.get("name") or c.get("path") or "", _step(c), c.get("name") or c.get("path") or "")
            for c in listed.get("data") or []
        ]
        return sorted(found, key=lambda c: c.step)

    def cancel(self, job_id: str) -> ProviderJob:
        return _job(
            self._request(f"cancel {job_id}", "post", f"/fine-tunes/{job_id}/cancel", shape=schemas.TogetherJob)
        )

    def list(self, limit: int = 20) -> list[ProviderJob]:
        listed = self._request("list its jobs", "get", "/fine-tunes", shape=schemas.TogetherJobs)
        return newest_first((_job(j) for j in listed.get("data") or []), limit)


def _job(job: dict) -> ProviderJob:
    state = _STATES.get(job.get("status"), RUNNING)
    error = None
    if state == FAILED:  # Together says why in the job's last error event
        errors = [e.get("message") for e in job.get("events") or [] if str(e.get("level", "")).lower() == "error"]
        error = errors[-1] if errors else "the job failed (Together gave no reason)"
    return ProviderJob(
        job["id"],
        state,
        job.get("model") or "",
        job.get("output_name") or job.get("model_output_name"),
        error,
        job.get("token_count"),
        epoch_seconds(job.get("created_at")),
    )


def _step(checkpoint: dict) -> int:
    """A checkpoint's step: its own field, else the one its name ends with ("...-step-24")."""
    if isinstance(checkpoint.get("step"), int):
        return checkpoint["step"]
    found = re.search(r"step[-_]?(\d+)$", checkpoint.get("name") or checkpoint.get("path") or "")
    return int(found.group(1)) if found else 0
