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

Every file the app reads is checked once, at the door, by `conform`: the data against a type (a
dataclass, `list[...]`, `dict[str, ...]`, `Literal[...]`, an Enum (by its values), `X | None`,
`Annotated[X, Rule(...)]`), with strict keys (`check_keys`). A mismatch is a `FileContentError` that
names the file, the key (a path such as `queries["q3"]` or `tools[2].name`) and what was expected, so
no later step meets a question that is `null` or a tool list that is a string.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import tempfile
import time
import types
import typing
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import psutil

from ..errors import RagtuneError
from . import shapes
from .shapes import FILE_SHAPE, _shown, schema_problem  # noqa: F401 (FILE_SHAPE: re-exported)

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


def refuse_links(path: Path, what: str, error: type[Exception] = FileContentError) -> None:
    """`error` when `path` or its folder is a symbolic link: a workspace file read through one would
    show, train on or upload whatever it points at, anywhere on the server."""
    path = Path(path)
    linked = next((p for p in (path, path.parent) if p.is_symlink()), None)
    if linked is not None:
        raise error(f"{what} is read through a symbolic link ({linked.name}), which is not followed out of the "
                    "workspace; replace the link with the file or folder itself, or remove it")


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
        raise FileContentError(f"{what} holds symbolic links ({shown}): they are not followed out of the folder, "
                               "so it is refused; replace each link with the file itself, or remove it")
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
    """The JSON in `path`, checked against `schema` (see `conform`) when given. A file that is not
    UTF-8 JSON or holds the wrong thing raises `error` (default FileContentError) naming it, after
    `what` ("the status of run X,")."""
    path = Path(path)
    return parse_json(path.read_bytes(), f"{what} {path.name}".strip(), schema, error)


def parse_json(raw: bytes, label: str, schema: Any = None, error: type[Exception] | None = None):
    """`raw` (the bytes of the file `label`) as JSON, checked against `schema` when given: a pydantic
    schema (`shapes.parse`), or a type `conform` checks."""
    error = error or FileContentError
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{label} is not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise error(f"{label} is not valid JSON: {exc}") from exc
    if shapes.is_schema(schema):
        return shapes.parse(schema, raw, label, error)
    return data if schema is None else conform(data, schema, label, error)


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
                raise error(f"{what} was changed by someone else (another tab or a command) since it was loaded; "
                            "nothing was saved: reload it and make your change again")
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
            rows.append(row if schema is None else _checked_row(row, schema, f"{name}, line {number}"))
    return rows


def _checked_row(row: dict, schema: Any, where: str):
    if shapes.is_schema(schema):
        return shapes.parse(schema, row, where, FileContentError)
    return conform(row, schema, where)


# --- checking what a file holds -----------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Rule:
    """A check beyond the type, for `Annotated[type, Rule(...)]`: `holds(value)` or else the value
    is refused as not `expected` ("a non-empty string")."""

    holds: Callable[[Any], bool]
    expected: str


# A dataclass field with metadata {"stored": False} (a key kept in memory only) is refused in a file.
NOT_STORED = {"stored": False}
Text = Annotated[shapes.Text, Rule(lambda text: bool(text.strip()), "a non-empty string")]  # conform's and pydantic's


class _Mismatch(Exception):
    def __init__(self, key: str, problem: str):
        super().__init__(problem)
        self.key, self.problem = key, problem


def conform(data: Any, schema: Any, where: str | None = None, error: type[Exception] = FileContentError,
            key: str = ""):
    """`data` (parsed JSON; found at `key` of its file) as `schema` says: dataclasses are built from
    objects with exactly their fields (strict keys), lists and tuples checked item by item,
    `dict[str, X]` value by value. Raises `error("<where>: <key>: expected ..., got ...")` at the
    first mismatch."""
    try:
        return _conform(data, schema, key)
    except _Mismatch as exc:
        raise error(": ".join(part for part in (where, exc.key, exc.problem) if part)) from None


def key_problem(data: dict, known: Iterable[str], required: Iterable[str] = ()) -> str | None:
    """What is wrong with an object's keys: some nobody reads (a typo would be silently ignored),
    or a required one missing; None when nothing is."""
    known = list(known)
    unknown = sorted(set(data) - set(known))
    if unknown:
        return f"unknown field(s) {', '.join(map(str, unknown))} (known: {', '.join(known)})"
    missing = [k for k in required if k not in data]
    return f"missing {', '.join(missing)}" if missing else None


def check_keys(data: dict, known: Iterable[str], what: str, error: type[Exception] = ValueError,
               required: Iterable[str] = ()) -> None:
    """Refuse saved or typed settings with keys nobody reads or without a required one: `error`
    names `what` and the keys."""
    problem = key_problem(data, known, required)
    if problem:
        raise error(f"{what}: {problem}")


