import pytest

from ragtune_core import jobs
from ragtune_core.questions.qa_dataset import QADataset, save_dataset, split_dataset
from ragtune_core.store.workspace import Workspace
from tests.page_helpers import open_page, shown, texts, widget

PASSAGES = {
    f"p{i}": (f"doc{i % 2}", f"Passage {i} tells that city {i} has {i * 3} bridges and a port.") for i in range(8)
}


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    dataset = QADataset(
        queries={f"q{i}": f"How many bridges does city {i} have?" for i in range(8)},
        corpus={p: text for p, (_, text) in PASSAGES.items()},
        relevant_docs={f"q{i}": [f"p{i}"] for i in range(8)},
        passage_docs={p: doc for p, (doc, _) in PASSAGES.items()},
    )
    save_dataset(ws, "unsplit", dataset, None, {})
    dataset.split = split_dataset(dataset, 0.5, "document", seed=0)
    save_dataset(ws, "bridges", dataset, None, {})
    return ws


def _small_training(at, ws, name: str):
    """The page set to train `name` on the bridges dataset for one short epoch."""
    widget(at, "selectbox", "Dataset").set_value(ws.resolve("datasets", "bridges").id)
    widget(at, "checkbox", "Choose the number of epochs (default: auto, about 300 optimizer steps)").check()
    widget(at, "number_input", "Epochs").set_value(1)
    widget(at, "number_input", "Batch size").set_value(4)
    widget(at, "number_input", "Max length (tokens)").set_value(32)
    widget(at, "text_input", "Name of the fine-tuned model").input(name)


def test_unsplit_dataset_and_taken_name_are_refused_before_any_job(ws):
    at = open_page("finetune")
    widget(at, "selectbox", "Dataset").set_value(ws.resolve("datasets", "unsplit").id)
    widget(at, "button", "Start training").click().run()
    refused = texts(at.error)
    assert "has no train/validation split" in refused and "Fix the dataset on the Questions page" in refused
    assert ws.list_runs() == []


def test_a_name_too_long_is_refused_with_the_limit_and_no_job(ws):
    at = open_page("finetune")
    _small_training(at, ws, "x" * 121)
    widget(at, "button", "Start training").click().run()
    assert not at.exception
    refused = texts(at.error)
    assert "names are at most 120 characters" in refused and "Pick another name" in refused
    assert ws.list_runs() == [] and ws.list_models() == []


@pytest.mark.slow
def test_training_from_the_page_registers_a_model_and_fills_the_history(ws):
    at = open_page("finetune")
    _small_training(at, ws, "bridges-model")
    widget(at, "button", "Start training").click().run()
    run_id = at.session_state["training_run"]
    final = jobs.wait(ws, run_id, timeout=300)
    assert final.state == "succeeded", final.error
    at.run()

    assert not at.exception
    assert [m.name for m in ws.list_models("embedding")] == ["bridges-model"]
    history = at.dataframe[-1].value
    assert history.loc[0, "model"] == "bridges-model" and history.loc[0, "state"] == "succeeded"
    assert 0 <= history.loc[0, "ndcg@10"] <= 1
    assert history.loc[0, "schedule"].startswith("1 epoch = ") and history.loc[0, "kept step"] >= 0
    assert at.get("plotly_chart"), "no live/final training chart"
    # with another dataset picked, the run's panel still says which dataset it trained on
    widget(at, "selectbox", "Dataset").set_value(ws.resolve("datasets", "unsplit").id).run()
    assert "Run **bridges-model** · on dataset **bridges**" in shown(at.caption)

    # the same name again is refused, the first model untouched
    widget(at, "text_input", "Name of the fine-tuned model").input("bridges-model")
    widget(at, "button", "Start training").click().run()
    assert "already exists" in texts(at.error) and "Pick another name" in texts(at.error)
    assert "Questions page" not in texts(at.error)  # the dataset is fine: only the name needs changing
    assert len(ws.list_models()) == 1


