"""Fireworks AI's fine-tuning API on the loopback fake server (served with fine_tuning=True).

The jobs are `fake_openai.FakeFineTuning`'s, advancing as they do there, shown the way Fireworks shows
them under `/v1/accounts/<account>`: datasets (`POST .../datasets`, then the file posted to
`.../datasets/ID:upload`; an uploaded dataset reads UPLOADING once, then READY, and a job refuses one
that is not READY), supervised fine-tuning jobs (`.../supervisedFineTuningJobs[/ID[:cancel]]`: create,
get, list, cancel), Fireworks' job states, ISO times, the output model as
`accounts/<account>/models/<id>`, a failure's reason in `status.message`, and errors as Fireworks'
gateway gives them ({"code", "message", "details"}). Account `UNKNOWN_ACCOUNT` has no API here (404),
as an account that does not exist has none at Fireworks. Fine-tuned models answer at fake_openai's
chat, under Fireworks' inference path `/inference/v1` too.
"""

from __future__ import annotations

import json
import re
import weakref

from tests.fake_together import iso_time

UNKNOWN_ACCOUNT = "no-such-account"
BASE_MODELS = "accounts/fireworks/models/"
_ACCOUNT_ROUTE = re.compile(r"^/v1/accounts/([^/]+)(/.*)$")
_DATASET_ROUTE = re.compile(r"^/datasets/([^/:]+)(:upload)?$")
_JOB_ROUTE = re.compile(r"^/supervisedFineTuningJobs(?:/([^/:]+)(:cancel)?)?$")
_RESOURCE_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_STATES = {
    "validating_files": "JOB_STATE_VALIDATING",
    "queued": "JOB_STATE_CREATING",
    "running": "JOB_STATE_RUNNING",
    "succeeded": "JOB_STATE_COMPLETED",
    "failed": "JOB_STATE_FAILED",
    "cancelled": "JOB_STATE_CANCELLED",
}
_CODES = {400: 3, 404: 5, 409: 6}  # gRPC's INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS
# What Fireworks knows beside each FakeFineTuning's files and jobs: {"datasets": {id: ...}, "jobs": {id: body}}.
_ACCOUNTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def created(ft) -> dict[str, dict]:
    """The body each Fireworks job of `ft` was created with (its account under "account"), by job id."""
    return _known(ft)["jobs"]


def answer(ft, method: str, path: str, raw: bytes, content_type: str, parse_multipart) -> tuple[int, dict] | None:
    """(status, body) for a Fireworks datasets or jobs request on `ft` (a FakeFineTuning); None otherwise."""
    match = _ACCOUNT_ROUTE.match(path)
    if not match:
        return None
    account, rest = match.groups()
    if account == UNKNOWN_ACCOUNT:
        return _error(404, f"account {account} not found")
    if rest == "/datasets" and method == "POST":
        return _new_dataset(ft, account, json.loads(raw or b"{}"))
    dataset = _DATASET_ROUTE.match(rest)
    if dataset:
        dataset_id, upload = dataset.groups()
        if upload:
            return _uploaded(ft, account, dataset_id, raw, content_type, parse_multipart)
        return _dataset(ft, account, dataset_id)
    job = _JOB_ROUTE.match(rest)
    if not job:
        return None
    job_id, cancel = job.groups()
    if job_id is None:
        if method == "POST":
            return _new_job(ft, account, json.loads(raw or b"{}"))
        mine = [j for j, body in created(ft).items() if body["account"] == account]
        return 200, {"supervisedFineTuningJobs": [_job(ft, j, ft.jobs[j]) for j in mine], "nextPageToken": ""}
    if created(ft).get(job_id, {}).get("account") != account:
        return _error(404, f"supervised fine-tuning job {job_id} not found")
    if cancel:
        ft.cancel(job_id)
        return 200, {}  # Fireworks answers a cancel with an empty object
    return 200, _job(ft, job_id, ft.retrieve(job_id))


def _known(ft) -> dict:
    with ft.lock:
        return _ACCOUNTS.setdefault(ft, {"datasets": {}, "jobs": {}})


def _error(status: int, message: str) -> tuple[int, dict]:
    return status, {"code": _CODES[status], "message": message, "details": []}


