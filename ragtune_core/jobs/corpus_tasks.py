"""The adapter of the corpus job: wiki pages fetched into the run's folder for the Corpus page to stage."""

from __future__ import annotations

from ..runs import EventKind
from .cancellation import exit_on_sigterm


def run_wiki_fetch_job(ctx, params: dict) -> dict:
    """params {endpoint, titles}: the pages as the run's fetched.json (corpus.wiki_fetch); a "title" event
    as each title is done, a "title_failed" event as one fails. The run fails only when no title loaded."""
    from ..corpus.wiki_fetch import fetch_into

    def fetched(done: int, total: int, title: str) -> None:
        ctx.emit(EventKind.TITLE, done=done, total=total, title=title)
        ctx.progress(done, total, f"fetched {done}/{total} titles · {title}")

    exit_on_sigterm()  # a cancel while the file is written removes its temporary copy
    summary = fetch_into(
        ctx.run_dir,
        params["endpoint"],
        params["titles"],
        ctx.workspace.dir("cache", "mediawiki"),
        on_progress=fetched,
        on_error=lambda error: ctx.emit(EventKind.TITLE_FAILED, title=error.name, message=error.message),
    )
    ctx.complete(f"{summary.documents} page(s) fetched, {len(summary.failed)} title(s) failed")
    return summary.to_dict()
