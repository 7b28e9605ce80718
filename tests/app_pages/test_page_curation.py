"""The Questions page's curation queue: flagged questions, one click to fix each, saved as a new version."""

import dataclasses

import pytest

from app_pages.basics import literal
from ragtune_core import jobs
from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.evaluation.reranking import reranked_name
from ragtune_core.evaluation.retrieval import evaluate_retrieval, save_report
from ragtune_core.jobs import JobKind
from ragtune_core.questions.curation import load_draft
from ragtune_core.questions.qa_dataset import load_dataset, save_dataset, split_dataset, update_dataset
from ragtune_core.questions.versions import changes_of, save_version, versions_of
from ragtune_core.store.models import DEFAULT_BASE_MODEL
from ragtune_core.store.workspace import Workspace
from tests.jobs.test_rounds import BagOfWords, distilled, learnt, llm_server, relabelled_version
from tests.page_helpers import open_page, shown, texts, widget
from tests.questions.test_queue import PASSAGES
from tests.questions.test_queue import dataset as flagged_dataset


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    return notes_workspace(Workspace(tmp_path / "ws"))


def notes_workspace(ws: Workspace) -> Workspace:
    """A corpus of PASSAGES and the flagged dataset "volcanoes" over it."""
    chunks = [Chunk(pid, "notes", text) for pid, text in PASSAGES.items()]
    corpus = save_corpus(
        ws, "notes", [Document("notes", "Notes", "text:notes", " ".join(PASSAGES.values()))], chunks, {}
    )
    save_dataset(ws, "volcanoes", flagged_dataset(), corpus.id, {"split_by": "query"})
    return ws


def test_flagged_questions_are_relabelled_reworded_dropped_and_saved_as_a_new_version(ws):
    first = ws.resolve("datasets", "volcanoes")
    at = open_page("questions")
    widget(at, "button", "Build the queue").click().run()
    assert not at.exception
    assert "How many global employees does United States have?" in shown(at.markdown)
    assert "wording: 'United States' without 'the'" in shown(at.caption)
    assert "every scorer picks vesuvius, not the labelled etna" in shown(at.caption)

    at.button(key=f"relabel-{first.id}-mislabelled-vesuvius").click().run()
    at.text_input(key=f"reword-{first.id}-offline").input("How many global employees does Acme have?").run()
    at.button(key=f"drop-{first.id}-duplicate").click().run()
    assert "answer: vesuvius" in shown(at.info) and "To be dropped." in shown(at.info)
    widget(at, "button", "Save as a new version (3 decisions)").click().run()
    assert not at.exception and not at.error

    assert "Saved **volcanoes v2**: 1 relabelled, 1 reworded, 1 dropped" in texts(at.success)
    first_again, second = versions_of(ws, first.id)
    assert first_again.id == first.id and load_dataset(ws, first.id) == flagged_dataset()  # the old one kept
    assert at.session_state["dataset_id"] == second.id  # the new version is selected
    new = load_dataset(ws, second.id)
    assert new.relevant_docs["mislabelled"] == ["vesuvius"] and "duplicate" not in new.queries
    assert new.queries["offline"] == "How many global employees does Acme have?"
    assert changes_of(second).counts() == {"relabelled": 1, "reworded": 1, "dropped": 1, "added": 0}
    assert "v2 volcanoes v2: 1 relabelled, 1 reworded, 1 dropped" in shown(at.caption)


def test_the_queue_filters_by_reason(ws):
    at = open_page("questions")
    widget(at, "button", "Build the queue").click().run()
    widget(at, "multiselect", "Reasons").set_value(["duplicate"]).run()
    questions = shown(at.markdown)
    assert "When did Mount Etna erupt ?" in questions and "United States" not in questions


def flagged_draft(ws) -> str:
    """A finished generation run whose draft is the flagged dataset."""
    corpus_id = ws.resolve("corpora", "notes").id
    run = ws.create_run("generate_questions", "questions · notes", {"corpus_id": corpus_id})
    path = ws.run_dir(run.id) / "draft.json"
    draft = flagged_dataset()
    draft.split = {}
    draft.save(path)
    ws.update_run(run.id, state="succeeded", result={"draft": str(path), "questions": len(draft.queries)})
    return run.id


