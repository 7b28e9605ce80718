"""What killed processes leave in a workspace, and how it is recognised and removed.

A save or a training that was killed (kill -9, power loss) leaves a pending catalogue row whose
writer is gone, a staging folder (`store.staging`: `.<name>.<pid>.xxxxxxxx.partial`, or an older
version's name without a pid), temporary files, or a folder no row owns. `recover` removes them
when a Workspace is opened, never touching what a live process is still writing.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from pathlib import Path

from .catalogue import RESERVED_TABLES, Catalogue, writer_alive
from .files import is_stray_temp_file, pid_running
from .staging import PARTIAL_SUFFIX, entries, is_stray_staging_folder, staging_name

log = logging.getLogger("ragtune_core.store.workspace")

_ID_FOLDER = re.compile(r"^(corpus|dataset|run)-\d{8}-\d{6}-[0-9a-f]{6}$")
_TABLES = ("corpora", "datasets", "runs", "models")


def recover(catalogue: Catalogue, orphans: bool = True) -> list[str]:
    """Remove what killed processes left: pending records whose writer is gone (row and
    files), staging folders no live process fills, temporary files of dead writers and, with
    `orphans`, record and model folders that no row owns. Never touches a live writer's work:
    folders are listed before rows are read, and every save reserves its row before it makes a
    folder. Returns the workspace-relative paths and rows removed."""
    root, removed = catalogue.root, []
    listed = {table: entries(root / table) for table in _TABLES}
    for table in RESERVED_TABLES:
        for row in catalogue.rows(table, "writer IS NOT NULL", pending=True):
            if not writer_alive(row["writer"]):
                catalogue.roll_back(table, row["id"], writer=row["writer"])
                removed.append(f"{table}:{row['name']}")
    for table in _TABLES:
        owned, writing = _owned_folders(catalogue, table)
        for entry in listed[table]:
            staging = staging_name(entry.name)
            if staging is None:
                stale = orphans and _is_orphan(table, entry, owned)
            elif staging.pid is None:  # an older version's: no pid, so the row it was saved for tells
                stale = staging.target not in writing
            else:
                stale = not pid_running(staging.pid)
            if stale:
                removed.append(_remove(root, entry))
    removed += _remove_stray_temp_files(root)
    if removed:
        log.warning("workspace %s: removed what interrupted saves left: %s", root, ", ".join(removed))
    return removed


def _owned_folders(catalogue: Catalogue, table: str) -> tuple[set[str], set[str]]:
    """(the folder names `table`'s rows own, those a live process is writing): record ids, or
    model folders."""
    owned, writing = set(), set()
    for row in catalogue.rows(table, pending=True):
        folder = Path(row["path"]).name if table == "models" else row["id"]
        owned.add(folder)
        if table in RESERVED_TABLES and writer_alive(row["writer"]):
            writing.add(folder)
    return owned, writing


def _is_orphan(table: str, entry: Path, owned: set[str]) -> bool:
    """Whether `entry` is a record's or a model's folder that no row owns."""
    if table == "models":
        return not entry.name.startswith(".") and entry.is_dir() and entry.name not in owned
    return bool(_ID_FOLDER.match(entry.name)) and entry.name not in owned


def _remove(root: Path, path: Path) -> str:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
    return str(path.relative_to(root))


def _remove_stray_temp_files(root: Path) -> list[str]:
    removed = []
    now = time.time()
    for folder, subfolders, files in os.walk(root):
        if Path(folder) == root:
            subfolders[:] = [s for s in subfolders if s != "models"]  # written by training libraries
        for name in subfolders:
            if is_stray_staging_folder(Path(folder, name)):
                removed.append(_remove(root, Path(folder, name)))
        subfolders[:] = [s for s in subfolders if not s.endswith(PARTIAL_SUFFIX)]  # a live save's, or handled above
        for name in files:
            path = Path(folder, name)
            if is_stray_temp_file(path, now):
                removed.append(_remove(root, path))
    return removed
