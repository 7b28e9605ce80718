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


def articles(wiki_dir: Path) -> list[Path]:
    """The city articles (*.txt) of `wiki_dir`, sorted; exits naming the folder when it holds none."""
    files = sorted(wiki_dir.glob("*.txt")) if wiki_dir.is_dir() else []
    if not files:
        raise SystemExit(f"no Wikipedia articles (*.txt) in {shown(wiki_dir)}: the router benchmarks need them")
    return files


def load_articles(files: list[Path]):
    """The articles through RAGTune's ingest, in the order of `files` (a list of corpus Documents)."""
    from ragtune_core.corpus.ingest import load_texts  # here: the path helpers above stay quick to import

    loaded = load_texts([(path.name, path.read_bytes()) for path in files])
    if loaded.errors:
        raise SystemExit("could not load: " + "; ".join(f"{e.name}: {e.message}" for e in loaded.errors))
    return loaded.documents
