import json
import math
from dataclasses import asdict

import numpy as np
import pytest
import torch

from ragtune_core import cli, jobs
from ragtune_core.cli import train as train_cli
from ragtune_core.evaluation.blend import Blend, kept_blend, saved_first_stage
from ragtune_core.evaluation.metrics import METRIC_NAMES
from ragtune_core.evaluation.reranking import first_stage
from ragtune_core.jobs.tasks import TASKS
from ragtune_core.jobs.training_tasks import run_cross_encoder_job
from ragtune_core.questions.qa_dataset import DatasetError, QADataset, save_dataset
from ragtune_core.store.models import CROSS_ENCODER, DEFAULT_BASE_MODEL
from ragtune_core.store.workspace import Workspace
from ragtune_core.training import SearchSettings, planned_schedule
from ragtune_core.training.config import CrossEncoderTrainConfig, TrainingError
from ragtune_core.training.cross_encoder import candidate_lists, labelled_pairs, train_cross_encoder
from ragtune_core.training.fit import load_base_model
from tests.fake_job import FakeContext

CITIES = ("Paris", "Tokyo", "Cairo")
FACT_QUESTIONS = (
    "What is the population of {}?",
    "When was {} founded?",
    "Which river runs through {}?",
    "How tall is the highest tower in {}?",
)
SUMMARY_QUESTIONS = (
    "Summarize the article about {}.",
    "Give me an overview of {}.",
    "What is {} about in general?",
    "Write a short summary of {}.",
)
TINY = CrossEncoderTrainConfig(
    epochs=1, batch_size=12, max_length=48, hard_negatives=1, learning_rate=5e-5, patience=3
)  # patience: it runs its 3 steps


def router_dataset() -> QADataset:
    """3 documents x 2 tools (facts, summary), 4 questions per tool: 24 questions, the last of each in val."""
    queries, corpus, relevant, split, tools = {}, {}, {}, {}, []
    for city in CITIES:
        for tool, kind, description, questions in (
            ("facts", "vector", f"Useful for specific facts about {city}: numbers, dates, places.", FACT_QUESTIONS),
            ("summary", "summary", f"Useful for summarizing the whole article about {city}.", SUMMARY_QUESTIONS),
        ):
            choice = f"{city.lower()}-{tool}"
            corpus[choice] = description
            tools.append(
                {
                    "id": choice,
                    "name": f"{city} {tool}",
                    "description": description,
                    "document_id": city.lower(),
                    "kind": kind,
                }
            )
            for i, question in enumerate(questions):
                qid = f"{choice}-q{i}"
                queries[qid], relevant[qid] = question.format(city), [choice]
                split[qid] = "val" if i == len(questions) - 1 else "train"
    return QADataset(queries, corpus, relevant, split=split, kind="router", extra={"tools": tools})


class AngleEmbedder:
    """Stands in for the embedder with only `encode`: every text is a unit vector at a set angle."""

    def __init__(self, degrees: dict[str, float]):
        self.degrees = degrees

    def encode(self, texts, **kwargs):
        radians = [math.radians(self.degrees[t]) for t in texts]
        return torch.tensor(np.array([[math.cos(r), math.sin(r)] for r in radians]), dtype=torch.float32)


def handmade_router() -> tuple[QADataset, AngleEmbedder]:
    """Four tools at 0, 30, 60 and 90 degrees; each question's angle fixes the embedder's ranking."""
    corpus = {f"c{i}": f"tool {i}" for i in range(4)}
    degrees = {f"tool {i}": 30.0 * i for i in range(4)}
    queries = {"near-c1": "at 25", "near-c3": "at 80", "two-right": "at 70"}
    degrees.update({"at 25": 25.0, "at 80": 80.0, "at 70": 70.0})
    relevant = {"near-c1": ["c0"], "near-c3": ["c1"], "two-right": ["c2", "c3"]}
    split = {"near-c1": "train", "near-c3": "train", "two-right": "val"}
    return QADataset(queries, corpus, relevant, split=split, kind="router"), AngleEmbedder(degrees)


def leftovers(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".partial")] if folder.exists() else []


