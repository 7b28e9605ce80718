"""Files a reader can trust: atomic writes, JSON and JSON Lines, and strict key checks.

Every file RAGTune writes goes through `atomic_write_text`: the content goes to a temporary file
with a unique name beside the target (two writers of the same file never share one), is flushed
to disk, and is renamed over the target, so a reader sees the old file or the new one, never half
of either, even after a crash. The temporary name carries the writer's process id, so a temporary
file left by a writer that died (kill -9, power loss) is recognised and removed by
`Workspace.recover`, never one that a live writer is still filling.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

TEMP_SUFFIX = ".tmp"
# ".<target name>.<writer pid>.<8 random characters>.tmp"; older versions wrote no pid.
_TEMP_NAME = re.compile(r"^\..+?(?:\.(?P<pid>\d+))?\.[a-z0-9_]{8}\.tmp$")
LEGACY_TEMP_AGE_SECONDS = 3600.0  # a temporary file without a pid is stray once this old


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) in one step; the parent folder is made if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)  # the rename itself survives a power loss


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename into it, a new file) to disk; a no-op where folders
    cannot be opened (Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """Flush every file and folder under `path` (what another library wrote there) to disk."""
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


def is_stray_temp_file(path: Path, now: float | None = None) -> bool:
    """Whether `path` is a temporary file of atomic_write_text whose writer is gone: its pid runs
    no process (a zombie counts as gone), or, for a name without a pid, it is over an hour old."""
    match = _TEMP_NAME.match(path.name)
    if not match:
        return False
    if match.group("pid") is None:
        try:
            return (now or time.time()) - path.stat().st_mtime > LEGACY_TEMP_AGE_SECONDS
        except OSError:
            return False
    return not pid_running(int(match.group("pid")))


def pid_running(pid: int) -> bool:
    """Whether a process (not a zombie) has this id."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # it exists, another user's


def write_json(path: Path, data, indent: int | None = None) -> None:
    """Write `data` as JSON atomically."""
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=indent))


def read_json(path: Path, what: str = "file"):
    """The JSON in `path`; a file that is not JSON (or not UTF-8) raises ValueError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{what} {path.name} is not valid JSON: {exc}") from exc


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """One JSON object a line, written atomically."""
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def read_jsonl(path: Path) -> list[dict]:
    """The objects of a JSON Lines file; a damaged line (not JSON, not an object, not UTF-8)
    raises ValueError naming the file (with its folder: whose chunks.jsonl) and line."""
    path = Path(path)
    name = f"{path.parent.name}/{path.name}"
    rows = []
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
                if not line.strip():
                    continue
                row = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ValueError(f"{name}, line {number}, is damaged: {exc}") from exc
            if not isinstance(row, dict):
                raise ValueError(f"{name}, line {number}, is damaged: expected a JSON object")
            rows.append(row)
    return rows


def check_keys(data: dict, known: Iterable[str], what: str, error: type[Exception] = ValueError,
               required: Iterable[str] = ()) -> None:
    """Refuse saved or typed settings with keys nobody reads (a typo would be silently ignored)
    or without a required one: `error` names `what` and the keys."""
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise error(f"{what}: unknown field(s) {', '.join(unknown)}")
    missing = sorted(set(required) - set(data))
    if missing:
        raise error(f"{what}: missing {', '.join(missing)}")