def test_the_review_grid_filters_by_flag_and_acts_on_every_shown_row(ws):
    run_id = flagged_draft(ws)
    at = open_page("questions")
    assert not at.exception
    assert "7 questions over 3 chunks · 4 flagged" in texts(at.caption)
    # unfiltered, nothing ticked: one click would drop or relabel the whole draft
    assert widget(at, "button", "Drop the 7 shown").disabled and widget(at, "button", "Set the answer").disabled
    widget(at, "multiselect", "Show the questions flagged").set_value(["duplicate"]).run()
    assert not widget(at, "button", "Set the answer").disabled
    widget(at, "button", "Drop the 1 shown").click().run()
    assert not at.exception
    draft = load_draft(ws, run_id)
    assert "duplicate" not in draft.queries and len(draft.queries) == 6

    widget(at, "multiselect", "Show the questions flagged").set_value(["wording"]).run()
    widget(at, "selectbox", "Answer for the 2 shown").set_value("vesuvius").run()
    widget(at, "button", "Set the answer").click().run()
    draft = load_draft(ws, run_id)
    assert draft.relevant_docs["mislabelled"] == draft.relevant_docs["offline"] == ["vesuvius"]
    assert draft.relevant_docs["clean"] == ["etna"]  # not shown: untouched


def test_retrain_and_compare_shows_the_rounds_gains_with_intervals(ws):
    first = ws.resolve("datasets", "volcanoes")
    dataset = load_dataset(ws, first.id)
    dataset.split = split_dataset(dataset, 0.5, "query", seed=0)
    update_dataset(ws, first.id, dataset)
    run = ws.create_run(JobKind.TRAIN_EMBEDDING, "tuned", {"dataset_id": first.id, "model_name": "tuned"})
    ws.commit_model(ws.reserve_model("tuned", "embedding", "base", run_id=run.id).id, dataset_id=first.id)
    second = save_version(
        ws, first.id, dataclasses.replace(dataset, relevant_docs={**dataset.relevant_docs, "mislabelled": ["vesuvius"]})
    )

    at = open_page("questions")
    widget(at, "selectbox", "Dataset").set_value(second.id).run()
    assert widget(at, "text_input", "New model").value == "tuned · volcanoes v2"
    assert widget(at, "button", "Retrain on this version")  # no new model yet

    ws.commit_model(ws.reserve_model("tuned · volcanoes v2", "embedding", "base").id, dataset_id=second.id)
    assert widget(at.run(), "button", "Compare the round")  # trained: evaluate both
    new = load_dataset(ws, second.id)
    texts = [*new.queries.values(), *new.corpus.values()]
    save_report(ws, evaluate_retrieval(BagOfWords(texts, min_length=8), new, "tuned", "val"), second.id)
    save_report(ws, evaluate_retrieval(BagOfWords(texts), new, "tuned · volcanoes v2", "val"), second.id)
    at.run()
    assert not at.exception
    assert "What the round changed: tuned · volcanoes v2 over tuned, on 4 validation questions" in shown(at.markdown)
    gains = at.dataframe[-1].value
    assert list(gains["metric"]) == ["ndcg@10", "accuracy@5", "mrr@10"]
    assert set(gains["verdict"]) <= {"better", "worse", "within noise"}
    assert gains["95% interval"].str.contains("…").all()