# --- config and hard negatives (no model) -------------------------------------------------------
@pytest.mark.parametrize(
    "changes, field",
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": float("inf")}, "learning_rate"),
        ({"max_length": 4}, "max_length"),
        ({"hard_negatives": 0}, "hard_negatives"),
        ({"hard_negatives": 51}, "hard_negatives"),
        ({"warmup_ratio": 1.0}, "warmup_ratio"),
        ({"seed": -1}, "seed"),
        ({"epochs": True}, "epochs"),
        ({"base_model": " "}, "base_model"),
        ({"embedder": ""}, "embedder"),
    ],
)
def test_config_validation_names_the_bad_field(changes, field):
    with pytest.raises(TrainingError, match=field):
        CrossEncoderTrainConfig(**changes)


def test_config_round_trips_and_refuses_unknown_settings():
    config = CrossEncoderTrainConfig(epochs=3, hard_negatives=5, embedder="/models/mine")
    assert CrossEncoderTrainConfig.from_dict(asdict(config)) == config
    with pytest.raises(TrainingError, match="max_seq_length"):
        CrossEncoderTrainConfig.from_dict({"max_seq_length": 128})


def test_hard_negatives_are_the_highest_ranked_wrong_choices():
    dataset, embedder = handmade_router()
    # at 25 degrees: tool 1 (5 away), tool 0 (right), tool 2 (35), tool 3 (65).
    # at 80 degrees: tool 3 (10), tool 2 (20), tool 1 (right), tool 0 (80).
    assert labelled_pairs(first_stage(embedder, dataset, "train"), 2) == [
        ("at 25", "tool 0", 1.0),
        ("at 25", "tool 1", 0.0),
        ("at 25", "tool 2", 0.0),
        ("at 80", "tool 1", 1.0),
        ("at 80", "tool 3", 0.0),
        ("at 80", "tool 2", 0.0),
    ]


def test_easy_negatives_are_drawn_from_the_rest_of_the_corpus_after_the_hard_ones():
    dataset, embedder = handmade_router()
    first = first_stage(embedder, dataset, "train")
    for seed in range(8):  # at 25: right tool 0, hard tool 1; tools 2 and 3 are the rest
        triples = labelled_pairs(first, 1, seed=seed, easy=1)
        assert [(p, label) for q, p, label in triples if q == "at 25"][:2] == [("tool 0", 1.0), ("tool 1", 0.0)]
        assert [(p, label) for q, p, label in triples if q == "at 25"][2] in [("tool 2", 0.0), ("tool 3", 0.0)]
    drawn = {seed: labelled_pairs(first, 1, seed=seed, easy=1) for seed in range(8)}
    assert len({tuple(t) for t in drawn.values()}) > 1 and labelled_pairs(first, 1, seed=3, easy=1) == drawn[3]
    everything = [(p, label) for q, p, label in labelled_pairs(first, 1, easy=9) if q == "at 25"]
    assert sorted(everything) == [("tool 0", 1.0), ("tool 1", 0.0), ("tool 2", 0.0), ("tool 3", 0.0)]  # capped
    config = CrossEncoderTrainConfig(hard_negatives=1, easy_negatives=1, name_swaps=0, batch_size=1, epochs=1)
    assert planned_schedule(dataset, config).steps == len(labelled_pairs(first, 1, easy=1))


def test_every_right_choice_is_a_positive_and_k_is_capped_by_the_wrong_ones():
    dataset, embedder = handmade_router()
    triples = labelled_pairs(first_stage(embedder, dataset, None), 5)
    two_right = [(passage, label) for question, passage, label in triples if question == "at 70"]
    assert two_right == [("tool 2", 1.0), ("tool 3", 1.0), ("tool 1", 0.0), ("tool 0", 0.0)]
    assert sum(1 for q, _, label in triples if q == "at 25" and label == 0.0) == 3  # all the wrong tools
    with pytest.raises(DatasetError, match="split"):
        first_stage(embedder, QADataset(dataset.queries, dataset.corpus, dataset.relevant_docs), "train")


