"""Dataset versions: a curated edit is a new version beside the old; a trained-on version never changes."""

import dataclasses
import json

import pytest

from ragtune_core.cli import main
from ragtune_core.questions.qa_dataset import DatasetError, load_dataset, save_dataset, split_dataset, update_dataset
from ragtune_core.questions.versions import changes_of, diff, save_version, versions_of
from tests.questions.test_queue import dataset as flagged_dataset


def run(capsys, workspace, *argv):
    code = main(["--workspace", str(workspace.root), *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def edited(dataset):
    """The dataset with one question relabelled, one reworded and one dropped."""
    queries = {q: t for q, t in dataset.queries.items() if q != "duplicate"}
    queries["offline"] = "How many global employees does Acme have?"
    relevant = {q: dataset.relevant_docs[q] for q in queries} | {"mislabelled": ["vesuvius"]}
    return dataclasses.replace(
        dataset, queries=queries, relevant_docs=relevant, split={q: p for q, p in dataset.split.items() if q in queries}
    )


@pytest.fixture
def first(workspace):
    return save_dataset(workspace, "volcanoes", flagged_dataset(), None, {"split_by": "query", "imported": "x.json"})


def test_saving_an_edit_makes_a_new_version_and_keeps_the_old(workspace, first):
    original = load_dataset(workspace, first.id)
    second = save_version(workspace, first.id, edited(original))
    assert (second.name, second.params["version"], second.params["parent"]) == ("volcanoes v2", 2, first.id)
    assert (second.params["split_by"], second.params["imported"]) == ("query", "x.json")  # still an import
    assert load_dataset(workspace, first.id) == original  # the old version as it was
    new = load_dataset(workspace, second.id)
    assert new.relevant_docs["mislabelled"] == ["vesuvius"] and "duplicate" not in new.queries
    changes = changes_of(workspace.get_dataset(second.id))
    assert (changes.relabelled, changes.reworded, changes.dropped, changes.added) == (
        ["mislabelled"],
        ["offline"],
        ["duplicate"],
        [],
    )
    assert changes.describe() == "1 relabelled, 1 reworded, 1 dropped"
    third = save_version(
        workspace, second.id, dataclasses.replace(new, queries={**new.queries, "clean": "When did Etna last erupt?"})
    )
    assert [d.id for d in versions_of(workspace, first.id)] == [first.id, second.id, third.id]
    assert third.name == "volcanoes v3" and changes_of(workspace.get_dataset(third.id)).reworded == ["clean"]


def test_an_unchanged_edit_is_no_version(workspace, first):
    with pytest.raises(DatasetError, match="nothing changed from dataset 'volcanoes'"):
        save_version(workspace, first.id, load_dataset(workspace, first.id))
    assert len(workspace.list_datasets()) == 1


def test_diff_sees_added_questions():
    old = flagged_dataset()
    new = dataclasses.replace(
        old,
        queries={**old.queries, "new": "Where is Pompeii?"},
        relevant_docs={**old.relevant_docs, "new": ["vesuvius"]},
    )
    assert diff(old, new).added == ["new"] and diff(new, old).dropped == ["new"]


def test_a_version_a_model_was_trained_on_is_never_changed_under_it(workspace, first):
    dataset = load_dataset(workspace, first.id)
    workspace.commit_model(workspace.reserve_model("tuned", "embedding", "base").id, dataset_id=first.id)
    dataset.split = split_dataset(dataset, 0.5, "query", seed=1)
    with pytest.raises(
        DatasetError, match="used by model 'tuned': it is never changed under them; save the change as a new version"
    ):
        update_dataset(workspace, first.id, dataset)
    assert load_dataset(workspace, first.id).split == flagged_dataset().split


def test_cli_versions_lists_each_version_with_its_changes_and_models(capsys, workspace, first):
    second = save_version(workspace, first.id, edited(load_dataset(workspace, first.id)))
    workspace.commit_model(workspace.reserve_model("tuned", "embedding", "base").id, dataset_id=first.id)
    code, summary, err = run(capsys, workspace, "versions", "volcanoes v2")
    assert code == 0, err
    assert [(v["name"], v["version"], v["changed"], v["trained_models"]) for v in summary["versions"]] == [
        ("volcanoes", 1, "first version", ["tuned"]),
        ("volcanoes v2", 2, "1 relabelled, 1 reworded, 1 dropped", []),
    ]
    assert summary["versions"][1]["parent"] == first.id and summary["versions"][1]["dataset_id"] == second.id
    code, _, err = run(capsys, workspace, "split", "volcanoes")
    assert code == 2 and "never changed under them" in err and len(err.strip().splitlines()) == 1


def test_cli_queue_prints_the_ranked_queue_with_reasons_and_scores(capsys, workspace, first):
    code, summary, err = run(capsys, workspace, "queue", "volcanoes", "--no-base")
    assert code == 0, err
    assert summary["scorers"] == ["words (TF-IDF)"]
    queue = summary["queue"]
    assert [item["priority"] for item in queue] == sorted((item["priority"] for item in queue), reverse=True)
    by_id = {item["query_id"]: item for item in queue}
    assert "'United States' without 'the'" in {r["detail"] for r in by_id["offline"]["reasons"]}
    assert {r["code"] for r in by_id["duplicate"]["reasons"]} >= {"duplicate"}
    candidate = by_id["offline"]["candidates"][0]
    assert candidate["id"] == "acme" and candidate["labelled"] and set(candidate["scores"]) == {"words (TF-IDF)"}
    code, limited, _ = run(capsys, workspace, "queue", "volcanoes", "--no-base", "--limit", "1")
    assert [item["query_id"] for item in limited["queue"]] == [queue[0]["query_id"]]
    code, _, err = run(capsys, workspace, "queue", "nope")
    assert code == 2 and len(err.strip().splitlines()) == 1
