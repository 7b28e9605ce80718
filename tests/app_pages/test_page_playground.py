from contextlib import contextmanager
from pathlib import Path

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

import app_pages.playground_tool as playground_tool
from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.questions.qa_dataset import load_dataset, save_dataset
from ragtune_core.questions.router.datasets import generate_router_dataset
from ragtune_core.questions.router.tools import make_tools
from ragtune_core.store.models import bundled_model_path
from ragtune_core.store.workspace import Workspace
from tests.page_helpers import APP, open_page, texts, widget

pytestmark = pytest.mark.slow  # loads the bundled model

TEXTS = {
    "Volcanoes": [
        "Mount Etna in Sicily erupts often and its lava flows reach the villages below the crater.",
        "Pyroclastic flows race down the slopes of a volcano at hundreds of kilometres per hour.",
        "The eruption of Mount Tambora in 1815 caused the Year Without a Summer in Europe.",
    ],
    "Bread": [
        "Sourdough bread rises slowly with wild yeast and lactic acid bacteria from the starter.",
        "Bakers in Paris compete every year for the prize of the best baguette in the city.",
        "Rye bread is dense and dark and keeps fresh for a whole week in a cool pantry.",
    ],
}


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    documents = [Document(t.lower(), t, f"text:{t}", " ".join(s)) for t, s in TEXTS.items()]
    chunks = [Chunk(f"{t.lower()}#{i}", t.lower(), s, page=i + 1) for t, ss in TEXTS.items() for i, s in enumerate(ss)]
    corpus = save_corpus(ws, "topics", documents, chunks, {})
    dataset, _ = generate_router_dataset(
        documents, chunks, make_tools(documents), questions_per_document=2, summary_variations=2
    )
    save_dataset(ws, "topics router", dataset, corpus.id, {})
    return ws


def _route(query):
    at = open_page("playground")
    widget(at, "text_input", "Query").input(query)
    widget(at, "button", "Route").click().run()
    assert not at.exception
    return at


def test_routes_a_specific_query_and_runs_the_vector_tool(ws):
    at = _route("Which volcano erupted in 1815 and caused a year without a summer?")
    routes = at.dataframe[0].value
    assert routes.loc[0, "pick"] == "vector_tool_volcanoes"
    assert at.get("plotly_chart")
    passages = at.dataframe[1].value
    assert "Tambora" in passages.loc[0, "text"] and passages.loc[0, "page"] == 3
    assert "grounded on these passages" in texts(at.caption)  # no LLM: says how to get an answer


def test_the_tool_run_is_a_trained_models_pick_not_the_bundled_ones_by_default(ws):
    record = ws.reserve_model("tuned", "embedding", "base")
    Path(record.path).symlink_to(bundled_model_path(), target_is_directory=True)  # the bundled weights, as a model here
    ws.commit_model(record.id)
    at = _route("Which volcano erupted in 1815 and caused a year without a summer?")
    assert len(at.dataframe[0].value) == 2  # both routed it
    assert widget(at, "selectbox", "Use the pick of").value == "embedding · tuned"


def test_summary_tool_without_llm_gives_a_labelled_extractive_summary(ws):
    at = _route("Give me a holistic summary of everything about Bread")
    assert at.dataframe[0].value.loc[0, "pick"] == "summary_tool_bread"
    assert "Extractive summary" in texts(at.markdown)
    assert "bread" in texts(at.markdown).lower()


def test_without_router_dataset_the_page_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "empty"))
    assert "Create a router dataset" in texts(open_page("playground").info)


@pytest.fixture
def summaries(monkeypatch):
    """Each summary's computation, as the spinners open while it ran."""
    spinning, calls = [], []
    real_spinner, real_summary = streamlit.spinner, playground_tool.extractive_summary

    @contextmanager
    def recorded_spinner(text, *args, **kwargs):
        with real_spinner(text, *args, **kwargs):
            spinning.append(text)
            try:
                yield
            finally:
                spinning.pop()

    def recorded_summary(embedder, document):
        calls.append(list(spinning))
        return real_summary(embedder, document)

    monkeypatch.setattr(streamlit, "spinner", recorded_spinner)
    monkeypatch.setattr(playground_tool, "extractive_summary", recorded_summary)
    return calls


def test_the_summary_is_made_under_a_spinner_in_its_place_and_not_made_again_on_a_rerun(ws, summaries):
    at = _route("Give me a holistic summary of everything about Bread")
    assert summaries == [["Summarising the document…"]]
    assert "Extractive summary" in texts(at.markdown)
    at.run()  # any widget's change reruns the page: the summary is shown again, not made again
    assert len(summaries) == 1 and "Extractive summary" in texts(at.markdown)


def test_the_playground_keeps_its_dataset_and_last_result_while_the_user_visits_another_page(ws, summaries):
    corpus = ws.list_corpora()[0]
    save_dataset(ws, "another router", load_dataset(ws, ws.list_datasets("router")[0].id), corpus.id, {})
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("app_pages/playground.py").run()
    picker = widget(at, "selectbox", "Router dataset")
    chosen = next(d.id for d in ws.list_datasets("router") if d.id != picker.value)  # not the one it starts at
    picker.set_value(chosen).run()
    widget(at, "text_input", "Query").input("Give me a holistic summary of everything about Bread")
    widget(at, "button", "Route").click().run()
    assert not at.exception and "Extractive summary" in texts(at.markdown)

    at.switch_page("app_pages/compare.py").run()
    assert not at.exception and not [w for w in at.selectbox if w.label == "Router dataset"]
    at.switch_page("app_pages/playground.py").run()
    assert widget(at, "selectbox", "Router dataset").value == chosen
    assert at.dataframe[0].value.loc[0, "pick"] == "summary_tool_bread"
    assert "Extractive summary" in texts(at.markdown) and len(summaries) == 1  # shown at once, not made again
