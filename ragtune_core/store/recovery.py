"""What killed processes leave in a workspace, and how it is recognised and removed.

A save or a training that was killed (kill -9, power loss) leaves a pending catalogue row whose
writer is gone, a hidden temporary folder (`.<id>.xxxxxxxx.partial`, a training's
`.<folder>-xxxxxxxx.partial`, a staging folder `.<name>.<pid>.xxxxxxxx.partial`), temporary files,
or a folder no row owns. `recover` removes them when a Workspace is opened, never touching what a
live process is still writing.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from pathlib import Path

from .catalogue import MODEL_PARTIAL, RECORD_PARTIAL, RESERVED_TABLES, Catalogue, entries, writer_alive
from .files import PARTIAL_SUFFIX as PARTIAL, is_stray_staging_folder, is_stray_temp_file

log = logging.getLogger("ragtune_core.store.workspace")

_ID_FOLDER = re.compile(r"^(corpus|dataset|run)-\d{8}-\d{6}-[0-9a-f]{6}$")


def recover(catalogue: Catalogue, orphans: bool = True) -> list[str]:
    """Remove what killed processes left: pending records whose writer is gone (row and
    files), temporary folders of saves and trainings no live process owns, temporary files of
    dead writers and, with `orphans`, record and model folders that no row owns. Never touches
    a live writer's work: folders are listed before rows are read, and every save reserves its
    row before it makes a folder. Returns the workspace-relative paths and rows removed."""
    root, removed = catalogue.root, []
    listed = {table: entries(root / table) for table in ("corpora", "datasets", "runs", "models")}
    for table in RESERVED_TABLES:
        for row in catalogue.rows(table, "writer IS NOT NULL", pending=True):
            if not writer_alive(row["writer"]):
                catalogue.roll_back(table, row["id"], writer=row["writer"])
                removed.append(f"{table}:{row['name']}")
    for table in ("corpora", "datasets", "runs"):
        rows = {row["id"]: row["writer"] if table in RESERVED_TABLES else None
                for row in catalogue.rows(table, pending=True)}
        for entry in listed[table]:
            partial = RECORD_PARTIAL.match(entry.name)
            if partial:
                stale = not writer_alive(rows.get(partial["id"]))
            else:
                stale = orphans and bool(_ID_FOLDER.match(entry.name)) and entry.name not in rows
            if stale:
                removed.append(_remove(root, entry))
    models = catalogue.rows("models", pending=True)
    owned = {Path(row["path"]).name for row in models}
    training = {Path(row["path"]).name for row in models if writer_alive(row["writer"])}
    for entry in listed["models"]:
        partial = MODEL_PARTIAL.match(entry.name)
        if partial:
            stale = partial["folder"] not in training
        else:
            stale = orphans and not entry.name.startswith(".") and entry.is_dir() and entry.name not in owned
        if stale:
            removed.append(_remove(root, entry))
    removed += _remove_stray_temp_files(root)
    if removed:
        log.warning("workspace %s: removed what interrupted saves left: %s", root, ", ".join(removed))
    return removed


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
        subfolders[:] = [s for s in subfolders if not s.endswith(PARTIAL)]  # a live save's, or handled above
        for name in files:
            path = Path(folder, name)
            if is_stray_temp_file(path, now):
                removed.append(_remove(root, path))
    return removed