def test_a_router_trains_on_each_questions_candidates_as_one_list():
    """Listwise rows: each question's right tools first, then its wrong ones, as labelled_pairs gives them;
    the same question asked again is a list of its own."""
    dataset, embedder = handmade_router()
    triples = labelled_pairs(first_stage(embedder, dataset, None), 2)
    rows = candidate_lists(triples + triples[:3])
    assert [(q, passages, labels) for q, passages, labels in rows if q == "at 70"] == [
        ("at 70", ["tool 2", "tool 3", "tool 1", "tool 0"], [1.0, 1.0, 0.0, 0.0])
    ]
    assert len(rows) == len(dataset.queries) + 1 and rows[-1] == rows[0]
    assert [
        (q, p, label) for q, passages, labels in rows[:-1] for p, label in zip(passages, labels, strict=True)
    ] == triples


def test_a_router_questions_other_tool_of_its_document_is_always_a_negative():
    dataset, embedder = handmade_router()
    # c3 is the far end of the embedder's ranking for "at 25", but the same document as its right tool.
    dataset.passage_docs = {"c0": "doc-a", "c3": "doc-a", "c1": "doc-b", "c2": "doc-b"}
    triples = labelled_pairs(first_stage(embedder, dataset, "train"), 1)
    assert [(p, label) for q, p, label in triples if q == "at 25"] == [("tool 0", 1.0), ("tool 3", 0.0)]
    assert [(p, label) for q, p, label in triples if q == "at 80"] == [("tool 1", 1.0), ("tool 2", 0.0)]
    dataset.kind = "qa"  # a QA corpus has many passages per document: only the ranking counts
    assert [
        (p, label) for q, p, label in labelled_pairs(first_stage(embedder, dataset, "train"), 1) if q == "at 25"
    ] == [("tool 0", 1.0), ("tool 1", 0.0)]


def test_a_qa_reranker_learns_only_from_the_documents_its_train_questions_ask_of():
    """Split by document, the validation document's passages are never right in training: as negatives they
    would teach telling the documents apart. A router still learns every tool's description."""
    dataset, embedder = handmade_router()
    dataset.kind = "qa"
    dataset.passage_docs = {"c0": "train-doc", "c1": "train-doc", "c2": "val-doc", "c3": "val-doc"}
    first = first_stage(embedder, dataset, "train")
    # at 80 the embedder ranks c3 and c2 (the other document) above c1 (right), then c0.
    assert [(p, label) for q, p, label in labelled_pairs(first, 1) if q == "at 80"] == [
        ("tool 1", 1.0),
        ("tool 0", 0.0),
    ]
    assert {p for _, p, _ in labelled_pairs(first, 1, easy=5)} == {"tool 0", "tool 1"}
    dataset.passage_docs = {}  # documents unknown: every passage may be a negative
    assert [
        (p, label) for q, p, label in labelled_pairs(first_stage(embedder, dataset, "train"), 1) if q == "at 80"
    ] == [("tool 1", 1.0), ("tool 3", 0.0)]
    dataset.kind = "router"
    dataset.passage_docs = {"c0": "train-doc", "c1": "train-doc", "c2": "val-doc", "c3": "val-doc"}
    assert [
        (p, label) for q, p, label in labelled_pairs(first_stage(embedder, dataset, "train"), 2) if q == "at 80"
    ] == [("tool 1", 1.0), ("tool 0", 0.0), ("tool 3", 0.0)]  # its sibling, then the ranking


def test_validation_runs_rerank_an_even_sample_of_a_large_validation_part():
    from ragtune_core.training.fit import validation_sample

    queries = {f"q{i}": f"question {i}" for i in range(10)}
    dataset = QADataset(
        queries,
        {"p": "passage"},
        {q: ["p"] for q in queries},
        split={q: "val" if i >= 2 else "train" for i, q in enumerate(queries)},
    )
    sample = validation_sample(dataset, limit=4)
    assert [q for q in sample.queries if sample.split[q] == "val"] == ["q2", "q4", "q6", "q8"]
    assert [q for q in sample.queries if sample.split[q] == "train"] == ["q0", "q1"]  # training is untouched
    assert validation_sample(dataset, limit=8) is dataset