def _conform(value: Any, schema: Any, key: str):
    origin, args = typing.get_origin(schema), typing.get_args(schema)
    if origin is Annotated:
        value = _conform(value, args[0], key)
        for rule in args[1:]:
            if isinstance(rule, Rule) and not rule.holds(value):
                raise _Mismatch(key, f"expected {rule.expected}, got {_shown(value)}")
        return value
    if origin in (Union, types.UnionType):
        return _conform_union(value, args, key)
    if schema is Any:
        return value
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
    elif _is_enum(schema):  # stored as its value: a str enum's file holds the plain string
        if any(value == member.value and type(value) is type(member.value) for member in schema):
            return schema(value)
    elif dataclasses.is_dataclass(schema):
        return _conform_record(value, schema, key)
    elif origin is list:
        if isinstance(value, list):
            return [_conform(item, args[0], f"{key}[{i}]") for i, item in enumerate(value)]
    elif origin is tuple:
        if isinstance(value, (list, tuple)) and args[-1:] == (...,):
            return tuple(_conform(item, args[0], f"{key}[{i}]") for i, item in enumerate(value))
        if isinstance(value, (list, tuple)) and len(value) == len(args):
            return tuple(_conform(item, arg, f"{key}[{i}]") for i, (item, arg) in enumerate(zip(value, args)))
    elif origin is dict:
        if isinstance(value, dict):
            return {k: _conform(v, args[1], f"{key}[{json.dumps(k, ensure_ascii=False)}]") for k, v in value.items()}
    elif _is_a(value, schema):
        return value
    raise _Mismatch(key, f"expected {_described(schema)}, got {_shown(value)}")


def _conform_union(value: Any, options: tuple, key: str):
    if value is None and type(None) in options:
        return None
    fitting = [option for option in options if _shape_fits(value, option)]
    if len(fitting) == 1:  # the one option of this shape says what is wrong inside it
        return _conform(value, fitting[0], key)
    for option in fitting:
        try:
            return _conform(value, option, key)
        except _Mismatch:
            continue
    raise _Mismatch(key, f"expected {_described(Union[options])}, got {_shown(value)}")


def _shape_fits(value: Any, schema: Any) -> bool:
    """Whether `value` is the JSON type `schema` wants, whatever is inside it."""
    origin, args = typing.get_origin(schema), typing.get_args(schema)
    if origin is Annotated:
        return _shape_fits(value, args[0])
    if origin is Literal:
        return value in args
    if _is_enum(schema):
        return any(value == member.value for member in schema)
    if dataclasses.is_dataclass(schema) or origin is dict:
        return isinstance(value, dict)
    if origin in (list, tuple):
        return isinstance(value, (list, tuple))
    return schema is Any or _is_a(value, schema)


def _conform_record(value: Any, cls: type, key: str):
    if not isinstance(value, dict):
        raise _Mismatch(key, f"expected {_described(cls)}, got {_shown(value)}")
    hints, required = _stored_fields(cls)
    problem = key_problem(value, hints, required)
    if problem:
        raise _Mismatch(key, problem)
    return cls(**{name: _conform(item, hints[name], f"{key}.{name}" if key else name) for name, item in value.items()})


@functools.cache
def _stored_fields(cls: type) -> tuple[dict[str, Any], tuple[str, ...]]:
    """({field: type} of what a file may hold for `cls`, the required fields)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    stored = [f for f in dataclasses.fields(cls) if f.init and f.metadata.get("stored", True)]
    required = tuple(f.name for f in stored
                     if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    return {f.name: hints[f.name] for f in stored}, required


def _is_enum(schema: Any) -> bool:
    return isinstance(schema, type) and issubclass(schema, Enum)


def _is_a(value: Any, schema: Any) -> bool:
    if schema is None or schema is type(None):
        return value is None
    if schema is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if schema is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(schema, type) and schema in (str, bool, dict, list):
        return isinstance(value, schema)
    raise TypeError(f"conform cannot check {schema!r}")  # a schema's mistake, not the data's


def _described(schema: Any) -> str:
    """What a schema expects, in words."""
    origin, args = typing.get_origin(schema), typing.get_args(schema)
    if origin is Annotated:
        return next((r.expected for r in args[1:] if isinstance(r, Rule)), _described(args[0]))
    if origin in (Union, types.UnionType):
        return " or ".join(_described(a) for a in args)
    if origin is Literal:
        return "one of " + ", ".join(json.dumps(a) for a in args)
    if _is_enum(schema):
        return "one of " + ", ".join(json.dumps(member.value) for member in schema)
    if dataclasses.is_dataclass(schema):
        required = _stored_fields(schema)[1]
        return f"an object with {', '.join(required)}" if required else "an object"
    words = {str: "a string", int: "an integer", float: "a number", bool: "true or false", type(None): "null",
             None: "null", list: "a list", tuple: "a list", dict: "an object"}
    return words.get(origin or schema, str(schema))
