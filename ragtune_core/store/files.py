"""Files a reader can trust: atomic writes, JSON and JSON Lines, and strict key checks.

Every file RAGTune writes goes through `atomic_write_text`: the content goes to a temporary file
with a unique name beside the target (two writers of the same file never share one), is flushed
to disk, and is renamed over the target, so a reader sees the old file or the new one, never half
of either, even after a crash.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` with `text` (UTF-8) in one step; the parent folder is made if missing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data, indent: int | None = None) -> None:
    """Write `data` as JSON atomically."""
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, indent=indent))


def read_json(path: Path, what: str = "file"):
    """The JSON in `path`; a file that is not JSON raises ValueError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} {path.name} is not valid JSON: {exc}") from exc


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    """One JSON object a line, written atomically."""
    atomic_write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def read_jsonl(path: Path) -> list[dict]:
    """The objects of a JSON Lines file; a damaged line raises ValueError naming the file and line."""
    path = Path(path)
    rows = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path.name}, line {number}, is damaged: {exc}") from exc
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
