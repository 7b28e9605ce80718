"""The review of a draft that someone else saves meanwhile (another tab, a command): the page says
so, refuses to save over their version, and Reload shows it; a draft whose corpus is gone still
opens, with a warning instead of its pages."""

import pytest

from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.questions.curation import load_draft, save_draft
from ragtune_core.store.workspace import Workspace
from tests.page_helpers import open_page, shown, widget
from tests.questions.test_qa_dataset import many_documents


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    return Workspace(tmp_path / "ws")


def draft_run(ws: Workspace, corpus_id: str) -> str:
    run = ws.create_run("generate_questions", "gen · topics", {"corpus_id": corpus_id})
    path = ws.run_dir(run.id) / "draft.json"
    many_documents(2, 2).save(path)
    ws.update_run(run.id, state="succeeded", result={"draft": str(path), "questions": 4})
    return run.id


def corpus(ws: Workspace) -> str:
    docs = [Document(f"doc-{d}", f"Doc {d}", f"text:{d}", f"passage 0 of document {d}") for d in range(2)]
    chunks = [Chunk(f"d{d}-c{c}", f"doc-{d}", f"passage {c} of document {d}") for d in range(2) for c in range(2)]
    return save_corpus(ws, "topics", docs, chunks, {}).id


@pytest.mark.fault(
    "A draft saved in another tab while it is being reviewed",
    sees="a warning that it changed; Save is refused; Reload shows the other version",
    kept="the other tab's save",
)
def test_a_draft_saved_elsewhere_is_said_and_not_overwritten(ws):
    run_id = draft_run(ws, corpus(ws))
    at = open_page("questions")
    assert not at.exception and not at.warning

    theirs = load_draft(ws, run_id)  # another tab saves an edit
    theirs.queries[next(iter(theirs.queries))] = "Their edit?"
    save_draft(ws, run_id, theirs)

    at.run()
    assert "This draft was changed elsewhere" in shown(at.warning)
    widget(at, "button", "Save draft").click().run()
    assert not at.exception
    assert "was changed by someone else" in shown(at.error)
    assert next(iter(load_draft(ws, run_id).queries.values())) == "Their edit?"

    widget(at, "button", "Reload the draft").click().run()
    assert not at.exception and "changed elsewhere" not in shown(at.warning)
    widget(at, "button", "Save draft").click().run()  # over the version it now shows: allowed, theirs kept
    assert not at.exception and not at.error
    assert next(iter(load_draft(ws, run_id).queries.values())) == "Their edit?"


@pytest.mark.fault(
    "A draft whose corpus lost its chunks",
    sees="the review opens with a warning instead of pages and sections",
    kept="the draft",
)
def test_a_draft_whose_corpus_is_gone_opens_with_a_warning(ws):
    corpus_id = corpus(ws)
    save_corpus(ws, "other", [Document("o", "Other", "text:o", "Other text.")], [Chunk("o#0", "o", "Other text.")], {})
    draft_run(ws, corpus_id)
    (ws.corpus_dir(corpus_id) / "chunks.jsonl").unlink()  # an older version deleted corpora in use
    at = open_page("questions")
    assert not at.exception
    assert "Pages and sections are not shown: corpus 'topics' has lost its chunks.jsonl" in shown(at.warning)
    assert widget(at, "button", "Accept and save dataset")
