"""Background jobs: a worker process per run that writes its status and an event log on disk.

The app never runs long work in its script run. It starts `python -m ragtune_core.jobs.worker`, in a
session of its own so that cancel can stop the whole process tree, and reads `status.json` and
`events.jsonl` from the run's folder. Because everything is on disk, a page reload or an app
restart re-attaches to a running job; a worker that died shows as interrupted, never as running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path

import psutil
import pydantic

from ..errors import RagtuneError
from ..llm.config import JOB_API_KEY_ENV
from ..runs import ACTIVE_STATES, JobState
from ..store.files import FileContentError, atomic_write_text, read_json
from ..store.models import CROSS_ENCODER, DEFAULT_BASE_MODEL, EMBEDDING, LLM
from ..store.shapes import FILE_SHAPE, schema_problem
from ..store.workspace import ModelRecord, Workspace, new_id
from ..timing.work import Eta

# The only variables a job's `secret_env` may set: an LLM key its launcher vetted for the job's
# endpoint. Job-only: the worker takes it out of its environment (jobs.worker), and the variable is
# never passed on from the launcher's own environment.
SECRET_ENV_VARS = (JOB_API_KEY_ENV,)
# A worker that has written nothing for this long while its process is gone is interrupted.
START_GRACE_SECONDS = 20.0
# The file in a run's folder whose appearance asks its training to stop and keep its best model.
STOP_REQUEST = "stop_requested"
# What a reservation records as the base model when the job names none.
DEFAULT_BASE = {EMBEDDING: DEFAULT_BASE_MODEL, CROSS_ENCODER: DEFAULT_BASE_MODEL, LLM: "local default"}


class JobKind(StrEnum):
    """What a run does (jobs.tasks has the adapter of each). Its value is stored in runs' spec.json and
    in the catalogue: never rename one."""

    GENERATE_QUESTIONS = "generate_questions"
    GENERATE_ROUTER_QUESTIONS = "generate_router_questions"
    TRAIN_EMBEDDING = "train_embedding"
    TRAIN_CROSS_ENCODER = "train_cross_encoder"
    TRAIN_LLM = "train_llm"
    EVALUATE = "evaluate"
    COMPARE_SELECTORS = "compare_selectors"
    FETCH_WIKI_PAGES = "fetch_wiki_pages"
    SLEEP = "sleep"  # counts only: tests the job machinery without a model


# Job kinds that train a model named params["model_name"]: the name is reserved when the job starts
# and given up when it fails, is cancelled or interrupted.
MODEL_JOB_KINDS = {
    JobKind.TRAIN_EMBEDDING: EMBEDDING,
    JobKind.TRAIN_CROSS_ENCODER: CROSS_ENCODER,
    JobKind.TRAIN_LLM: LLM,
}
# Job kinds that can stop keeping their best model so far (request_stop); cancel stops any job, keeping nothing.
STOPPABLE_KINDS = (JobKind.TRAIN_EMBEDDING, JobKind.TRAIN_CROSS_ENCODER)


class JobError(RagtuneError):
    """A request about a run that cannot be met (stop an ended run, follow one that cannot be followed)."""


@dataclass
class JobStatus:
    __pydantic_config__ = FILE_SHAPE  # how status.json is checked (`_STATUS_FILE`)

    run_id: str
    kind: JobKind
    state: JobState = JobState.QUEUED
    pid: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    updated: float | None = None
    finished: float | None = None
    done: int = 0
    total: int = 0
    message: str = ""
    error: str | None = None
    result: dict = field(default_factory=dict)
    eta: Eta = field(default_factory=Eta)  # where the pace behind eta_seconds is measured from

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def fraction(self) -> float:
        return min(1.0, self.done / self.total) if self.total else 0.0

    @property
    def elapsed(self) -> float:
        if not self.started:
            return 0.0
        return (self.finished or time.time()) - self.started

    @property
    def eta_seconds(self) -> float | None:
        """Remaining time at the pace of the work so far (timing.Eta); None until there is a pace to go on."""
        if not self.is_active or not self.started:
            return None
        return self.eta.seconds_left(self.elapsed, self.done, self.total)

    def advance(self, done: int, total: int) -> None:
        """Record progress: `done` of `total` units of work (estimated seconds, chunks...) now."""
        self.done, self.total = done, total
        self.eta.report(self.elapsed, done)


_STATUS_FILE = pydantic.TypeAdapter(JobStatus)


class _EventLine(pydantic.BaseModel):
    """An events.jsonl line: its event's name and time, and whatever the task adds (a step's loss...)."""

    model_config = pydantic.ConfigDict(strict=True, extra="allow")
    event: str
    time: float


class _WorkerIdentity(pydantic.BaseModel):
    """worker.json: who the worker process is (a later process may reuse its pid, not its start time)."""

    model_config = FILE_SHAPE
    pid: int
    create_time: float | None


def status_path(ws: Workspace, run_id: str) -> Path:
    return ws.run_dir(run_id) / "status.json"


def events_path(ws: Workspace, run_id: str) -> Path:
    return ws.run_dir(run_id) / "events.jsonl"


def write_status(ws: Workspace, status: JobStatus) -> None:
    atomic_write_text(status_path(ws, status.run_id), json.dumps(asdict(status)))


def load_status(ws: Workspace, run_id: str) -> JobStatus:
    """The status as written, with no liveness check (read_status is what readers want); a damaged
    file raises ValueError naming it."""
    return read_json(status_path(ws, run_id), f"the status of run {run_id},", _STATUS_FILE)


def start_job(
    ws: Workspace,
    kind: JobKind,
    params: dict,
    name: str | None = None,
    dataset_id: str | None = None,
    secret_env: dict[str, str] | None = None,
) -> JobStatus:
    """Launch a worker for a new run. `secret_env` (an API key: `LLMConfig.secret_env()`) reaches the
    worker only through its environment: it is never written to the workspace or the logs."""
    unknown = sorted(set(secret_env or {}) - set(SECRET_ENV_VARS))
    if unknown:
        raise ValueError(f"secret_env may set only {', '.join(SECRET_ENV_VARS)}, not {', '.join(unknown)}")
    run_id = new_id("run")
    # A training holds its model's name from now on: a second start with it is refused here, at
    # once, naming this run, rather than failing at publish after a whole training.
    model = _reserve_model_name(ws, kind, params, run_id)
    try:
        status = _launch(ws, run_id, kind, params, name, dataset_id, secret_env)
    except BaseException:
        if model is not None:
            ws.release_model(model.id)
        raise
    if model is not None:
        ws.hand_over_model(model.id, status.pid)  # the name is free again if the worker dies
    return status


def _reserve_model_name(ws: Workspace, kind: JobKind, params: dict, run_id: str) -> ModelRecord | None:
    model_kind = MODEL_JOB_KINDS.get(kind)
    if model_kind is None or not params.get("model_name"):
        return None
    base_model = (params.get("config") or {}).get("base_model") or DEFAULT_BASE[model_kind]
    return ws.reserve_model(params["model_name"], model_kind, base_model, run_id=run_id)


def _launch(
    ws: Workspace,
    run_id: str,
    kind: JobKind,
    params: dict,
    name: str | None,
    dataset_id: str | None,
    secret_env: dict[str, str] | None,
) -> JobStatus:
    run = ws.create_run(kind, name or kind, params, dataset_id, run_id=run_id)
    run_dir = ws.run_dir(run.id)
    atomic_write_text(run_dir / "spec.json", json.dumps({"kind": kind, "params": params}))
    status = JobStatus(run_id=run.id, kind=kind)
    write_status(ws, status)
    inherited = {k: v for k, v in os.environ.items() if k not in SECRET_ENV_VARS}
    env = {**inherited, **(secret_env or {}), "PYTHONUNBUFFERED": "1"}
    with (run_dir / "worker.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ragtune_core.jobs.worker", str(ws.root), run.id],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            cwd=Path(__file__).resolve().parents[2],
        )
    # The launcher records who the worker is in a file of its own: rewriting status.json here
    # could overwrite what a fast worker has already written there.
    _write_identity(run_dir, proc.pid)
    status.pid = proc.pid
    return status


def read_status(ws: Workspace, run_id: str) -> JobStatus:
    """The job's status; a job whose worker is gone is marked interrupted (on disk too)."""
    status = load_status(ws, run_id)
    if status.is_active and not _worker_alive(ws, status):
        # The worker may have finished between our read and the liveness check.
        status = load_status(ws, run_id)
        if status.is_active:
            finish_status(ws, status, JobState.INTERRUPTED, error="the worker process stopped without finishing")
    return status


