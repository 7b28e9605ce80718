"""Folders published whole or not at all: built in a hidden staging folder beside their target, then
renamed into place.

Every folder RAGTune publishes (a record's, a trained model, chat data, a converted base model) is
built in `staged(target)`: a folder named `.<target name>.<pid>.<8 random characters>.partial`,
removed when the block ends, published or not. The writer's process id in the name lets
`store.recovery` remove a staging folder that a killed process left, never one a live process is
still filling. Older versions named theirs without a pid (`LEGACY_NAME`); recovery still knows them.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from .files import fsync_dir, pid_running

PARTIAL_SUFFIX = ".partial"
_STAGING_NAME = re.compile(r"^\.(?P<target>.+)\.(?P<pid>\d+)\.[a-z0-9_]{8}\.partial$")
# Older versions: `.<record id>.xxxxxxxx.partial`, a training's `.<folder>-xxxxxxxx.partial`, a
# hyperparameter search's `.<folder>-xxxxxxxx.search`.
LEGACY_NAME = re.compile(r"^\.(?P<target>.+)[.-][a-z0-9_]{8}\.(?:partial|search)$")


class StagingName(NamedTuple):
    target: str  # the name of the folder it builds
    pid: int | None  # its writer's process id; None in an older version's name


def staging_folder(target: Path) -> Path:
    """A new staging folder for `target` (its parent is made if missing); see `staged`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{target.name}.{os.getpid()}.", suffix=PARTIAL_SUFFIX, dir=target.parent))


@contextmanager
def staged(target: Path) -> Iterator[Path]:
    """A new staging folder for `target`, to fill and `publish_folder` (or a folder inside it) within
    the block; removed when the block ends, so a failure leaves nothing behind."""
    folder = staging_folder(target)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def publish_folder(finished: Path, target: Path) -> None:
    """Move a complete folder into place: its files are flushed first and the rename after, so that
    even a power loss leaves the whole folder or none. The rename refuses a target with content."""
    fsync_tree(finished)
    os.rename(finished, target)
    fsync_dir(target.parent)


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


def staging_name(name: str) -> StagingName | None:
    """What a staging folder's name says (this version's or an older one's), or None for another name."""
    match = _STAGING_NAME.match(name)
    if match:
        return StagingName(match["target"], int(match["pid"]))
    match = LEGACY_NAME.match(name)
    return StagingName(match["target"], None) if match else None


def is_stray_staging_folder(path: Path) -> bool:
    """Whether `path` is a staging folder (with a pid in its name) whose process is gone."""
    staging = staging_name(path.name)
    return bool(staging) and staging.pid is not None and path.is_dir() and not pid_running(staging.pid)


def staging_folders_of(target: Path) -> list[Path]:
    """The staging folders beside `target` that build it, whoever made them."""
    return [p for p in entries(target.parent) if (s := staging_name(p.name)) and s.target == target.name]


def entries(folder: Path) -> list[Path]:
    """What `folder` holds; nothing when it does not exist."""
    try:
        return list(folder.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
