import pytest

from ragtune_core.corpus.documents import Chunk, Document, Span
from ragtune_core.questions.qa_dataset import QADataset
from ragtune_core.store.workspace import Workspace, WorkspaceError
from ragtune_core.corpus.documents import load_chunks
from ragtune_core.questions.qa_dataset import load_dataset
from ragtune_core.corpus.documents import load_documents
from ragtune_core.corpus.documents import save_corpus
from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.questions.qa_dataset import update_dataset


def _dataset() -> QADataset:
    return QADataset(
        queries={"q1": "What is the capital?"},
        corpus={"c1": "Berlin is the capital."},
        relevant_docs={"q1": ["c1"]},
        passage_docs={"c1": "d1"},
    )


def test_corpus_round_trip_survives_a_new_workspace_object(tmp_path):
    ws = Workspace(tmp_path)
    doc = Document("d1", "Berlin", "text:berlin.txt", "Berlin is big.", [Span(0, 14, None, "Intro")])
    record = save_corpus(ws, "cities", [doc], [Chunk("d1#0", "d1", "Berlin is big.", None, "Intro")], {"chunk_size": 64})

    reopened = Workspace(tmp_path)  # what an app restart sees
    assert [c.name for c in reopened.list_corpora()] == ["cities"]
    assert load_documents(reopened, record.id) == [doc]
    assert load_chunks(reopened, record.id)[0].section == "Intro"
    assert reopened.get_corpus(record.id).params == {"chunk_size": 64}


def test_duplicate_names_are_refused_and_keep_the_first(workspace):
    first = save_dataset(workspace, "qa", _dataset(), None, {})
    with pytest.raises(WorkspaceError, match="already exists"):
        save_dataset(workspace, "qa", _dataset(), None, {"other": True})
    assert [d.id for d in workspace.list_datasets()] == [first.id]
    assert load_dataset(workspace, first.id).queries == {"q1": "What is the capital?"}


def test_blank_name_is_refused(workspace):
    with pytest.raises(WorkspaceError, match="name is required"):
        save_corpus(workspace, "  ", [], [], {})


def test_update_dataset_validates_before_writing(workspace):
    record = save_dataset(workspace, "qa", _dataset(), None, {})
    broken = _dataset()
    broken.relevant_docs["q1"] = ["missing"]
    with pytest.raises(ValueError, match="not in corpus"):
        update_dataset(workspace, record.id, broken)
    assert load_dataset(workspace, record.id).relevant_docs == {"q1": ["c1"]}


def test_resolve_by_name_or_id_and_unknown(workspace):
    record = save_dataset(workspace, "qa", _dataset(), None, {})
    assert workspace.resolve("datasets", "qa").id == record.id
    assert workspace.resolve("datasets", record.id).name == "qa"
    with pytest.raises(WorkspaceError, match="no dataset"):
        workspace.resolve("datasets", "nope")


def test_runs_and_models_are_listed_newest_first(workspace):
    run = workspace.create_run("train_embedding", "first", {"epochs": 1})
    workspace.update_run(run.id, state="succeeded", result={"ok": 1})
    assert workspace.get_run(run.id).result == {"ok": 1}
    path = workspace.model_dir("my model")
    assert path.name == "my-model"
    model = workspace.register_model("my model", "embedding", path, "base", run.id, {"ndcg@10": 0.5})
    assert workspace.list_models("embedding")[0].id == model.id
    assert workspace.model_name_taken("my model")
