"""The wiki fetch job (jobs.corpus_tasks.run_wiki_fetch_job) in a real worker, against the stand-in MediaWiki
API on 127.0.0.1 (the `wiki` fixture)."""

import time

import pytest

from ragtune_core import jobs
from ragtune_core.corpus import load_fetched, wiki_fetch_params
from ragtune_core.corpus.wiki_fetch import FETCHED_FILE
from ragtune_core.jobs import JobKind


def _fetch(workspace, wiki, titles: list[str]):
    params = wiki_fetch_params(wiki.endpoint, titles)
    return jobs.start_job(workspace, JobKind.FETCH_WIKI_PAGES, params, name="fetch")


def _events(workspace, run_id: str, name: str) -> list[dict]:
    return [e for e in jobs.read_events(workspace, run_id) if e["event"] == name]


def test_the_job_fetches_each_title_with_progress_and_saves_the_documents(workspace, wiki):
    status = _fetch(workspace, wiki, ["Toronto", "TO"])
    final = jobs.wait(workspace, status.run_id, timeout=60)

    assert final.state == "succeeded"
    assert (final.done, final.total) == (2, 2)
    assert [(e["done"], e["total"], e["title"]) for e in _events(workspace, status.run_id, "title")] == [
        (1, 2, "Toronto"),
        (2, 2, "TO"),
    ]
    fetched = load_fetched(workspace.run_dir(status.run_id))
    assert [d.title for d in fetched.documents] == ["Toronto"]
    assert "Lake Ontario" in fetched.documents[0].text
    assert final.result == {"documents": 1, "failed": [["TO", "the same page as 'Toronto' (Toronto); loaded once"]]}


def test_a_title_that_fails_is_named_and_the_others_are_kept(workspace, wiki):
    status = _fetch(workspace, wiki, ["Nowhere Land", "Toronto", "Boom"])
    final = jobs.wait(workspace, status.run_id, timeout=60)

    assert final.state == "succeeded"
    failed = dict(final.result["failed"])
    assert failed["Nowhere Land"] == "no such page" and "HTTP 500" in failed["Boom"]
    assert [[e["title"], e["message"]] for e in _events(workspace, status.run_id, "title_failed")] == list(
        final.result["failed"]
    )
    fetched = load_fetched(workspace.run_dir(status.run_id))
    assert [d.title for d in fetched.documents] == ["Toronto"]
    assert [e.name for e in fetched.errors] == ["Nowhere Land", "Boom"]


def test_a_run_where_no_title_loads_fails_naming_each_title(workspace, wiki):
    status = _fetch(workspace, wiki, ["Nowhere Land", "Mercury"])
    final = jobs.wait(workspace, status.run_id, timeout=60)

    assert final.state == "failed"
    assert "no page could be fetched" in final.error
    assert "Nowhere Land: no such page" in final.error and "Mercury" in final.error
    assert not (workspace.run_dir(status.run_id) / FETCHED_FILE).exists()


def test_an_endpoint_that_is_no_url_is_refused_before_any_job_starts(workspace):
    with pytest.raises(ValueError, match="http"):
        wiki_fetch_params("en.wikipedia.org/w/api.php", ["Toronto"])
    assert workspace.list_runs(JobKind.FETCH_WIKI_PAGES) == []


@pytest.mark.fault(
    "Cancel pressed while a slow wiki's pages are being fetched",
    sees="the run cancelled within seconds, its worker stopped mid-request (no SIGKILL needed)",
    kept="no fetched.json and no temporary file in the run's folder; the pages fetched before, in the cache",
)
def test_cancelling_a_slow_fetch_ends_cancelled_with_nothing_half_written(workspace, wiki):
    status = _fetch(workspace, wiki, ["Toronto"] + ["Slow"] * 20)  # each "Slow" answers after 1.5 s
    deadline = time.monotonic() + 30
    while jobs.read_status(workspace, status.run_id).done < 1:
        assert time.monotonic() < deadline, "the fetch never made progress"
        time.sleep(0.05)

    started = time.monotonic()
    final = jobs.cancel_job(workspace, status.run_id, timeout=5)

    assert final.state == "cancelled" and time.monotonic() - started < 5
    assert workspace.get_run(status.run_id).state == "cancelled"
    run_dir = workspace.run_dir(status.run_id)
    assert not (run_dir / FETCHED_FILE).exists()
    assert not [p.name for p in run_dir.iterdir() if p.name.startswith(f".{FETCHED_FILE}")]
    assert list(workspace.dir("cache", "mediawiki").glob("*.json"))  # Toronto, fetched before the cancel
