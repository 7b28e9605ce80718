"""Wiki pages fetched by a background job (jobs.corpus_tasks.run_wiki_fetch_job), for the Corpus page to stage.

A slow wiki takes many seconds a title, so the fetch runs in a worker, not in the page. Its
documents and failed titles are written to the run's folder in one atomic step once every title
has been tried: a cancelled run leaves no file, a finished one a whole file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import RagtuneError
from ..store.files import read_json, write_json
from ..store.run_results import RunResult
from .documents import IngestError, IngestResult
from .mediawiki import MediaWikiClient

FETCHED_FILE = "fetched.json"


class FetchError(RagtuneError):
    """No title could be fetched; the message names each title and why."""


@dataclass(kw_only=True)
class FetchRunResult(RunResult):
    """A wiki fetch run's result, typed (jobs' fetch_wiki_pages): built by its adapter, parsed once where read."""

    documents: int  # pages saved in the run's fetched.json
    failed: list[tuple[str, str]] = field(default_factory=list)  # (title, why) of each title that did not load


def wiki_fetch_params(endpoint: str, titles: list[str]) -> dict:
    """The job's params: the endpoint and the titles. A ValueError now, not in the worker, when the
    endpoint is not an http(s) URL or the server's allow-list refuses its host."""
    MediaWikiClient(endpoint)
    return {"endpoint": endpoint, "titles": list(titles)}


def fetch_into(
    folder: Path,
    endpoint: str,
    titles: list[str],
    cache_dir: Path,
    on_progress: Callable[[int, int, str], None],
    on_error: Callable[[IngestError], None],
) -> FetchRunResult:
    """Fetch `titles` (MediaWikiClient.fetch, same callbacks) and save what loaded as `folder`/fetched.json;
    the summary: how many documents, and each failed title with why. FetchError when none loaded."""
    result = MediaWikiClient(endpoint, cache_dir=cache_dir).fetch(titles, on_progress=on_progress, on_error=on_error)
    if not result.documents:
        raise FetchError("no page could be fetched: " + "; ".join(f"{e.name}: {e.message}" for e in result.errors))
    write_json(folder / FETCHED_FILE, asdict(result))
    return FetchRunResult(documents=len(result.documents), failed=[(e.name, e.message) for e in result.errors])


def load_fetched(folder: Path) -> IngestResult:
    """The documents and failed titles a fetch saved in `folder`; a damaged file is named."""
    return read_json(folder / FETCHED_FILE, f"the pages fetched by run {folder.name},", IngestResult)