def _new_dataset(ft, account: str, body: dict) -> tuple[int, dict]:
    dataset_id = body.get("datasetId") or ""
    if not _RESOURCE_ID.match(dataset_id):
        return _error(400, f"invalid dataset id {dataset_id!r}: lower-case letters, digits and hyphens, a letter first")
    if "userUploaded" not in (body.get("dataset") or {}):
        return _error(400, "dataset.userUploaded is required for a dataset uploaded by its user")
    datasets = _known(ft)["datasets"]
    if dataset_id in datasets:
        return _error(409, f"dataset {dataset_id} already exists")
    datasets[dataset_id] = {"account": account, "reads": 0, "exampleCount": body["dataset"].get("exampleCount")}
    return 200, {"name": f"accounts/{account}/datasets/{dataset_id}", "state": "UPLOADING"}


def _uploaded(ft, account: str, dataset_id: str, raw: bytes, content_type: str, parse_multipart) -> tuple[int, dict]:
    dataset = _known(ft)["datasets"].get(dataset_id)
    if dataset is None or dataset["account"] != account:
        return _error(404, f"dataset {dataset_id} not found")
    fields, filename = parse_multipart(raw, content_type)
    if "file" not in fields:
        return _error(400, "the upload has no file field")
    with ft.lock:  # a FakeFineTuning file, so that its jobs validate and train on it
        ft.files[dataset_id] = {"content": fields["file"], "purpose": "fine-tune", "filename": filename}
    dataset["uploaded"] = True
    return 200, {}


def _dataset(ft, account: str, dataset_id: str) -> tuple[int, dict]:
    dataset = _known(ft)["datasets"].get(dataset_id)
    if dataset is None or dataset["account"] != account:
        return _error(404, f"dataset {dataset_id} not found")
    if dataset.get("uploaded"):
        dataset["reads"] += 1
    return 200, {
        "name": f"accounts/{account}/datasets/{dataset_id}",
        "exampleCount": dataset["exampleCount"],
        "state": _dataset_state(dataset),
    }


def _dataset_state(dataset: dict) -> str:
    return "READY" if dataset["reads"] > 1 else "UPLOADING"  # the first read after the upload finds it UPLOADING


def _dataset_of(ft, account: str, name: str | None) -> str | None:
    """The id of the READY dataset of `account` that `name` ("accounts/A/datasets/ID") names, or None."""
    prefix = f"accounts/{account}/datasets/"
    dataset_id = name[len(prefix) :] if name and name.startswith(prefix) else None
    dataset = _known(ft)["datasets"].get(dataset_id)
    return dataset_id if dataset and dataset.get("uploaded") and _dataset_state(dataset) == "READY" else None


def _new_job(ft, account: str, body: dict) -> tuple[int, dict]:
    train = _dataset_of(ft, account, body.get("dataset"))
    if train is None:
        return _error(400, f"dataset {body.get('dataset')!r} is not a READY dataset of account {account}")
    validation = _dataset_of(ft, account, body.get("evaluationDataset"))
    if body.get("evaluationDataset") and validation is None:
        return _error(400, f"evaluationDataset {body['evaluationDataset']!r} is not a READY dataset of {account}")
    base = body.get("baseModel") or ""
    if not base.startswith(BASE_MODELS):
        return _error(400, f"baseModel {base!r} is not a Fireworks model ({BASE_MODELS}NAME)")
    status, job = ft.create({"model": base[len(BASE_MODELS) :], "training_file": train, "validation_file": validation})
    if status != 200:
        return _error(status, job["error"]["message"])
    created(ft)[job["id"]] = {**body, "account": account}
    return 200, _job(ft, job["id"], job)


def _job(ft, job_id: str, job: dict) -> dict:
    body = created(ft)[job_id]
    account = body["account"]
    shown = {
        "name": f"accounts/{account}/supervisedFineTuningJobs/{job_id}",
        "state": _STATES[job["status"]],
        "displayName": body.get("displayName", ""),
        "createTime": iso_time(job["created_at"]),
        "updateTime": iso_time(job["finished_at"] or job["created_at"]),
        "status": {"code": "OK", "message": ""},
        "dataset": body["dataset"],
        "evaluationDataset": body.get("evaluationDataset", ""),
        "baseModel": body["baseModel"],
        "loraRank": body.get("loraRank"),
        "epochs": body.get("epochs"),
        "outputModel": body.get("outputModel") or f"accounts/{account}/models/{job_id}",
    }
    if job["finished_at"]:
        shown["completedTime"] = iso_time(job["finished_at"])
    if job["error"]:
        shown["status"] = {"code": "INTERNAL", "message": job["error"]["message"]}
    return shown
