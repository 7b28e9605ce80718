import pytest

from ragtune_core import jobs
from ragtune_core.jobs import JobKind
from ragtune_core.store.workspace import Workspace
from tests.page_helpers import open_page, shown, texts, widget

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
    # the saved documents leave the staging area at once: no table or form offers them again
    assert not [h for h in app.subheader if h.value.startswith("Staged documents")]
    assert not [b for b in app.button if b.label == "Chunk and save"]
    corpora = Workspace(tmp_path / "ws").list_corpora()
    assert [(c.name, c.n_documents) for c in corpora] == [("cities", 1)]
    assert corpora[0].n_chunks >= 2  # three sentences do not fit one 16-token chunk
    [reader] = [df.value for df in app.dataframe if df.value.shape[0] == corpora[0].n_chunks]  # the chunk reader
    assert list(reader.columns) == ["chunk", "text"]  # pasted text has no pages or sections: no empty columns


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


def _fetch(at, ws, wiki, titles: list[str]) -> str:
    """Fetch `titles` from the stand-in wiki on the page; the id of the run it started."""
    widget(at, "text_area", "Page titles, one per line").input("\n".join(titles))
    widget(at, "text_input", "MediaWiki API endpoint").input(wiki.endpoint)
    widget(at, "button", "Fetch pages").click().run()
    assert not at.exception
    [run] = ws.list_runs(JobKind.FETCH_WIKI_PAGES)
    return run.id


def test_fetch_runs_as_a_job_and_its_pages_are_staged_once_when_it_ends(app, tmp_path, wiki):
    ws = Workspace(tmp_path / "ws")
    run_id = _fetch(app, ws, wiki, ["Toronto", "Nowhere Land"])
    assert not app.success  # nothing staged while the job runs
    assert jobs.wait(ws, run_id, timeout=60).state == "succeeded"

    app.run()
    assert "Added 1 document(s): Toronto" in texts(app.success)
    assert "**Nowhere Land**: no such page" in texts(app.error)
    app.run()  # staged once: the next run neither adds it again nor repeats the errors
    assert "Added 1 document(s)" not in texts(app.success) and not app.error
    assert "Staged documents (1)" in texts(app.subheader)
    _save(app, "wiki")
    assert [(c.name, c.n_documents) for c in ws.list_corpora()] == [("wiki", 1)]


def test_a_reloaded_page_reattaches_to_the_fetch_and_stages_its_pages(app, tmp_path, wiki):
    ws = Workspace(tmp_path / "ws")
    run_id = _fetch(app, ws, wiki, ["Slow"] * 3 + ["Toronto"])  # each "Slow" answers after 1.5 s
    reloaded = open_page("corpus")  # a new session: it knows the workspace only
    assert reloaded.get("progress"), "the running fetch's panel is not shown"
    assert jobs.wait(ws, run_id, timeout=60).state == "succeeded"

    reloaded.run()
    assert "Added 1 document(s): Toronto" in texts(reloaded.success)


def test_an_endpoint_that_is_no_url_starts_no_job(app, tmp_path):
    widget(app, "text_area", "Page titles, one per line").input("Toronto")
    widget(app, "text_input", "MediaWiki API endpoint").input("en.wikipedia.org/w/api.php")
    widget(app, "button", "Fetch pages").click().run()
    assert "must be an http(s) URL" in shown(app.error)
    assert Workspace(tmp_path / "ws").list_runs(JobKind.FETCH_WIKI_PAGES) == []


def test_a_damaged_fetched_file_is_named_and_stages_nothing(app, tmp_path, wiki):
    ws = Workspace(tmp_path / "ws")
    run_id = _fetch(app, ws, wiki, ["Toronto"])
    assert jobs.wait(ws, run_id, timeout=60).state == "succeeded"
    (ws.run_dir(run_id) / "fetched.json").write_text('{"documents": [{"title": "Toronto"}]}')

    app.run()
    assert not app.exception
    assert "fetched.json" in shown(app.error) and "missing doc_id" in shown(app.error)
    assert "Staged documents" not in texts(app.subheader)
