"""Pages over a damaged or half-deleted workspace: what is wrong is named in an st.error (file, key),
never a traceback, and the rest of the page still works."""

import json
import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.store.workspace import Workspace
from tests.page_helpers import APP, open_page, shown, widget


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    return Workspace(tmp_path / "ws")


def corpus(ws):
    docs = [Document(f"d{i}", f"Doc {i}", f"text:{i}.txt", f"Sentence {i}.") for i in range(2)]
    return save_corpus(ws, "docs", docs, [Chunk(f"d{i}#0", f"d{i}", f"Sentence {i}.") for i in range(2)], {})


@pytest.mark.fault(
    "A corpus whose chunks.jsonl is damaged, opened on the Corpus page",
    sees="an error naming the file, line and key; Delete still works",
    kept="the other corpora",
)
def test_a_damaged_chunk_is_named_on_the_corpus_page_which_can_still_delete_it(ws):
    record = corpus(ws)
    path = ws.corpus_dir(record.id) / "chunks.jsonl"
    path.write_text(json.dumps({"chunk_id": "d0#0", "doc_id": "d0", "text": None}) + "\n")
    at = open_page("corpus")
    assert not at.exception
    assert "chunks.jsonl, line 1: text: expected a string, got null" in shown(at.error)
    widget(at, "button", "Delete").click().run()
    assert not at.exception and ws.list_corpora() == []


def test_the_corpus_page_lists_what_needs_a_corpus_and_does_not_offer_to_delete_it(ws):
    record = corpus(ws)
    router = QADataset({"q": "Which?"}, {"vector_tool_d0": "About Doc 0."}, {"q": ["vector_tool_d0"]}, kind="router")
    save_dataset(ws, "docs-router", router, record.id, {})
    at = open_page("corpus")
    assert not at.exception
    assert "cannot be deleted while it is needed by: router dataset 'docs-router'" in shown(at.warning)
    assert widget(at, "button", "Delete").disabled
    assert [c.name for c in ws.list_corpora()] == ["docs"]


@pytest.mark.fault(
    "The app is opened on a damaged catalogue.sqlite",
    sees="an error naming catalogue.sqlite, no traceback",
    kept="the catalogue file as it is (restore it from a backup)",
)
def test_the_app_names_a_damaged_catalogue_instead_of_a_traceback(ws):
    corpus(ws)
    (ws.root / "catalogue.sqlite").write_bytes(b"\x00not a database\xff" * 64)
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not at.exception, at.exception
    assert "catalogue.sqlite" in shown(at.error)


def test_a_damaged_catalogue_row_is_named_on_the_questions_page(ws):
    record = corpus(ws)
    conn = sqlite3.connect(ws.root / "catalogue.sqlite")
    with conn:
        conn.execute("UPDATE corpora SET params = '{\"chunk' WHERE id = ?", (record.id,))
    conn.close()
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page("app_pages/questions.py").run()
    assert not at.exception, at.exception
    assert f"corpus '{record.id}' cannot be read" in shown(at.error)


@pytest.mark.fault(
    "A saved report or comparison file damaged, opened on the Compare page",
    sees="a warning naming each unreadable file and what is wrong in it",
    kept="every other saved result, shown as before",
)
def test_the_compare_page_names_saved_results_it_cannot_read(ws):
    dataset = QADataset({"q1": "a?"}, {"p1": "x"}, {"q1": ["p1"]})
    save_dataset(ws, "qa", dataset, None, {})
    (ws.dir("evaluations") / "half.json").write_text('{"report_id": ')
    (ws.dir("router_evaluations") / "odd.json").write_text('{"comparison_id": 3}')
    (ws.dir("comparisons") / "cut.json").write_text('{"id": "cmp-1", "kind": "router"}')
    at = open_page("compare")
    assert not at.exception
    [warning] = [w.value.replace("\\", "") for w in at.warning if "cannot be read" in w.value]
    assert "evaluation report half.json" in warning and "router comparison odd.json" in warning
    assert "comparison cut.json" in warning and "dataset_id" in warning