def read_events(ws: Workspace, run_id: str, since: int = 0) -> list[dict]:
    """Events from line `since` on; a line still being written is left for the next read."""
    path = events_path(ws, run_id)
    if not path.exists():
        return []
    events = []
    with path.open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i < since:
                continue
            if not line.endswith("\n"):
                break
            where = f"{path.name} of run {run_id}, line {i + 1}"
            try:
                event = json.loads(line)
                _EventLine.model_validate(event)
            except json.JSONDecodeError as exc:
                raise FileContentError(f"{where}, is damaged: {exc}") from exc
            except pydantic.ValidationError as exc:
                raise FileContentError(f"{where}: {schema_problem(exc)}") from None
            events.append(event)  # as written: the schema checks it, the readers take the dict
    return events


def cancel_job(ws: Workspace, run_id: str, timeout: float = 5.0) -> JobStatus:
    """Stop the worker and every process it started, then mark the run cancelled."""
    status = load_status(ws, run_id)
    if not status.is_active:
        return status
    identity = _read_identity(ws.run_dir(run_id))
    if identity:
        _kill_tree(identity["pid"], timeout)
    status = load_status(ws, run_id)
    if status.is_active:
        finish_status(ws, status, JobState.CANCELLED, message="cancelled by the user")
    return status


