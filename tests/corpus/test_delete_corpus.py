"""A corpus that something still needs is not deleted: the refusal lists what needs it (router
datasets, drafts not yet accepted, running generations); question datasets carry their passages
and do not hold it."""

import json

import pytest

from ragtune_core.cli import main
from ragtune_core.corpus.documents import Chunk, Document, load_chunks, save_corpus
from ragtune_core.questions.drafts import pending_draft
from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.store.workspace import WorkspaceError


def corpus(ws, name="docs"):
    docs = [Document(f"d{i}", f"Doc {i}", f"text:{i}.txt", f"Sentence {i}.") for i in range(2)]
    return save_corpus(ws, name, docs, [Chunk(f"d{i}#0", f"d{i}", f"Sentence {i}.") for i in range(2)], {})


def dataset(kind="qa") -> QADataset:
    return QADataset({"q": "Which?"}, {"d0#0": "Sentence 0."}, {"q": ["d0#0"]}, passage_docs={"d0#0": "d0"}, kind=kind)


def cli(capsys, ws, *argv):
    code = main(["--workspace", str(ws.root), *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_a_corpus_only_question_datasets_came_from_is_deleted(workspace):
    record = corpus(workspace)
    save_dataset(workspace, "qa", dataset(), record.id, {})
    assert workspace.corpus_dependants(record.id, pending_draft) == []
    workspace.delete_corpus(record.id, pending_draft)
    assert workspace.list_corpora() == [] and not workspace.corpus_dir(record.id).exists()
    assert [d.name for d in workspace.list_datasets()] == ["qa"]


@pytest.mark.fault(
    "Deleting a corpus that a router dataset, an unaccepted draft or a running generation needs",
    sees="the deletion is refused, listing what needs the corpus",
    kept="the corpus and everything using it",
)
def test_a_corpus_a_router_dataset_uses_is_kept_and_the_refusal_names_it(workspace):
    record = corpus(workspace)
    save_dataset(workspace, "cities-router", dataset("router"), record.id, {})
    with pytest.raises(WorkspaceError, match="corpus 'docs' is still needed by router dataset 'cities-router'"):
        workspace.delete_corpus(record.id, pending_draft)
    assert [c.name for c in workspace.list_corpora()] == ["docs"] and load_chunks(workspace, record.id)


def test_drafts_not_yet_accepted_and_running_generations_hold_the_corpus(workspace):
    record = corpus(workspace)
    draft = workspace.create_run("generate_questions", "gen · docs", {"corpus_id": record.id})
    workspace.update_run(draft.id, state="succeeded", result={"draft": "somewhere/draft.json"})
    running = workspace.create_run("generate_router_questions", "router · docs", {"corpus_id": record.id})
    workspace.update_run(running.id, state="running")
    other = workspace.create_run("generate_questions", "other", {"corpus_id": "corpus-else"})
    workspace.update_run(other.id, state="running")
    assert workspace.corpus_dependants(record.id, pending_draft) == [
        f"the draft of run 'gen · docs' ({draft.id}), not accepted yet",
        f"running run 'router · docs' ({running.id})",
    ]
    workspace.update_run(draft.id, result={"draft": "somewhere/draft.json", "accepted_dataset_id": "dataset-x"})
    workspace.update_run(running.id, state="failed")
    workspace.delete_corpus(record.id, pending_draft)
    assert workspace.list_corpora() == []


@pytest.mark.fault(
    "ragtune delete-corpus of a corpus still needed",
    sees="exit 2 listing the router datasets, drafts or runs that need it",
    kept="the corpus",
)
def test_the_cli_refuses_with_exit_2_listing_dependants_then_deletes(capsys, workspace):
    record = corpus(workspace)
    save_dataset(workspace, "r", dataset("router"), record.id, {})
    code, out, err = cli(capsys, workspace, "delete-corpus", "docs")
    assert (code, out) == (2, None)
    assert "router dataset 'r'" in err and "Traceback" not in err
    dataset_id = workspace.list_datasets()[0].id
    assert cli(capsys, workspace, "delete-dataset", "r")[:2] == (0, {"deleted_dataset_id": dataset_id, "name": "r"})
    assert workspace.list_datasets() == []
    assert cli(capsys, workspace, "delete-corpus", "docs")[:2] == (0, {"deleted_corpus_id": record.id, "name": "docs"})
    assert workspace.list_corpora() == []


def test_a_dataset_a_job_uses_is_not_deleted(workspace):
    record = save_dataset(workspace, "qa", dataset(), None, {})
    run = workspace.create_run("train_embedding", "m", {}, dataset_id=record.id)
    workspace.update_run(run.id, state="running")
    with pytest.raises(WorkspaceError, match="dataset 'qa' is in use by the job 'm'"):
        workspace.delete_dataset(record.id)
    workspace.update_run(run.id, state="succeeded")
    workspace.delete_dataset(record.id)
    assert workspace.list_datasets() == [] and not workspace.dataset_path(record.id).parent.exists()


def test_chunks_of_a_corpus_that_is_gone_are_named_not_a_missing_file(workspace):
    record = corpus(workspace)
    workspace.delete_corpus(record.id, pending_draft)
    with pytest.raises(WorkspaceError, match=f"no corpus with id '{record.id}'"):
        load_chunks(workspace, record.id)
