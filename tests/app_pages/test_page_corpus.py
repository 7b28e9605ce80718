import pytest

from tests.page_helpers import open_page, texts, widget
from ragtune_core.store.workspace import Workspace

pytestmark = pytest.mark.slow  # loads a tokenizer


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    return open_page("corpus")


def _paste(at, title, text):
    widget(at, "text_input", "Title").input(title)
    widget(at, "text_area", "Text").input(text)
    widget(at, "button", "Add text").click().run()


def _save(at, name, chunk_size=512):
    widget(at, "text_input", "Corpus name").input(name)
    widget(at, "number_input", "Chunk size (tokens)").set_value(chunk_size)
    widget(at, "number_input", "Overlap (tokens)").set_value(0)
    widget(at, "button", "Chunk and save").click().run()


def test_paste_chunk_and_save_a_corpus(app, tmp_path):
    assert not app.exception
    _paste(app, "Berlin", "Berlin is the capital of Germany. It has many museums. The Spree flows through it.")
    assert "Added 1 document(s): Berlin" in texts(app.success)
    _save(app, "cities", chunk_size=16)

    assert not app.exception
    assert "Saved corpus **cities**" in texts(app.success)
    corpora = Workspace(tmp_path / "ws").list_corpora()
    assert [(c.name, c.n_documents) for c in corpora] == [("cities", 1)]
    assert corpora[0].n_chunks >= 2  # three sentences do not fit one 16-token chunk
    assert any(df.value.shape[0] == corpora[0].n_chunks for df in app.dataframe)  # the chunk reader


def test_chunk_size_defaults_to_what_the_model_reads_and_larger_chunks_are_warned_about(app):
    _paste(app, "Long", " ".join(f"Sentence number {i} says something about topic {i}." for i in range(200)))
    assert widget(app, "number_input", "Chunk size (tokens)").value == 224  # 256 read, less room for a question
    _save(app, "long", chunk_size=2048)
    assert not app.exception
    assert "This model reads 256 tokens of a passage" in texts(app.warning)


def test_empty_paste_is_an_error_and_nothing_is_staged(app):
    _paste(app, "Empty", "   ")
    assert "Empty" in texts(app.error)
    assert not [b for b in app.button if b.label == "Chunk and save"]


def test_duplicate_corpus_name_is_refused_and_keeps_the_first(app, tmp_path):
    for _ in range(2):
        _paste(app, "Lisbon", "Lisbon is the capital of Portugal. Trams climb its hills.")
        _save(app, "dup")
    assert "already exists" in texts(app.error)
    assert [c.name for c in Workspace(tmp_path / "ws").list_corpora()] == ["dup"]