def request_stop(ws: Workspace, run_id: str) -> JobStatus:
    """Ask a running training to stop after its current step and keep its best model so far: its
    worker sees the request file (training.stopping) and the run then succeeds with the model
    registered. JobError when the run is unknown, not a training, or already ended."""
    kind = ws.get_run(run_id).kind  # an unknown id is an error naming it
    if kind not in STOPPABLE_KINDS:
        raise JobError(
            f"run {run_id} is a {kind} job: only an embedding or cross-encoder training can stop "
            "and keep its best model (cancel stops any job)"
        )
    status = read_status(ws, run_id)
    if not status.is_active:
        raise JobError(f"run {run_id} has ended ({status.state}): there is nothing to stop")
    atomic_write_text(ws.run_dir(run_id) / STOP_REQUEST, json.dumps({"time": time.time()}))
    return status


def stop_pending(ws: Workspace, status: JobStatus) -> bool:
    """Whether the user asked this active job to stop and keep its best model, and it has not ended yet."""
    return status.is_active and (ws.run_dir(status.run_id) / STOP_REQUEST).exists()


def list_jobs(ws: Workspace, kind: str | None = None) -> list[JobStatus]:
    return [read_status(ws, run.id) for run in ws.list_runs(kind) if status_path(ws, run.id).exists()]


def active_jobs(ws: Workspace, kind: str | None = None) -> list[JobStatus]:
    """Queued and running jobs, their liveness checked. Only the runs the catalogue calls active
    have their status.json read, so hundreds of finished runs cost one catalogue query; this is
    safe because finish_status records a run's end in the catalogue before in status.json."""
    candidates = [run.id for run in ws.list_runs(kind) if run.state in ACTIVE_STATES]
    statuses = [read_status(ws, run_id) for run_id in candidates if status_path(ws, run_id).exists()]
    return [status for status in statuses if status.is_active]


def wait(ws: Workspace, run_id: str, timeout: float = 600.0, poll: float = 0.2) -> JobStatus:
    """Block until the job ends (for the CLI and tests)."""
    deadline = time.monotonic() + timeout
    while True:
        status = read_status(ws, run_id)
        if not status.is_active:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {run_id} still {status.state} after {timeout:.0f}s")
        time.sleep(poll)


def finish_status(
    ws: Workspace, status: JobStatus, state: JobState, message: str = "", error: str | None = None
) -> None:
    """Record a job's final state, in the catalogue and in its status.json; a run that did not
    succeed gives up the model name it held (and whatever its training left in models/)."""
    status.state = state
    status.finished = time.time()
    status.message = message or status.message
    status.error = error
    if state != JobState.SUCCEEDED:
        ws.release_run_models(status.run_id)
    # The catalogue first: whoever sees the final status.json must also see the final run record.
    ws.update_run(status.run_id, state=state, finished=status.finished, result=status.result)
    write_status(ws, status)


def _write_identity(run_dir: Path, pid: int) -> None:
    try:
        started = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        started = None
    atomic_write_text(run_dir / "worker.json", json.dumps({"pid": pid, "create_time": started}))


def _read_identity(run_dir: Path) -> dict | None:
    try:
        return read_json(run_dir / "worker.json", f"the worker of run {run_dir.name},", _WorkerIdentity).model_dump()
    except FileNotFoundError:
        return None


def _worker_alive(ws: Workspace, status: JobStatus) -> bool:
    identity = _read_identity(ws.run_dir(status.run_id))
    if identity is None:  # launched a moment ago, its identity not yet written
        return time.time() - status.created < START_GRACE_SECONDS
    try:
        proc = psutil.Process(identity["pid"])
        if proc.status() == psutil.STATUS_ZOMBIE:
            _reap(identity["pid"])
            return False
        # The same pid with another start time is a new process that reused the number.
        return identity["create_time"] is not None and abs(proc.create_time() - identity["create_time"]) < 0.01
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _kill_tree(pid: int, timeout: float) -> None:
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    # The worker leads its own process group; children that left it are signalled one by one.
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    for proc in procs:
        try:
            proc.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=timeout)
    _reap(pid)