def test_training_refuses_bad_inputs_before_loading_anything(tmp_path):
    dataset = router_dataset()
    taken = tmp_path / "taken"
    taken.mkdir()
    with pytest.raises(TrainingError, match="already exists"):
        train_cross_encoder(TINY, dataset, taken)
    unsplit = QADataset(dataset.queries, dataset.corpus, dataset.relevant_docs, kind="router")
    with pytest.raises(TrainingError, match="no train/validation split"):
        train_cross_encoder(TINY, unsplit, tmp_path / "new")
    all_train = QADataset(
        dataset.queries,
        dataset.corpus,
        dataset.relevant_docs,
        split={q: "train" for q in dataset.queries},
        kind="router",
    )
    with pytest.raises(TrainingError, match="validation part"):
        train_cross_encoder(TINY, all_train, tmp_path / "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


# --- CLI (training itself stubbed out: the slow tests train for real) ------------------------------
def test_cli_train_passes_the_settings_to_the_library(workspace, run_cli, monkeypatch):
    record = save_dataset(workspace, "router", router_dataset(), None, {})
    calls = []

    def fake_train(ws, dataset_id, name, config, on_event=None, search=None):
        calls.append((dataset_id, name, config, search))
        return {"model_name": name, "steps": 7}

    monkeypatch.setattr(train_cli, "train_and_register", fake_train)
    code, out, err = run_cli(
        "train-cross-encoder",
        "router",
        "--name",
        " tool-picker ",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--lr",
        "3e-5",
        "--max-length",
        "128",
        "--hard-negatives",
        "4",
        "--search-trials",
        "3",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert {k: summary[k] for k in ("model_name", "steps")} == {"model_name": "tool-picker", "steps": 7}
    assert summary["estimated_seconds"] > 0  # three trials of the search at most
    assert calls == [
        (
            record.id,
            "tool-picker",
            CrossEncoderTrainConfig(epochs=2, batch_size=8, learning_rate=3e-5, max_length=128, hard_negatives=4),
            SearchSettings(max_trials=3),
        )
    ]


def test_cli_train_takes_the_newest_embedder_fine_tuned_on_the_dataset_unless_one_is_named(
    workspace, run_cli, monkeypatch
):
    record = save_dataset(workspace, "router", router_dataset(), None, {})
    other = save_dataset(workspace, "other", router_dataset(), None, {})
    configs = []
    monkeypatch.setattr(
        train_cli,
        "train_and_register",
        lambda ws, dataset_id, name, config, on_event=None, search=None: (
            configs.append(config) or {"blend": {"first_stage": 1.0, "lexical": 0.0}}
        ),
    )
    code, out, err = run_cli("train-cross-encoder", "router", "--name", "picker")
    assert code == 0 and configs.pop().embedder is None, err  # none fine-tuned yet: the bundled model
    said = "its score blended with the embedder's at 1.0; its own score did not rank better than noise"
    assert f"kept blend: {said}" in err
    for name, dataset_id in [("old-emb", record.id), ("new-emb", record.id), ("other-emb", other.id)]:
        workspace.commit_model(workspace.reserve_model(name, "embedding", "base").id, dataset_id=dataset_id)
        workspace.model_dir(name).mkdir(parents=True)  # a committed model has its folder
    code, out, err = run_cli("train-cross-encoder", "router", "--name", "picker")
    assert code == 0 and configs.pop().embedder == workspace.resolve("models", "new-emb").path, err
    assert "embedder: 'new-emb', the newest embedding model fine-tuned on 'router'" in err
    code, out, err = run_cli("train-cross-encoder", "router", "--name", "picker", "--embedder", "base")
    assert code == 0 and configs.pop().embedder is None and "embedder:" not in err


def test_cli_train_in_the_background_starts_the_worker_task(workspace, run_cli, monkeypatch):
    record = save_dataset(workspace, "router", router_dataset(), None, {})
    started = []

    def fake_start(ws, kind, params, name=None, dataset_id=None):
        started.append((kind, params, name, dataset_id))
        return jobs.JobStatus(run_id="run-x", kind=kind)

    monkeypatch.setattr(jobs, "start_job", fake_start)
    code, out, err = run_cli("train-cross-encoder", "router", "--name", "picker", "--background")
    assert code == 0, err
    summary = json.loads(out)
    assert summary.pop("estimated_seconds") > 0  # said before the job starts
    assert summary == {"run_id": "run-x", "state": "queued", "model_name": "picker"}
    kind, params, name, dataset_id = started[0]
    assert (kind, name, dataset_id) == ("train_cross_encoder", "picker", record.id)
    assert params["dataset_id"] == record.id and params["model_name"] == "picker"
    assert CrossEncoderTrainConfig.from_dict(params["config"]) == CrossEncoderTrainConfig()


def test_cli_train_refuses_bad_input_with_a_clear_message(workspace, run_cli):
    dataset = router_dataset()
    save_dataset(workspace, "router", dataset, None, {})
    save_dataset(workspace, "unsplit", QADataset(dataset.queries, dataset.corpus, dataset.relevant_docs), None, {})
    workspace.register_model("taken", "cross_encoder", workspace.root / "nowhere", DEFAULT_BASE_MODEL)
    for argv, message in [
        (("router", "--name", "new", "--hard-negatives", "0"), "hard_negatives"),
        (("router", "--name", "taken"), "'taken'"),
        (("router", "--name", "new", "--embedder", "taken"), "--embedder 'taken'"),
        (("unsplit", "--name", "new", "--background"), "split"),
        (("missing", "--name", "new"), "missing"),
    ]:
        code, out, err = run_cli("train-cross-encoder", *argv)
        assert code == 2 and message in err and out == "", argv
    assert [m.name for m in workspace.list_models()] == ["taken"] and workspace.list_runs() == []


def test_the_worker_runs_the_task():
    assert TASKS["train_cross_encoder"] is run_cross_encoder_job


# --- real training ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One short training run through the worker task on the router dataset, shared by the slow tests."""
    ws = Workspace(tmp_path_factory.mktemp("cross-encoder") / "workspace")
    record = save_dataset(ws, "router", router_dataset(), None, {})
    ctx = FakeContext(ws)
    result = run_cross_encoder_job(ctx, {"dataset_id": record.id, "model_name": "picker", "config": asdict(TINY)})
    return ws, record, ctx, result


@pytest.mark.slow
def test_training_saves_and_registers_a_loadable_cross_encoder(trained):
    from sentence_transformers.cross_encoder import CrossEncoder

    ws, _, _, result = trained
    (model,) = ws.list_models()
    assert (model.name, model.kind, model.path) == ("picker", "cross_encoder", result["model_path"])
    assert model.metrics == result["metrics_after"] and leftovers(ws.root / "models") == []
    loaded = CrossEncoder(model.path)
    assert loaded.num_labels == 1
    # The blend validation picked at the step kept, and the embedder it blends with (the bundled one here).
    assert kept_blend(loaded) == Blend(**result["blend"]) and sum(result["blend"].values()) <= 1
    assert saved_first_stage(model.path) == DEFAULT_BASE_MODEL
    scores = loaded.predict([("What is the population of Paris?", "Useful for specific facts about Paris.")] * 2)
    assert scores.shape == (2,) and np.isfinite(scores).all()
    # 18 train questions, each with its tool and one hard negative, in batches of 12.
    assert result["train_pairs"] == 36 and result["steps"] == 3


@pytest.mark.slow
def test_training_reports_finite_losses_and_router_match_rates(trained):
    _, _, ctx, result = trained
    losses = [data["loss"] for event, data in ctx.events if event == "train_step"]
    assert losses and all(math.isfinite(loss) for loss in losses)
    evals = [data for event, data in ctx.events if event == "eval"]
    assert evals[0]["step"] == 0 and evals[-1]["step"] == result["steps"]
    for data in evals:
        assert set(data["metrics"]) == set(METRIC_NAMES)
        assert all(0.0 <= value <= 1.0 for value in data["metrics"].values())
    assert result["primary_metric"] == "accuracy@1" and result["dataset_kind"] == "router"
    assert 0.5 < ctx.expected_share < 1  # it may stop early: its ETA aims short of its last planned step
    kept = [data["metrics"] for data in evals if data["step"] == result["best_step"]]
    assert kept[-1] == result["metrics_after"] and evals[0]["metrics"] == result["metrics_before"]
    assert all(data["metrics"]["accuracy@1"] <= result["metrics_after"]["accuracy@1"] for data in evals)
    assert 0.0 <= result["metrics_embedder"]["accuracy@1"] <= 1.0
    messages = [message for _, _, message in ctx.progress_calls]
    assert any(m.startswith("hard negatives:") for m in messages)
    assert "validation accuracy@1" in messages[-1]


@pytest.mark.slow
def test_cli_rerank_with_the_trained_cross_encoder_matches_its_validation(trained, capsys):
    ws, record, _, result = trained
    code = cli.main(
        ["--workspace", str(ws.root), "rerank", "router", "--embedder", "base", "--cross-encoder", "picker"]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    summary = json.loads(captured.out)
    assert summary["dataset_id"] == record.id and summary["queries"] == 6
    reranked = summary["models"][f"{DEFAULT_BASE_MODEL} + rerank picker"]
    # Every tool is within the top 20, so reranking them all is what the training evaluated.
    assert reranked["accuracy@1"] == pytest.approx(result["metrics_after"]["accuracy@1"])
    assert summary["models"][DEFAULT_BASE_MODEL] == pytest.approx(result["metrics_embedder"])


def qa_dataset() -> QADataset:
    """Six passages on distinct topics, two questions each; the last two topics are validation."""
    topics = {
        "volcano": (
            "Volcanoes erupt when magma rises through the crust.",
            "How does a volcano erupt?",
            "What comes out of a volcano?",
        ),
        "bread": (
            "Bread dough rises because yeast releases carbon dioxide.",
            "Why does dough rise?",
            "What does yeast do in bread?",
        ),
        "tides": ("Ocean tides are caused by the pull of the Moon.", "What causes tides?", "Why does the sea rise?"),
        "chess": (
            "In chess the king may castle once per game.",
            "When can a king castle?",
            "How often can you castle?",
        ),
        "piano": (
            "A piano sounds when hammers strike steel strings.",
            "How does a piano make sound?",
            "What hits a piano's strings?",
        ),
        "rust": ("Iron rusts when it reacts with oxygen and water.", "Why does iron rust?", "What makes iron rust?"),
    }
    queries, relevant, split = {}, {}, {}
    for i, (topic, (_, *questions)) in enumerate(topics.items()):
        for j, question in enumerate(questions):
            queries[f"{topic}-q{j}"], relevant[f"{topic}-q{j}"] = question, [topic]
            split[f"{topic}-q{j}"] = "val" if i >= 4 else "train"
    return QADataset(queries, {t: passage for t, (passage, *_) in topics.items()}, relevant, split=split)


@pytest.mark.slow
def test_a_failed_qa_run_leaves_no_model_behind(workspace):
    record = save_dataset(workspace, "qa", qa_dataset(), None, {})
    ctx = FakeContext(workspace, fail_on="train_step")
    with pytest.raises(RuntimeError, match="train_step"):
        run_cross_encoder_job(ctx, {"dataset_id": record.id, "model_name": "broken", "config": asdict(TINY)})
    assert workspace.list_models() == [] and not workspace.model_dir("broken").exists()
    assert leftovers(workspace.root / "models") == []
    # It got as far as scoring the base model as a reranker of the validation questions.
    (before,) = [data for event, data in ctx.events if event == "eval"]
    assert before["step"] == 0 and all(0.0 <= v <= 1.0 for v in before["metrics"].values())


@pytest.mark.slow
def test_a_qa_reranker_keeps_the_blend_with_its_first_stage_it_was_measured_at(workspace, capsys):
    """Each evaluation scores the reranker at its best blend with the first stage and word match; the model
    kept saves that blend, and reranking with it later gives the validation metrics its training reported."""
    from ragtune_core.evaluation.blend import BLENDS
    from ragtune_core.store.models import load_cross_encoder

    record = save_dataset(workspace, "qa", qa_dataset(), None, {})
    ctx = FakeContext(workspace)
    result = run_cross_encoder_job(ctx, {"dataset_id": record.id, "model_name": "reranker", "config": asdict(TINY)})
    evals = [data["metrics"] for event, data in ctx.events if event == "eval"]
    assert evals and all(set(e) <= set(METRIC_NAMES) for e in evals)  # metrics only: the weight goes its own way
    kept, blend = result["metrics_after"], Blend(**result["blend"])
    assert blend in BLENDS
    # The first stage alone is one of the blends: the kept reranker never ranks below it.
    assert kept["ndcg@10"] >= result["metrics_embedder"]["ndcg@10"]
    assert kept_blend(load_cross_encoder(result["model_path"])) == blend
    # The closing line names the blend (a verdict may follow it: a tiny run need not beat its start).
    line = ctx.progress_calls[-1][2]
    assert any("validation run: reranked" in message for *_, message in ctx.progress_calls)  # runs show progress
    assert f"blended with the embedder's at {blend.first_stage:.1f}" in line
    assert ("so it has no share" in line) == (blend.reranker_share == 0)
    code = cli.main(
        ["--workspace", str(workspace.root), "rerank", "qa", "--embedder", "base", "--cross-encoder", "reranker"]
    )
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    reranked = summary["models"][f"{DEFAULT_BASE_MODEL} + rerank reranker"]
    assert reranked == pytest.approx(kept)


@pytest.mark.slow
def test_a_qa_rerankers_test_part_is_measured_at_the_blend_weight_validation_chose(workspace, monkeypatch):
    """The test part chooses nothing: validation picks each step's blend weight (best_blend), the test part
    is reranked at that weight, and reranking it with the saved model (which keeps it) gives the same figures."""
    from ragtune_core.evaluation.reranking import RERANK_TOP_K, rerank
    from ragtune_core.store.models import load_cross_encoder, load_embedder
    from ragtune_core.training import cross_encoder

    chosen_on, test_weights = [], []
    best_blend, reranked = cross_encoder.best_blend, cross_encoder.reranked

    def choosing(first, *args):
        chosen_on.append(first.part)
        return best_blend(first, *args)

    def blending(first, scores, name, weight):
        if first.part == "test":
            test_weights.append(weight)
        return reranked(first, scores, name, weight)

    monkeypatch.setattr(cross_encoder, "best_blend", choosing)
    monkeypatch.setattr(cross_encoder, "reranked", blending)
    dataset = qa_dataset()
    dataset.split.update({"rust-q0": "test", "rust-q1": "test"})  # the last topic held out for reporting
    record = save_dataset(workspace, "qa with test", dataset, None, {})
    result = run_cross_encoder_job(
        FakeContext(workspace), {"dataset_id": record.id, "model_name": "reranker", "config": asdict(TINY)}
    )

    assert set(chosen_on) == {"val"}  # the test part never chose a weight
    assert len(test_weights) == 2 and test_weights[-1] == Blend(**result["blend"])  # base, then the kept model
    after = result["test_metrics_after"]
    assert set(after) == set(result["test_metrics_before"]) == set(METRIC_NAMES)
    reranker = load_cross_encoder(result["model_path"])
    assert kept_blend(reranker) == Blend(**result["blend"])
    test_first = first_stage(load_embedder(None), dataset, "test")
    assert rerank(reranker, test_first, RERANK_TOP_K, "reranker").metrics == pytest.approx(after)


def test_the_new_score_head_starts_from_the_seed():
    """A cross-encoder's score head is new: the same seed gives the same start, another seed another."""

    def weights(seed: int) -> dict:
        return load_base_model(CROSS_ENCODER, None, 128, None, seed).state_dict()

    first, again, other = weights(1), weights(1), weights(2)
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


def test_a_cross_encoder_starts_from_its_embedders_weights_unless_a_base_model_is_named(tmp_path, monkeypatch):
    """The encoder of a fine-tuned embedder already tells right from wrong: a cross-encoder starts there
    (a new score head on top), and from the bundled model only when that is its embedder too."""
    from ragtune_core.store.models import load_model
    from ragtune_core.training.cross_encoder import start_model

    embedder = tmp_path / "embedder"
    tuned = load_model("embedding", None)
    with torch.no_grad():
        next(tuned[0].auto_model.parameters()).add_(1.0)  # an encoder unlike the bundled one
    tuned.save(str(embedder))
    assert start_model(CrossEncoderTrainConfig(embedder=str(embedder))) == str(embedder)
    assert start_model(CrossEncoderTrainConfig(embedder=str(embedder), base_model="my/reranker")) == "my/reranker"
    assert start_model(CrossEncoderTrainConfig()) is None  # the bundled model, the default embedder
    started = load_base_model(CROSS_ENCODER, start_model(CrossEncoderTrainConfig(embedder=str(embedder))), 128, None, 0)
    encoder = dict(started.model.base_model.named_parameters())
    first_name, first_tuned = next(iter(tuned[0].auto_model.named_parameters()))
    assert torch.equal(encoder[first_name], first_tuned)  # the embedder's weights, not the bundled ones
