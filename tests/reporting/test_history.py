"""The history of comparisons: every one kept, a cancelled one marked and never mixed with another,
results saved before history was kept still shown."""

import json

import pytest

from ragtune_core.evaluation.retrieval import save_report
from ragtune_core.reporting.history import (
    ENTRY_SCHEMA,
    RETRIEVAL,
    ROUTER,
    EntryState,
    find_entry,
    history,
    recording,
    retrieval_reports,
    router_comparison,
)
from ragtune_core.routing.compare import save_comparison
from ragtune_core.runs import JobState
from ragtune_core.store.files import FileContentError, read_json
from ragtune_core.store.workspace import WorkspaceError
from tests.reporting.fixtures import retrieval_report
from tests.reporting.fixtures import router_comparison as made_comparison


def test_two_runs_are_kept_newest_first_and_a_cancelled_one_holds_only_its_own_reports(workspace):
    with recording(workspace, RETRIEVAL, "d", "val", ["base", "tuned"]) as first:
        for name in ("base", "tuned"):
            first.add_report(save_report(workspace, retrieval_report(name, [1, 2, None]), "d"))
    with pytest.raises(KeyboardInterrupt), recording(workspace, RETRIEVAL, "d", "val", ["base", "tuned"]) as second:
        second.add_report(save_report(workspace, retrieval_report("base", [3, 3, 3]), "d"))
        raise KeyboardInterrupt  # stopped before "tuned" was saved

    latest, earlier = history(workspace, "d", "val")
    assert latest.state == EntryState.CANCELLED and "CANCELLED" in latest.describe()
    assert earlier.complete and "CANCELLED" not in earlier.describe()
    assert [r.name for r in retrieval_reports(workspace, latest)] == ["base"]
    assert [r.per_query[0].rank for r in retrieval_reports(workspace, latest)] == [3]
    assert [r.name for r in retrieval_reports(workspace, earlier)] == ["base", "tuned"]
    assert all(r.per_query[0].rank == 1 for r in retrieval_reports(workspace, earlier) if r.name == "base")


def test_an_error_marks_the_comparison_failed_and_one_before_any_result_is_not_kept(workspace):
    with pytest.raises(ValueError), recording(workspace, RETRIEVAL, "d", "val", ["base", "tuned"]) as kept:
        kept.add_report(save_report(workspace, retrieval_report("base", [1]), "d"))
        raise ValueError("tuned does not load")
    (entry,) = history(workspace, "d")
    assert entry.state == EntryState.FAILED and entry.finished is not None
    with pytest.raises(ValueError), recording(workspace, ROUTER, "d", "val", ["base"]):
        raise ValueError("top_k must be 1 to 100")  # refused before anything was made
    assert history(workspace, "d") == [entry]


def test_an_entry_left_running_by_a_killed_job_takes_the_jobs_state(workspace):
    run = workspace.create_run("evaluate", "evaluate · d", {}, None)
    unclosed = recording(workspace, RETRIEVAL, "d", "val", ["base"], run_id=run.id)  # as a SIGKILL leaves it
    recorder = unclosed.__enter__()
    assert history(workspace, "d")[0].state == EntryState.RUNNING
    workspace.update_run(run.id, state=JobState.CANCELLED, finished=2.0)
    assert history(workspace, "d")[0].state == EntryState.CANCELLED
    assert find_entry(workspace, recorder.entry.id).state == EntryState.CANCELLED


def test_entries_are_stored_atomically_with_their_schema_checked(workspace):
    with recording(workspace, ROUTER, "d", "all", ["base"], settings={"seed": 0}) as kept:
        saved = save_comparison(workspace, made_comparison({"base": 5}, {"base": 0.01}, n=10, part="all"))
        kept.add(saved.comparison_id)
    (path,) = workspace.dir("comparisons").glob("*.json")
    stored = json.loads(path.read_text())
    assert stored["kind"] == "router" and stored["part"] == "all" and stored["settings"] == {"seed": 0}
    assert stored["results"] == ["route-1"] and stored["state"] == "complete" and "legacy" not in stored
    assert router_comparison(workspace, history(workspace, "d")[0]).comparison_id == "route-1"
    path.write_text(json.dumps({**stored, "state": "done"}))
    with pytest.raises(FileContentError, match="state"):
        read_json(path, "comparison", ENTRY_SCHEMA)
    assert [e.legacy for e in history(workspace, "d")] == [True]  # the damaged entry is left out, its result kept


def test_results_saved_before_history_was_kept_load_as_legacy_entries(workspace):
    save_report(workspace, retrieval_report("base", [1, 1], created=10.0), "d")
    save_report(workspace, retrieval_report("base", [2, 2], created=20.0), "d")  # the newer of base's two
    save_report(workspace, retrieval_report("tuned", [1, 1], created=15.0), "d")
    save_comparison(workspace, made_comparison({"base": 5}, {"base": 0.01}, n=10, created=30.0))
    router, retrieval = history(workspace, "d")
    assert (router.kind, router.legacy, router.results) == ("router", True, ["route-1"])
    assert retrieval.legacy and retrieval.created == 20.0
    assert "saved before comparisons were kept" in retrieval.describe()
    assert sorted((r.name, r.per_query[0].rank) for r in retrieval_reports(workspace, retrieval)) == [
        ("base", 2),
        ("tuned", 1),
    ]
    assert find_entry(workspace, retrieval.id) == retrieval


def test_an_unknown_comparison_is_named(workspace):
    with pytest.raises(WorkspaceError, match="no comparison 'cmp-nope'"):
        find_entry(workspace, "cmp-nope")