def test_a_reranker_round_retrains_the_cross_encoder_and_shows_its_reranking_gains(ws):
    first = ws.resolve("datasets", "volcanoes")
    dataset = load_dataset(ws, first.id)
    run = ws.create_run(
        JobKind.TRAIN_CROSS_ENCODER, "reranker", {"dataset_id": first.id, "model_name": "reranker", "config": {}}
    )
    ws.commit_model(ws.reserve_model("reranker", "cross_encoder", "base", run_id=run.id).id, dataset_id=first.id)
    second = save_version(
        ws, first.id, dataclasses.replace(dataset, relevant_docs={**dataset.relevant_docs, "mislabelled": ["vesuvius"]})
    )

    at = open_page("questions")
    widget(at, "selectbox", "Dataset").set_value(second.id).run()
    assert widget(at, "selectbox", "Model of an earlier version").options == ["reranker (cross-encoder)"]
    assert "reranking the top 20 passages their embedder finds for each" in shown(at.caption)
    assert widget(at, "text_input", "New model").value == "reranker · volcanoes v2"
    assert widget(at, "button", "Retrain on this version")

    ws.commit_model(ws.reserve_model("reranker · volcanoes v2", "cross_encoder", "base").id, dataset_id=second.id)
    assert widget(at.run(), "button", "Compare the round")
    new = load_dataset(ws, second.id)
    texts = [*new.queries.values(), *new.corpus.values()]
    for name, words in (("reranker", BagOfWords(texts, min_length=8)), ("reranker · volcanoes v2", BagOfWords(texts))):
        report = evaluate_retrieval(words, new, reranked_name(DEFAULT_BASE_MODEL, name), "val")
        save_report(ws, report, second.id)  # as the round's evaluation job names a reranking of the bundled model
    at.run()
    assert not at.exception
    assert "What the round changed: reranker · volcanoes v2 over reranker, on 1 validation questions" in shown(
        at.markdown
    )
    gains = at.dataframe[-1].value
    assert list(gains.columns[:3]) == ["metric", "reranker", "reranker · volcanoes v2"]
    assert gains["95% interval"].str.contains("…").all()


def test_a_version_without_a_model_to_retrain_says_which_models_a_round_retrains(ws):
    first = ws.resolve("datasets", "volcanoes")
    dataset = load_dataset(ws, first.id)
    ws.commit_model(ws.reserve_model("from-cli", "embedding", "base").id, dataset_id=first.id)
    second = save_version(ws, first.id, dataclasses.replace(dataset, queries={**dataset.queries, "clean": "When?"}))
    at = open_page("questions")
    widget(at, "selectbox", "Dataset").set_value(first.id).run()
    assert "Retrain and compare" not in texts(at.subheader)  # the first version: no round
    widget(at, "selectbox", "Dataset").set_value(second.id).run()
    assert (
        "No model to retrain: a round retrains embedding models, cross-encoders and (on a router dataset) LLMs "
        "fine-tuned here by a training run on an earlier version of this dataset." in shown(at.info)
    )


def test_an_llm_round_retrains_the_fine_tuned_llm_at_its_endpoint_and_shows_its_routing_gain(ws, plain_llm_environment):
    answers = {}
    with llm_server(answers) as server:
        first, old = distilled(ws, server, answers)
        second = relabelled_version(ws, first)
        at = open_page("questions")
        widget(at, "selectbox", "Dataset").set_value(second.id).run()
        assert not at.error
        assert widget(at, "selectbox", "Model of an earlier version").options == ["distilled (fine-tuned LLM)"]
        assert "routing each to a tool" in shown(at.caption)
        key = at.text_input(key=f"round-api-key-{old.id}")
        assert key.label == f"API key of {literal(server.base_url)}"  # as written, not a link
        key.input("sk-typed").run()

        widget(at, "button", "Retrain on this version").click().run()
        assert not at.exception and not at.error
        retrain = jobs.wait(ws, at.session_state["training_run"], timeout=60)
        assert retrain.state == "succeeded", retrain.error
        new = ws.resolve("models", "distilled · tools v2")
        assert new.dataset_id == second.id
        learnt(ws, new, answers)

        widget(at.run(), "button", "Compare the round").click().run()
        assert not at.exception and not at.error
        comparison = jobs.wait(ws, at.session_state["evaluation_run"], timeout=60)
        assert comparison.state == "succeeded", comparison.error
        at.run()
    assert not at.exception
    assert "What the round changed: distilled · tools v2 over distilled, on 7 validation questions" in shown(
        at.markdown
    )
    [gain] = at.dataframe[-1].value.to_dict("records")
    assert gain["metric"] == "match rate" and gain["gain"] == pytest.approx(1 / 7)
