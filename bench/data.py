"""Where the benchmarks find their data: `../shared/data` beside the repository (see its SOURCES.md).

The folder is found from this file's location, never from an absolute path, and is named in
printed and stored results as it is seen from the repository root (`../shared/data/...`).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(os.path.abspath(__file__)).parents[1]  # absolute, links kept: ../shared may be one
DATA = REPO.parent / "shared" / "data"
WIKIPEDIA = DATA / "wikipedia"
TEN_K = DATA / "10k"


def shown(path: Path) -> str:
    """`path` as written from the repository root: "../shared/data/wikipedia" for the shared data;
    a path outside the repository's parent folder is shown as given."""
    absolute = Path(os.path.abspath(path))
    for base, prefix in ((REPO, Path()), (REPO.parent, Path(".."))):
        if absolute.is_relative_to(base):
            return (prefix / absolute.relative_to(base)).as_posix()
    return str(path)
