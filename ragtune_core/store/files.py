"""Files a reader can trust: atomic writes, JSON and JSON Lines, and one check of what they hold.

Every file RAGTune writes goes through `atomic_write_text`: the content goes to a temporary file
with a unique name beside the target (two writers of the same file never share one), is flushed
to disk, and is renamed over the target, so a reader sees the old file or the new one, never half
of either, even after a crash. The temporary name carries the writer's process id, so a temporary
file left by a writer that died (kill -9, power loss) is recognised and removed by
`Workspace.recover`, never one that a live writer is still filling.

A file that people edit (a dataset, a draft) is replaced only if it is still the version its editor
loaded (`unchanged_since`: a compare-and-swap on the content's hash under the folder's lock), so two
editors never overwrite each other's changes unnoticed.

Every file the app reads is checked once, at the door, against its schema (`store/shapes.py`: a
pydantic model, or a dataclass configured with `FILE_SHAPE`): strict types, no unknown keys. A mismatch
is a `FileContentError` that names the file, the key (a path such as `queries["q3"]` or `tools[2].name`)
and what was expected, so no later step meets a question that is `null` or a tool list that is a string.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from ..errors import RagtuneError
from . import shapes

try:
    import fcntl
except ImportError:  # Windows: no advisory locks on folders; versions are still compared
    fcntl = None

TEMP_SUFFIX = ".tmp"
# ".<target name>.<writer pid>.<8 random characters>.tmp"; older versions wrote no pid.
_TEMP_NAME = re.compile(r"^\..+?(?:\.(?P<pid>\d+))?\.[a-z0-9_]{8}\.tmp$")
LEGACY_TEMP_AGE_SECONDS = 3600.0  # a temporary file without a pid is stray once this old


class FileContentError(RagtuneError):
    """A file (or typed settings) holding what the app cannot use; the message names the file, the
    key and what was expected."""


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) in one step; the parent folder is made if missing."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` with `data` in one step; the parent folder is made if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
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


def refuse_links(path: Path, what: str, error: type[Exception] = FileContentError) -> None:
    """`error` when `path` or its folder is a symbolic link: a workspace file read through one would
    show, train on or upload whatever it points at, anywhere on the server."""
    path = Path(path)
    linked = next((p for p in (path, path.parent) if p.is_symlink()), None)
    if linked is not None:
        raise error(
            f"{what} is read through a symbolic link ({linked.name}), which is not followed out of the "
            "workspace; replace the link with the file or folder itself, or remove it"
        )


def own_files(folder: Path, what: str) -> list[Path]:
    """Every file under `folder`, sorted. A symbolic link in it (`ln -s /etc/passwd notes.txt`), or the
    folder itself a link, could lead out of the folder, and whatever zips, copies or uploads the folder
    would carry its target: FileContentError naming the links instead, none of them followed."""
    folder, files = Path(folder), []
    links = [folder.name] if folder.is_symlink() else []
    for parent, subfolders, names in os.walk(folder):  # os.walk never descends into a linked folder
        for name in subfolders + names:
            path = Path(parent, name)
            if path.is_symlink():
                links.append(path.relative_to(folder).as_posix())
            elif name in names and path.is_file():
                files.append(path)
    if links:
        shown = ", ".join(sorted(links)[:5]) + (f" and {len(links) - 5} more" if len(links) > 5 else "")
        raise FileContentError(
            f"{what} holds symbolic links ({shown}): they are not followed out of the folder, "
            "so it is refused; replace each link with the file itself, or remove it"
        )
    return sorted(files)


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


def read_json(path: Path, what: str = "", schema: Any = None, error: type[Exception] | None = None):
    """The JSON in `path`, checked against `schema` (see `shapes.parse`) when given. A file that is not
    UTF-8 JSON or holds the wrong thing raises `error` (default FileContentError) naming it, after
    `what` ("the status of run X,")."""
    path = Path(path)
    return parse_json(path.read_bytes(), f"{what} {path.name}".strip(), schema, error)


def parse_json(raw: bytes, label: str, schema: Any = None, error: type[Exception] | None = None):
    """`raw` (the bytes of the file `label`) as JSON, checked against `schema` (`shapes.parse`) when given."""
    error = error or FileContentError
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{label} is not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise error(f"{label} is not valid JSON: {exc}") from exc
    return data if schema is None else shapes.parse(schema, raw, label, error)


# --- versions: replacing only what the editor loaded ----------------------------------------------
def version_of(content: bytes | str) -> str:
    """A file content's version: its hash."""
    return hashlib.sha256(content.encode("utf-8") if isinstance(content, str) else content).hexdigest()


@contextmanager
def unchanged_since(path: Path, version: str | None, what: str, error: type[Exception] = FileContentError):
    """Hold `path`'s folder locked (other writers using this wait) and raise `error` unless the
    file is still at `version` (None: whatever it is); the caller replaces it inside the block."""
    path = Path(path)
    with _folder_lock(path.parent):
        if version is not None:
            try:
                current = version_of(path.read_bytes())
            except FileNotFoundError:
                current = None
            if current != version:
                raise error(
                    f"{what} was changed by someone else (another tab or a command) since it was loaded; "
                    "nothing was saved: reload it and make your change again"
                )
        yield


@contextmanager
def _folder_lock(folder: Path):
    """An exclusive advisory lock on a folder (flock: between processes, and between threads since
    each opens the folder anew); released when the block ends, or when the process dies."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """One JSON object a line, written atomically."""
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def read_jsonl(path: Path, schema: Any = None) -> list:
    """The objects of a JSON Lines file, each checked against `schema` when given; a damaged line
    (not JSON, not an object, not UTF-8, not the schema) raises FileContentError naming the file
    (with its folder: whose chunks.jsonl), the line and the key; so does a file read through a link."""
    path = Path(path)
    name = f"{path.parent.name}/{path.name}"
    refuse_links(path, name)
    rows = []
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
                if not line.strip():
                    continue
                row = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise FileContentError(f"{name}, line {number}, is damaged: {exc}") from exc
            if not isinstance(row, dict):
                raise FileContentError(f"{name}, line {number}, is damaged: expected a JSON object")
            where = f"{name}, line {number}"
            rows.append(row if schema is None else shapes.parse(schema, line, where, FileContentError))
    return rows
