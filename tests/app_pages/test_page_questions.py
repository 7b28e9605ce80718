import pytest

from ragtune_core import jobs
from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.questions.qa_dataset import load_dataset, save_dataset
from ragtune_core.store.workspace import Workspace
from tests.page_helpers import open_page, texts, widget

SENTENCES = {
    "Volcanoes": [
        "Mount Etna in Sicily erupted in 2021 and covered Catania with ash.",
        "Magma chambers feed the eruptions of stratovolcanoes such as Vesuvius.",
    ],
    "Bakeries": [
        "Sourdough bread rises with wild yeast kept alive by the baker since 1998.",
        "Paris holds a yearly contest for the best baguette of the city.",
    ],
}


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    documents, chunks = [], []
    for title, sentences in SENTENCES.items():
        documents.append(Document(title.lower(), title, f"text:{title}", " ".join(sentences)))
        chunks += [Chunk(f"{title.lower()}#{i}", title.lower(), s) for i, s in enumerate(sentences)]
    save_corpus(ws, "topics", documents, chunks, {"chunk_size": 32})
    return ws


def test_without_a_corpus_the_page_says_where_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "empty"))
    at = open_page("questions")
    assert "Create a corpus on the Corpus page first." in texts(at.info)


def _generate_and_review(ws):
    at = open_page("questions")
    assert "Offline generator" in texts(at.caption)
    widget(at, "button", "Generate").click().run()
    run_id = at.session_state["generation_run"]
    assert jobs.wait(ws, run_id, timeout=120).state == "succeeded"
    return at.run(), run_id


def test_generate_review_and_accept(ws):
    at, run_id = _generate_and_review(ws)
    assert not at.exception
    assert "questions over 4 chunks" in texts(at.caption)

    widget(at, "text_input", "Dataset name").input("topics qa")
    widget(at, "button", "Accept and save dataset").click().run()

    assert "Saved dataset **topics qa**" in texts(at.success)
    record = ws.list_datasets()[0]
    dataset = load_dataset(ws, record.id)
    generated = ws.get_run(run_id).result["questions"]
    assert 4 <= generated <= 16 and len(dataset.queries) == generated  # up to 4 per chunk, all kept
    # two documents, fewer than a split by document into three parts needs: split by question, each part present
    assert set(dataset.split.values()) == {"train", "val", "test"}
    assert ws.get_run(run_id).result["accepted_dataset_id"] == record.id
    # an accepted draft leaves the review at once, and the message says what was saved
    assert "Generated questions appear here" in texts(at.info)


def test_accepting_a_one_document_draft_splits_by_question_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    sentences = SENTENCES["Volcanoes"] + SENTENCES["Bakeries"]
    chunks = [Chunk(f"notes#{i}", "notes", s) for i, s in enumerate(sentences)]
    save_corpus(ws, "notes", [Document("notes", "Notes", "text:notes", " ".join(sentences))], chunks, {})
    at, _ = _generate_and_review(ws)
    widget(at, "button", "Accept and save dataset").click().run()  # split by document, the default
    assert not at.exception and not at.error
    assert "split by question instead of by document" in texts(at.success)
    record = ws.list_datasets()[0]
    assert record.params["split_by"] == "query"
    assert set(load_dataset(ws, record.id).split.values()) == {"train", "val", "test"}


def test_accepting_under_a_taken_name_keeps_the_draft_and_the_old_dataset(ws):
    at, run_id = _generate_and_review(ws)
    widget(at, "text_input", "Dataset name").input("same")
    widget(at, "button", "Accept and save dataset").click().run()
    at, second_run = _generate_and_review(ws)
    widget(at, "selectbox", "Draft").set_value(second_run).run()
    widget(at, "text_input", "Dataset name").input("same")
    widget(at, "button", "Accept and save dataset").click().run()
    assert "already exists" in texts(at.error)
    assert len(ws.list_datasets()) == 1
    assert not ws.get_run(second_run).result.get("accepted_dataset_id")