def test_run_history_says_where_models_trained_with_the_cli_are(ws):
    at = open_page("finetune")
    assert "No training run yet." in texts(at.info)
    path = ws.model_dir("cli-model")
    path.mkdir(parents=True)
    ws.register_model("cli-model", "embedding", path, "all-MiniLM-L6-v2")  # as `ragtune train` leaves it: no run
    at = open_page("finetune")
    assert not at.exception
    assert "the models trained with the CLI are listed below" in texts(at.info)
    assert "No training run yet." not in texts(at.info), "a workspace with models has been trained in"


def test_setting_inputs_take_their_limits_from_the_training_config(ws):
    at = open_page("finetune")
    learning_rate = widget(at, "number_input", "Learning rate")
    assert (learning_rate.min, learning_rate.max) == (1e-8, 0.5)  # the config's limits, not the page's own
    assert widget(at, "number_input", "Batch size").min == 2


def test_cross_encoder_form_validates_its_settings(ws):
    at = open_page("finetune")
    at.get("button_group")[0].set_value("cross_encoder").run()
    widget(at, "selectbox", "Dataset").set_value(ws.resolve("datasets", "unsplit").id)
    assert "Hard negatives per question" in [n.label for n in at.number_input]
    widget(at, "button", "Start training").click().run()
    assert "has no train/validation split" in texts(at.error)


def test_the_cross_encoder_form_picks_the_newest_embedder_fine_tuned_on_the_dataset(ws):
    bridges, unsplit = ws.resolve("datasets", "bridges").id, ws.resolve("datasets", "unsplit").id
    for name, dataset_id in [("bridges-old", bridges), ("bridges-new", bridges), ("unsplit-emb", unsplit)]:
        ws.commit_model(ws.reserve_model(name, "embedding", "base").id, dataset_id=dataset_id)
    at = open_page("finetune")
    at.get("button_group")[0].set_value("cross_encoder").run()
    widget(at, "selectbox", "Dataset").set_value(bridges).run()
    assert widget(at, "selectbox", "Embedder for hard negatives").value == "bridges-new"
    assert widget(at, "selectbox", "Start from").value == "the embedder's weights, new score head"
    widget(at, "selectbox", "Dataset").set_value(unsplit).run()
    assert widget(at, "selectbox", "Embedder for hard negatives").value == "unsplit-emb"


@pytest.mark.slow
def test_a_hyperparameter_search_from_the_page_keeps_its_best_trial_and_charts_the_trials(ws):
    at = open_page("finetune")
    _small_training(at, ws, "searched")
    widget(at, "checkbox", "Search the learning rate, epochs and warm-up (Optuna)").check()
    widget(at, "number_input", "Trainings at most").set_value(2)
    widget(at, "button", "Start training").click().run()
    run_id = at.session_state["training_run"]
    assert ws.get_run(run_id).params["search"] == {"minutes": 10.0, "max_trials": 2}
    final = jobs.wait(ws, run_id, timeout=300)
    assert final.state == "succeeded", final.error
    at.run()

    assert not at.exception
    assert [m.name for m in ws.list_models("embedding")] == ["searched"]
    assert "Hyperparameter search: 2 trial(s) finished" in texts(at.caption)
    assert any(chart.proto.spec and "Search trials" in chart.proto.spec for chart in at.get("plotly_chart"))
    assert at.dataframe[-1].value.loc[0, "search trials"] == 2


def test_the_estimate_follows_the_settings_before_start_is_pressed(ws, kept_pace):
    at = open_page("finetune")
    widget(at, "selectbox", "Dataset").set_value(ws.resolve("datasets", "bridges").id).run()
    before = texts(at.caption)
    assert "Training length:" in before and "at batch 2 " not in before
    widget(at, "number_input", "Batch size").set_value(2).run()
    assert "at batch 2 " in texts(at.caption)
    assert ws.list_runs() == []  # nothing started
