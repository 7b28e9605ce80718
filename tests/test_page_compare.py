import pytest

from page_helpers import open_page, texts, widget
from ragtune_core import jobs
from ragtune_core.qa_dataset import QADataset, split_dataset
from ragtune_core.workspace import Workspace

pytestmark = pytest.mark.slow  # evaluates the bundled model

PASSAGES = {
    "etna": ("volcano", "Mount Etna in Sicily is one of the most active volcanoes in Europe."),
    "tambora": ("volcano", "The 1815 eruption of Mount Tambora caused the Year Without a Summer."),
    "sourdough": ("bread", "Sourdough bread rises with wild yeast and lactic acid bacteria."),
    "baguette": ("bread", "Paris holds a yearly contest for the best baguette."),
}
QUESTIONS = {
    "q1": ("Which Sicilian volcano is very active?", "etna"),
    "q2": ("What caused the Year Without a Summer?", "tambora"),
    "q3": ("What makes sourdough rise?", "sourdough"),
    "q4": ("Where is the best baguette contest held?", "baguette"),
}


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    dataset = QADataset(
        queries={q: text for q, (text, _) in QUESTIONS.items()},
        corpus={p: text for p, (_, text) in PASSAGES.items()},
        relevant_docs={q: [p] for q, (_, p) in QUESTIONS.items()},
        passage_docs={p: doc for p, (doc, _) in PASSAGES.items()},
    )
    dataset.split = split_dataset(dataset, 0.5, "document", seed=1)
    ws.save_dataset("tiny", dataset, None, {})
    return ws


def test_evaluate_base_model_and_show_chart_and_per_query_table(ws):
    at = open_page("compare")
    assert "No evaluation of this dataset yet" in texts(at.info)
    widget(at, "button", "Evaluate").click().run()
    run_id = at.session_state["evaluation_run"]
    assert jobs.wait(ws, run_id, timeout=180).state == "succeeded"
    at.run()

    assert not at.exception
    assert at.get("plotly_chart"), "no metric chart"
    per_query = at.dataframe[-1].value
    assert len(per_query) == 2  # the validation half of the four questions
    assert any("rank" in str(c).lower() for c in per_query.columns)


def test_without_datasets_the_page_points_to_questions(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "empty"))
    assert "Create a dataset on the Questions page first." in texts(open_page("compare").info)