def test_download_is_llama_index_json(ws):
    at, _ = _generate_and_review(ws)
    widget(at, "text_input", "Dataset name").input("export me")
    widget(at, "button", "Accept and save dataset").click().run()
    labels = [b.label for b in at.get("download_button")]
    assert labels == [
        "All questions (.json)",
        "Train part (.json)",
        "Validation part (.json)",
        "Test part (.json)",
    ]


def test_router_dataset_from_default_tools(ws):
    at = open_page("questions")
    at.get("button_group")[0].set_value("router").run()
    assert not at.exception
    widget(at, "number_input", "Specific questions per document").set_value(2)
    widget(at, "number_input", "Summary requests per document").set_value(3).run()
    widget(at, "button", "Generate").click().run()
    run_id = at.session_state["generation_run"]
    assert jobs.wait(ws, run_id, timeout=120).state == "succeeded"
    at.run()
    assert "over 4 tools" in texts(at.caption)  # a vector and a summary tool per document

    widget(at, "text_input", "Dataset name").input("topics router")
    widget(at, "button", "Accept and save dataset").click().run()
    assert "Saved dataset **topics router**" in texts(at.success)
    dataset = load_dataset(ws, ws.list_datasets()[0].id)
    assert dataset.kind == "router"
    assert sorted(dataset.corpus) == ["summary:bakeries", "summary:volcanoes", "vector:bakeries", "vector:volcanoes"]
    summary_questions = [q for q, tools in dataset.relevant_docs.items() if tools[0].startswith("summary:")]
    assert len(summary_questions) == 6


def test_an_imported_unsplit_dataset_can_be_split_on_the_page(ws):
    from ragtune_core.questions.qa_dataset import QADataset

    dataset = QADataset(
        {"q1": "a?", "q2": "b?", "q3": "c?", "q4": "d?"},
        {"p1": "x", "p2": "y"},
        {"q1": ["p1"], "q2": ["p1"], "q3": ["p2"], "q4": ["p2"]},
    )
    record = save_dataset(ws, "imported", dataset, None, {"imported": "file.json"})
    at = open_page("questions")
    assert "Not split yet" in texts(at.caption)
    widget(at, "selectbox", "Split by").set_value("query")  # one unknown document: split by query
    widget(at, "button", "Split").click().run()
    assert not at.exception and not at.error
    assert set(load_dataset(ws, record.id).split.values()) == {"train", "val", "test"}
    assert ws.get_dataset(record.id).params["split_by"] == "query"
    assert "train 2 · validation 1 · test 1 questions" in texts(at.caption)
    assert "Split (seed 42): train 2 · validation 1 · test 1" in texts(at.toast)  # said even when nothing changes


def test_a_dataset_is_deleted_from_the_page_unless_a_job_uses_it(ws):
    from ragtune_core.questions.qa_dataset import QADataset

    dataset = QADataset({"q1": "a?", "q2": "b?"}, {"p1": "x"}, {"q1": ["p1"], "q2": ["p1"]})
    kept, doomed = (save_dataset(ws, name, dataset, None, {}) for name in ("kept", "doomed"))
    busy = ws.create_run("sleep", "a job on it", {}, dataset_id=doomed.id)
    ws.update_run(busy.id, state="running")
    at = open_page("questions")
    widget(at, "selectbox", "Dataset").set_value(doomed.id).run()
    widget(at, "button", "Delete").click().run()
    assert "in use by the job 'a job on it'" in texts(at.error)
    assert sorted(d.name for d in ws.list_datasets()) == ["doomed", "kept"]
    ws.update_run(busy.id, state="succeeded")
    widget(at, "button", "Delete").click().run()
    assert not at.exception and [d.name for d in ws.list_datasets()] == ["kept"]
    assert widget(at, "selectbox", "Dataset").value == kept.id
