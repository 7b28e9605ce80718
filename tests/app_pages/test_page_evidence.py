"""Evidence-phrase sets on the pages: Questions says what they are, Fine-tune never offers them, Compare
reports them apart from the generated validation with a table per style. Reports are made here with a
word-counting stand-in model and saved, so no page loads a model."""

import pytest
from streamlit.testing.v1 import AppTest

from ragtune_core import jobs
from ragtune_core.corpus.documents import Document, save_corpus
from ragtune_core.evaluation.retrieval import evaluate_retrieval, save_report
from ragtune_core.questions.evidence import import_evidence_set, parse_evidence_set
from ragtune_core.questions.qa_dataset import QADataset, load_dataset, save_dataset
from ragtune_core.store.models import DEFAULT_BASE_MODEL
from ragtune_core.store.workspace import Workspace
from tests.page_helpers import PAGES, open_page, shown, texts, widget
from tests.questions.test_cli_evidence import CHUNKS, EVIDENCE, WordModel


class ShortWordModel(WordModel):
    """Another stand-in: counts only words of five letters or more, so it ranks differently."""

    def encode(self, texts, **kwargs):
        return super().encode([" ".join(w for w in t.split() if len(w) >= 5) for t in texts])

    encode_query = encode_document = encode


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    document = Document("cinema", "Lanternfish annual report", "text:lanternfish.txt", " ".join(c.text for c in CHUNKS))
    corpus = save_corpus(ws, "cinema", [document], CHUNKS, {})
    generated = QADataset(
        {"g1": "What did Lanternfish sell?", "g2": "What did projector maintenance cost?"},
        {c.chunk_id: c.text for c in CHUNKS},
        {"g1": ["cinema#0"], "g2": ["cinema#1"]},
        passage_docs={c.chunk_id: c.doc_id for c in CHUNKS},
        split={"g1": "train", "g2": "val"},
    )
    save_dataset(ws, "generated", generated, corpus.id, {})
    import_evidence_set(ws, parse_evidence_set(EVIDENCE), "hand-written", "cinema", "lanternfish-hw.json")
    return ws


def unopened(page: str) -> AppTest:
    """A page not run yet, so that a test can set its session state first."""
    return AppTest.from_file(str(PAGES / f"{page}.py"), default_timeout=120)


def evaluated(ws, name: str, part: str) -> None:
    """Reports of the base and a 'tuned' stand-in on a dataset part, saved as an evaluation job saves them."""
    record = ws.resolve("datasets", name)
    dataset = load_dataset(ws, record.id)
    for label, model in ((DEFAULT_BASE_MODEL, WordModel()), ("tuned", ShortWordModel())):
        save_report(ws, evaluate_retrieval(model, dataset, label, part), record.id)


def test_questions_page_says_an_evidence_set_is_for_evaluation_only(ws):
    at = open_page("questions")
    widget(at, "selectbox", "Dataset").set_value(ws.resolve("datasets", "hand-written").id).run()
    assert not at.exception
    caption = shown(at.caption)
    assert "Evaluation only: hand-written questions scored by evidence phrases" in caption
    assert "3 questions (terse 2 · synonym 1); 1 left out at import" in caption
    listing = at.dataframe[0].value
    assert dict(zip(listing["name"], listing["use"], strict=True)) == {
        "generated": "",
        "hand-written": "evaluation only",
    }


def test_finetune_page_never_offers_an_evidence_set(ws):
    at = unopened("finetune")
    at.session_state["dataset_id"] = ws.resolve("datasets", "hand-written").id  # picked on another page
    at.run()
    assert not at.exception
    picker = widget(at, "selectbox", "Dataset")
    assert picker.options == ["generated"] and picker.value == ws.resolve("datasets", "generated").id
    assert "Held out, never trained on: hand-written" in shown(at.caption)


def test_compare_page_reports_an_evidence_set_per_style(ws):
    evaluated(ws, "hand-written", "all")
    at = unopened("compare")
    at.session_state["dataset_id"] = ws.resolve("datasets", "hand-written").id
    at.run()
    assert not at.exception
    assert [o for o in at.radio[0].options] == ["all"]
    assert not [w for w in at.multiselect if w.label == "Also evaluate every question of"]  # it is the held-out set
    assert "**Per style**" in texts(at.markdown)
    styles = next(d.value for d in at.dataframe if "style" in d.value.columns)
    assert list(zip(styles["model"], styles["style"], strict=True)) == [
        (DEFAULT_BASE_MODEL, "all"),
        (DEFAULT_BASE_MODEL, "terse"),
        (DEFAULT_BASE_MODEL, "synonym"),
        ("tuned", "all"),
        ("tuned", "terse"),
        ("tuned", "synonym"),
    ]
    assert list(styles["queries"]) == [3, 2, 1] * 2
    gains = list(styles["mrr@10 gain [95% CI]"])
    assert gains[:3] == ["", "", ""] and all(g.startswith(("+", "-")) and "[" in g for g in gains[3:])


def test_compare_page_evaluates_a_generated_set_and_its_held_out_sets_apart(ws, monkeypatch):
    evaluated(ws, "generated", "val")
    evaluated(ws, "hand-written", "all")
    started = []
    monkeypatch.setattr(
        jobs,
        "start_job",
        lambda ws, kind, params, **kw: started.append(params) or type("Status", (), {"run_id": None})(),
    )
    at = unopened("compare")
    at.session_state["dataset_id"] = ws.resolve("datasets", "generated").id
    at.run()
    assert not at.exception
    held_out = widget(at, "multiselect", "Also evaluate every question of")
    hand_written = ws.resolve("datasets", "hand-written").id
    assert held_out.value == [hand_written]  # offered and chosen by default
    assert "Held out: hand-written" in shown(at.subheader)
    assert "All 3 questions of this evidence-phrase set" in shown(at.caption)
    style_tables = [d.value for d in at.dataframe if "style" in d.value.columns]
    assert len(style_tables) == 1 and set(style_tables[0]["style"]) == {"all", "terse", "synonym"}
    widget(at, "button", "Evaluate").click().run()
    assert started and started[0]["held_out"] == [hand_written] and started[0]["part"] == "val"
