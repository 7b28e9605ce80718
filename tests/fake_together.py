"""Together AI's fine-tuning API on the loopback fake server (served with fine_tuning=True).

The jobs are `fake_openai.FakeFineTuning`'s, advancing as they do there, shown the way Together shows
them: `/v1/files/upload` (multipart: file, file_name, purpose), `/v1/fine-tunes[/ID[/events|
/checkpoints|/cancel]]`, Together's states (pending, queued, running, completed, error, cancelled),
ISO times, the output model as `output_name`, and a failed job's reason only in its events.
"""

from __future__ import annotations

import datetime
import json
import re

_ROUTE = re.compile(r"^/v1/fine-tunes(?:/([^/]+)(?:/(cancel|events|checkpoints))?)?$")
_STATES = {
    "validating_files": "pending",
    "queued": "queued",
    "running": "running",
    "succeeded": "completed",
    "failed": "error",
    "cancelled": "cancelled",
}


def answer(ft, method: str, path: str, raw: bytes, content_type: str, parse_multipart) -> tuple[int, dict] | None:
    """(status, body) for a Together files or fine-tunes request on `ft` (a FakeFineTuning); None otherwise."""
    if method == "POST" and path == "/v1/files/upload":
        fields, filename = parse_multipart(raw, content_type)
        if "file_name" not in fields:
            return 400, {"error": {"message": "file_name is required"}}
        return ft.upload(fields, fields["file_name"].decode() or filename)
    match = _ROUTE.match(path)
    if not match:
        return None
    job_id, action = match.groups()
    if job_id is None:
        if method == "POST":
            return _created(ft, json.loads(raw or b"{}"))
        return 200, {"object": "list", "data": [_job(ft, j, ft.jobs[j]) for j in ft.jobs]}
    if job_id not in ft.jobs:
        return 404, {"error": {"message": f"fine-tune job {job_id} not found"}}
    if action == "cancel" and method == "POST":
        return 200, _job(ft, job_id, ft.cancel(job_id))
    if action == "events":  # oldest first
        return 200, {"object": "list", "data": [_event(e) for e in ft.events[job_id]]}
    if action == "checkpoints":
        return 200, {
            "data": [
                {
                    "type": "Intermediate",
                    "timestamp": iso_time(c["created_at"]),
                    "name": f"{ft.jobs[job_id]['fine_tuned_model'] or job_id}-step-{c['step_number']}",
                }
                for c in ft.checkpoints[job_id]
            ]
        }
    return 200, _job(ft, job_id, ft.retrieve(job_id))


def _created(ft, body: dict) -> tuple[int, dict]:
    if body.get("lora") is not True:
        return 400, {"error": {"message": "only LoRA fine-tunes are served here"}}
    status, job = ft.create(
        {
            "model": body.get("model"),
            "training_file": body.get("training_file"),
            "validation_file": body.get("validation_file"),
            "suffix": body.get("suffix"),
        }
    )
    return (status, job) if status != 200 else (200, _job(ft, job["id"], job))


def _job(ft, job_id: str, job: dict) -> dict:
    model = job["fine_tuned_model"]
    return {
        "id": job_id,
        "status": _STATES[job["status"]],
        "model": job["model"],
        "created_at": iso_time(job["created_at"]),
        "output_name": model and model.replace("ft:", "fake-org/"),
        "token_count": job["trained_tokens"],
        "training_file": job["training_file"],
        "lora": True,
        "events": [_event(e) for e in ft.events[job_id]],
    }


def _event(event: dict) -> dict:
    return {
        "object": "fine-tune-event",
        "created_at": iso_time(event["created_at"]),
        "message": event["message"],
        "level": {"error": "Error"}.get(event["level"], "Info"),
        "type": "JOB_ERROR" if event["level"] == "error" else "JOB_PENDING",
    }


def iso_time(seconds: int) -> str:
    """Epoch seconds as the ISO date (UTC, "Z") Together and Fireworks give."""
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat().replace("+00:00", "Z")
