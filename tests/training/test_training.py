import argparse
import io
import json
import math
import os
import re
import signal
import time
import zipfile
from dataclasses import asdict

import pytest

from ragtune_core import jobs
from ragtune_core.cli import main as cli_main
from ragtune_core.jobs.cancellation import exit_on_sigterm
from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.store.models import ModelNotFound, zip_model
from ragtune_core.training.config import CrossEncoderTrainConfig, EmbeddingTrainConfig, TrainingError, limits
from ragtune_core.training.embedding import train_embedding
from ragtune_core.training.fit import plan_schedule, progress_message, short_metric_names

# 12 passages on distinct topics, 2 questions each: 24 (question, passage) pairs.
TOPICS = {
    "volcano": (
        "Volcanoes erupt when magma rises through the crust and escapes as lava and ash.",
        ["How does a volcano erupt?", "What comes out of an erupting volcano?"],
    ),
    "bread": (
        "Bread dough rises because yeast ferments sugar and releases carbon dioxide gas.",
        ["Why does bread dough rise?", "What does yeast do in bread?"],
    ),
    "chess": (
        "In chess the king may castle once, moving two squares toward a rook.",
        ["When can a chess king castle?", "How far does the king move when castling?"],
    ),
    "tides": (
        "Ocean tides are caused mainly by the gravitational pull of the Moon.",
        ["What causes ocean tides?", "Which body pulls the sea into tides?"],
    ),
    "bees": (
        "Honey bees communicate the location of flowers with a waggle dance.",
        ["How do bees tell each other where flowers are?", "What is the waggle dance of bees?"],
    ),
    "tax": (
        "Lyft reported income tax benefits from deferred tax assets in 2021.",
        ["What tax benefit did Lyft report?", "Did Lyft have deferred tax assets?"],
    ),
    "piano": (
        "A piano makes sound when felt hammers strike tuned steel strings.",
        ["How does a piano produce sound?", "What strikes the strings inside a piano?"],
    ),
    "rust": (
        "Iron rusts when it reacts with oxygen and water to form iron oxide.",
        ["Why does iron rust?", "What is rust made of?"],
    ),
    "glacier": (
        "Glaciers carve U-shaped valleys as the moving ice grinds the rock below.",
        ["How do glaciers shape valleys?", "What valley shape do glaciers leave?"],
    ),
    "vaccine": (
        "Vaccines train the immune system by exposing it to a harmless antigen.",
        ["How do vaccines work?", "What does a vaccine expose the immune system to?"],
    ),
    "coffee": (
        "Coffee beans are roasted to develop aroma compounds through the Maillard reaction.",
        ["Why are coffee beans roasted?", "Which reaction gives roasted coffee its aroma?"],
    ),
    "satellite": (
        "Geostationary satellites orbit at the speed of Earth's rotation above the equator.",
        ["Why do geostationary satellites stay above one spot?", "Where do geostationary satellites orbit?"],
    ),
}
VAL_TOPICS = {"piano", "coffee", "satellite"}
TINY = EmbeddingTrainConfig(epochs=1, batch_size=4, max_seq_length=64, eval_steps=2, learning_rate=5e-5)


def tiny_dataset(split: bool = True) -> QADataset:
    queries, corpus, relevant, passage_docs, parts = {}, {}, {}, {}, {}
    for topic, (passage, questions) in TOPICS.items():
        corpus[f"{topic}-0"] = passage
        passage_docs[f"{topic}-0"] = topic
        for i, question in enumerate(questions):
            qid = f"{topic}-q{i}"
            queries[qid] = question
            relevant[qid] = [f"{topic}-0"]
            parts[qid] = "val" if topic in VAL_TOPICS else "train"
    return QADataset(queries, corpus, relevant, passage_docs=passage_docs, split=parts if split else {})


def recorder():
    events = []
    return events, lambda name, data: events.append((name, data))


# --- no model needed ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "changes, field",
    [
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 1}, "batch_size"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": 1.5}, "learning_rate"),
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"max_seq_length": 4}, "max_seq_length"),
        ({"warmup_ratio": 1.0}, "warmup_ratio"),
        ({"eval_steps": 0}, "eval_steps"),
        ({"seed": -1}, "seed"),
        ({"epochs": 1.5}, "epochs"),
        ({"base_model": "  "}, "base_model"),
    ],
)
def test_config_validation_names_the_bad_field(changes, field):
    with pytest.raises(TrainingError, match=field):
        EmbeddingTrainConfig(**changes)


def test_config_round_trips_and_rejects_unknown_settings():
    config = EmbeddingTrainConfig(epochs=3, learning_rate=1e-4)
    assert EmbeddingTrainConfig.from_dict(asdict(config)) == config
    with pytest.raises(TrainingError, match="training settings: unknown field.s. lr"):
        EmbeddingTrainConfig.from_dict({"lr": 0.1})
    with pytest.raises(TrainingError, match="batch_size"):
        EmbeddingTrainConfig.from_dict({"batch_size": 0})


def test_config_is_parsed_from_command_line_strings_with_the_metadata_limits():
    from ragtune_core.cli.train import add_config_options, config_from_options

    parser = argparse.ArgumentParser()
    add_config_options(parser, EmbeddingTrainConfig)
    args = parser.parse_args(["--epochs", "3", "--lr", "1e-4", "--max-seq-length", "128", "--eval-steps", "5"])
    assert config_from_options(EmbeddingTrainConfig, args) == EmbeddingTrainConfig(
        epochs=3, learning_rate=1e-4, max_seq_length=128, eval_steps=5
    )
    assert config_from_options(EmbeddingTrainConfig, parser.parse_args([])) == EmbeddingTrainConfig()
    with pytest.raises(SystemExit):  # not a whole number: argparse refuses it
        parser.parse_args(["--epochs", "2.5"])
    with pytest.raises(TrainingError, match="epochs must be a whole number from 1 to 100, not 500"):
        config_from_options(EmbeddingTrainConfig, parser.parse_args(["--epochs", "500"]))
    assert limits(EmbeddingTrainConfig, "batch_size")[:2] == (2, 4096)
    assert limits(CrossEncoderTrainConfig, "batch_size")[:2] == (1, 4096)


def test_auto_epochs_aim_at_a_number_of_steps_whatever_the_data_size():
    small = plan_schedule(EmbeddingTrainConfig(), 240)  # 15 steps an epoch at batch 16
    assert (small.epochs, small.steps, small.eval_steps) == (20, 300, 25)
    assert small.reason.startswith("auto: 20 epochs = 300 steps for 240 pairs at batch 16")
    assert plan_schedule(EmbeddingTrainConfig(), 40_000).epochs == 1  # 2,500 steps in one epoch already
    assert plan_schedule(EmbeddingTrainConfig(), 3).epochs == EmbeddingTrainConfig.MAX_AUTO_EPOCHS
    fixed = plan_schedule(EmbeddingTrainConfig(epochs=3, eval_steps=7), 240)
    assert (fixed.epochs, fixed.eval_steps) == (
        3,
        7,
    ) and fixed.reason == "3 epochs = 45 steps for 240 pairs at batch 16"


def test_the_planned_schedule_counts_the_examples_each_trainer_makes():
    from ragtune_core.training import planned_schedule

    dataset = tiny_dataset()  # 18 train pairs
    assert planned_schedule(dataset, EmbeddingTrainConfig(epochs=2, query_batch_size=4)).reason.startswith(
        "2 epochs = 10 steps for 18 pairs"
    )  # a QA embedding: its question encoder's batch size
    # a cross-encoder trains on each question's right passage and 3 hard negatives
    assert planned_schedule(dataset, CrossEncoderTrainConfig(epochs=1, batch_size=8)).reason.startswith(
        "1 epoch = 9 steps for 72 pairs"
    )


def test_auto_epochs_aim_at_the_steps_of_the_datasets_kind():
    from ragtune_core.training import planned_schedule

    qa, router = tiny_dataset(), tiny_dataset()  # 18 train pairs
    router.kind = "router"
    for config in (EmbeddingTrainConfig(batch_size=2, query_batch_size=2), CrossEncoderTrainConfig(batch_size=8)):
        aims = {dataset.kind: planned_schedule(dataset, config).reason for dataset in (qa, router)}
        assert f"(aiming at {config.TARGET_STEPS} steps)" in aims["qa"], aims
        assert f"(aiming at {config.ROUTER_TARGET_STEPS} steps)" in aims["router"], aims


def test_the_best_evaluation_is_kept_ties_go_to_the_later_step_and_patience_stops_training():
    import torch

    from ragtune_core.training.fit import _BestModel

    model = torch.nn.Linear(1, 1, bias=False)

    def set_weight(value: float) -> None:
        with torch.no_grad():
            model.weight.fill_(value)

    set_weight(0.0)
    best = _BestModel(model, "ndcg@10", {"ndcg@10": 0.5}, patience=2)
    for weight, step, ndcg, stop in [(1.0, 10, 0.7, False), (2.0, 20, 0.6, False), (3.0, 30, 0.7, True)]:
        set_weight(weight)
        assert best.consider(step, {"ndcg@10": ndcg}) is stop
    assert best.step == 30 and best.metrics == {"ndcg@10": 0.7}
    set_weight(9.0)
    best.restore()
    assert model.weight.item() == 3.0

    set_weight(0.0)
    never_better = _BestModel(model, "ndcg@10", {"ndcg@10": 0.5}, patience=0)
    set_weight(5.0)
    assert never_better.consider(10, {"ndcg@10": 0.1}) is False  # patience 0: never stops early
    never_better.restore()
    assert never_better.step == 0 and model.weight.item() == 0.0  # the base model's weights

    # before the earliest step, evaluations without gain are counted but do not stop training
    late = _BestModel(model, "ndcg@10", {"ndcg@10": 0.5}, patience=1, earliest_stop=30)
    assert [late.consider(step, {"ndcg@10": 0.1}) for step in (10, 20, 30)] == [False, False, True]


def test_metric_keys_of_trainer_and_evaluator_get_short_names():
    metrics = {
        "eval_val_cosine_ndcg@10": 0.5,
        "val_cosine_accuracy@5": 0.75,
        "eval_runtime": 3.0,
        "eval_val_cosine_map@100": 0.25,
        "epoch": 1.0,
    }
    assert short_metric_names(metrics) == {"ndcg@10": 0.5, "accuracy@5": 0.75, "map@100": 0.25}


def test_progress_message_counts_epochs_from_one():
    assert progress_message({"epoch": 0.25, "epochs": 2, "loss": 1.23456}) == "epoch 1/2 · loss 1.2346"
    assert progress_message({"epoch": 1.0, "epochs": 2, "loss": None}) == "epoch 1/2"
    assert progress_message({"epoch": 1.5, "epochs": 2, "loss": 0.5}) == "epoch 2/2 · loss 0.5000"
    assert progress_message({"epoch": 1.0, "epochs": 2, "loss": 0.5, "trial": 3}) == "trial 3 · epoch 1/2 · loss 0.5000"


def test_unsplit_dataset_and_existing_output_are_refused_before_loading_a_model(tmp_path):
    with pytest.raises(TrainingError, match="no train/validation split.*split it"):
        train_embedding(TINY, tiny_dataset(split=False), tmp_path / "out")
    existing = tmp_path / "taken"
    existing.mkdir()
    (existing / "keep.txt").write_text("precious")
    with pytest.raises(TrainingError, match="already exists"):
        train_embedding(TINY, tiny_dataset(), existing)
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    assert (existing / "keep.txt").read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no partial folder left behind


def test_a_split_without_validation_questions_is_refused(tmp_path):
    dataset = tiny_dataset()
    dataset.split = {q: "train" for q in dataset.queries}
    with pytest.raises(TrainingError, match="validation part has no questions"):
        train_embedding(TINY, dataset, tmp_path / "out")


def test_zip_model_refuses_a_folder_that_is_not_a_model(tmp_path):
    with pytest.raises(ModelNotFound, match="not a saved sentence-transformers model"):
        zip_model(tmp_path)


def test_cli_refuses_a_taken_model_name_and_unknown_runs(workspace, capsys):
    record = save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    taken = workspace.register_model("taken", "embedding", workspace.model_dir("taken"), "base")
    root = ["--workspace", str(workspace.root)]
    assert cli_main([*root, "train", record.name, "--name", "taken"]) == 2
    assert "'taken'" in capsys.readouterr().err and [m.id for m in workspace.list_models()] == [taken.id]
    assert cli_main([*root, "train", record.id, "--name", "new", "--epochs", "0"]) == 2
    assert "epochs" in capsys.readouterr().err
    assert cli_main([*root, "cancel", "run-nope"]) == 2
    assert "run-nope" in capsys.readouterr().err
    assert cli_main([*root, "runs"]) == 0
    assert json.loads(capsys.readouterr().out) == {"runs": []}


def test_cli_trains_in_process_with_progress_on_stderr_and_one_json_line_on_stdout(workspace, capsys, monkeypatch):
    from ragtune_core.cli import train as train_cli

    record = save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    calls = []

    def fake_train_and_register(ws, dataset_id, model_name, config, on_event=None, run_id=None, search=None):
        calls.append((dataset_id, model_name, config, search))
        on_event("eval", {"step": 0, "epoch": 0.0, "metrics": {"ndcg@10": 0.5, "mrr@10": 0.25, "accuracy@5": 0.75}})
        on_event("progress", {"step": 3, "max_steps": 3, "epoch": 1.0, "epochs": 1, "loss": 0.125})
        return {"model_name": model_name}

    monkeypatch.setattr(train_cli, "train_and_register", fake_train_and_register)
    assert (
        cli_main(
            [
                "--workspace",
                str(workspace.root),
                "train",
                "tiny",
                "--name",
                " mine ",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--lr",
                "1e-4",
                "--max-seq-length",
                "64",
                "--base-model",
                "hf:some/model",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    summary = json.loads(out)
    assert summary.pop("model_name") == "mine" and summary["estimated_seconds"] > 0 and summary["seconds"] >= 0
    assert calls == [
        (
            record.id,
            "mine",
            EmbeddingTrainConfig(  # --batch-size and --lr given: a QA question encoder's too
                base_model="hf:some/model",
                epochs=1,
                batch_size=4,
                learning_rate=1e-4,
                max_seq_length=64,
                query_batch_size=4,
                query_learning_rate=1e-4,
            ),
            None,
        )
    ]
    assert re.search(
        r"estimated: about \d+ (s|min)(, at most \d+ (s|min) if it runs to the end)? \(start", err
    )  # said before it starts
    assert "eval at step 0: ndcg@10 0.5000, mrr@10 0.2500, accuracy@5 0.7500" in err
    assert re.search(r"train: \d+% · (\d+m )?\d+s elapsed · ((\d+m )?\d+s|…) left · validation run at step 0", err)


# --- training (loads the bundled MiniLM) ----------------------------------------------------------
@pytest.mark.slow
def test_training_saves_a_loadable_model_atomically_and_reports_events(tmp_path, capsys):
    from sentence_transformers import SentenceTransformer

    events, on_event = recorder()
    output = tmp_path / "models" / "tiny-minilm"
    result = train_embedding(TINY, tiny_dataset(), output, on_event, model_card_name="tiny-minilm")
    assert capsys.readouterr().out == ""  # the trainer's log printer is off: the CLI's stdout is its summary

    assert result.output_dir == output and result.train_pairs == 18 and result.steps >= 5
    assert sorted(p.name for p in output.parent.iterdir()) == ["tiny-minilm"]  # temp folders are gone
    card = (output / "README.md").read_text()
    assert "tiny-minilm" in card and "finetuned from [sentence-transformers/all-MiniLM-L6-v2]" in card
    model = SentenceTransformer(str(output))
    assert model.max_seq_length == 64
    assert model.encode(["Why does iron rust?"]).shape == (1, 384)

    steps = [data for name, data in events if name == "train_step"]
    assert steps and all(math.isfinite(s["loss"]) and s["max_steps"] == result.steps for s in steps)
    evals = [data for name, data in events if name == "eval"]
    assert evals[0]["step"] == 0 and evals[0]["metrics"] == result.metrics_before
    assert evals[-1]["step"] == result.steps
    assert len(evals) >= 3  # base model, eval steps, final model
    kept = [e for e in evals if e["step"] == result.best_step][-1]
    assert kept["metrics"] == result.metrics_after  # the best evaluation's model, not the last one's
    assert result.metrics_after["ndcg@10"] == max(e["metrics"]["ndcg@10"] for e in evals)
    assert [data for name, data in events if name == "best"] == [
        {
            "step": result.best_step,
            "metric": "ndcg@10",
            "value": result.metrics_after["ndcg@10"],
            "stopped_early": False,
            "stopped_by_user": False,
            "steps": 5,
            "planned_steps": 5,
        }
    ]
    assert result.schedule == "1 epoch = 5 steps for 18 pairs at batch 4"
    assert "## RAGTune training" in card and f"by validation ndcg@10: {result.metrics_after['ndcg@10']:.4f}" in card
    assert all(0 <= e["metrics"]["ndcg@10"] <= 1 for e in evals)
    assert {"accuracy@1", "accuracy@5", "mrr@10", "map@100"} <= set(result.metrics_after)
    progress = [data["step"] for name, data in events if name == "progress"]
    assert progress == list(range(1, result.steps + 1))

    archive = zipfile.ZipFile(io.BytesIO(zip_model(output)))
    # A QA model has a question route (trained) and a document route (the base model's): training.query_side.
    assert {
        "tiny-minilm/modules.json",
        "tiny-minilm/query_0_Transformer/model.safetensors",
        "tiny-minilm/document_0_Transformer/model.safetensors",
        "tiny-minilm/README.md",
    } <= set(archive.namelist())


@pytest.mark.slow
def test_the_kept_step_is_chosen_on_validation_and_the_reported_figures_are_the_test_parts(tmp_path):
    from ragtune_core.evaluation.retrieval import evaluate_retrieval
    from ragtune_core.store.models import load_embedder

    # Two more topics as the test part, each question labelled with the other's passage: no model gets them
    # right, so a figure measured on test is unmistakable beside validation's.
    dataset = tiny_dataset()
    for topic, other in (("rust", "glacier"), ("glacier", "rust")):
        for qid in (f"{topic}-q0", f"{topic}-q1"):
            dataset.relevant_docs[qid], dataset.split[qid] = [f"{other}-0"], "test"
    events, on_event = recorder()
    output = tmp_path / "kept"
    result = train_embedding(TINY, dataset, output, on_event)

    evals = {data["step"]: data["metrics"] for name, data in events if name == "eval"}
    best = max(metrics["ndcg@10"] for metrics in evals.values())
    assert result.best_step == max(step for step, metrics in evals.items() if metrics["ndcg@10"] == best)
    assert result.metrics_after == evals[result.best_step] and result.metrics_after["accuracy@1"] > 0.5
    kept = evaluate_retrieval(load_embedder(str(output)), dataset, "kept", part="test")
    base = evaluate_retrieval(load_embedder(None), dataset, "base", part="test")
    assert len(kept.per_query) == 4 and kept.metrics["accuracy@1"] == 0
    for name in ("ndcg@10", "mrr@10", "accuracy@5"):
        assert result.test_metrics_after[name] == pytest.approx(kept.metrics[name], abs=1e-3)
        assert result.test_metrics_before[name] == pytest.approx(base.metrics[name], abs=1e-3)
    assert result.figures("ndcg@10").endswith(
        f"test ndcg@10 {result.test_metrics_before['ndcg@10']:.3f} → {result.test_metrics_after['ndcg@10']:.3f}"
    )
    assert "- Test (held out, chose nothing): ndcg@10" in (output / "README.md").read_text()


@pytest.mark.slow
def test_a_failed_or_cancelled_run_leaves_neither_model_nor_temp_folder(tmp_path, monkeypatch):
    import sentence_transformers

    def failing_train(self, *args, **kwargs):
        raise RuntimeError("out of memory")

    def cancelled_train(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # what jobs.cancel_job sends the worker
        time.sleep(5)

    previous = signal.getsignal(signal.SIGTERM)
    try:
        exit_on_sigterm()
        for train, error in ((failing_train, RuntimeError), (cancelled_train, SystemExit)):
            monkeypatch.setattr(sentence_transformers.SentenceTransformerTrainer, "train", train)
            with pytest.raises(error):
                train_embedding(TINY, tiny_dataset(), tmp_path / "models" / "broken")
            assert list((tmp_path / "models").iterdir()) == []
    finally:
        signal.signal(signal.SIGTERM, previous)


@pytest.mark.slow
def test_background_training_job_registers_the_model_in_the_workspace(workspace, capsys):
    record = save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    root = ["--workspace", str(workspace.root)]
    assert (
        cli_main(
            [
                *root,
                "train",
                "tiny",
                "--name",
                "tiny job",
                "--background",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--max-seq-length",
                "64",
            ]
        )
        == 0
    )
    run_id = json.loads(capsys.readouterr().out)["run_id"]
    status = jobs.wait(workspace, run_id, timeout=300)
    log = (workspace.run_dir(run_id) / "worker.log").read_text()
    assert status.state == "succeeded", f"{status.error}\n{log[-3000:]}"

    [model] = workspace.list_models("embedding")
    assert model.name == "tiny job" and model.run_id == run_id
    assert model.path == status.result["model_path"] == str(workspace.model_dir("tiny job"))
    assert model.metrics == status.result["metrics_after"] and "ndcg@10" in model.metrics
    assert status.result["train_pairs"] == 18 and status.message.startswith("validation ndcg@10")
    assert workspace.get_run(run_id).dataset_id == record.id
    events = jobs.read_events(workspace, run_id)
    assert {"train_step", "eval"} <= {e["event"] for e in events}
    assert cli_main([*root, "runs", "--kind", "train_embedding"]) == 0
    [run] = json.loads(capsys.readouterr().out)["runs"]
    assert (run["id"], run["state"]) == (run_id, "succeeded")
    assert cli_main([*root, "models"]) == 0
    [listed] = json.loads(capsys.readouterr().out)["models"]
    assert (listed["id"], listed["name"]) == (model.id, "tiny job")
    assert cli_main([*root, "train", "tiny", "--name", "tiny job", "--background"]) == 2  # the name is taken now
    assert "already exists" in capsys.readouterr().err and len(workspace.list_runs()) == 1


# --- a model is published and listed in one transaction ----------------------------------------------
_KILLED_TRAINING = """
import os, signal, sys
from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.store.staging import staging_folder
from ragtune_core.store.workspace import Workspace
from ragtune_core.training import embedding, register
from ragtune_core.training.config import EmbeddingTrainConfig

root, how = sys.argv[1], sys.argv[2]

def killed(config, dataset, output_dir, on_event=None, model_card_name=None):
    partial = staging_folder(output_dir)
    if how == "published":  # the model folder is in place, the catalogue not yet told
        partial.rename(output_dir)
        (output_dir / "modules.json").write_text("[]")
    os.kill(os.getpid(), signal.SIGKILL)

embedding.train_embedding = killed
dataset = QADataset(queries={"q1": "Q?", "q2": "R?"}, corpus={"c1": "P.", "c2": "S."},
                    relevant_docs={"q1": ["c1"], "q2": ["c2"]}, split={"q1": "train", "q2": "val"})
ws = Workspace(root)
record = save_dataset(ws, "tiny", dataset, None, {})
register.train_and_register(ws, record.id, "crashed model", EmbeddingTrainConfig())
"""


@pytest.mark.parametrize("how", ["training", "published"])
def test_a_training_killed_before_its_model_is_listed_leaves_no_invisible_model(workspace, how):
    import subprocess
    import sys
    from pathlib import Path

    from ragtune_core.store.workspace import Workspace
    from ragtune_core.training.register import check_model_name

    done = subprocess.run(
        [sys.executable, "-c", _KILLED_TRAINING, str(workspace.root), how],
        cwd=Path(__file__).resolve().parents[2],
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL
    assert workspace.list_models() == []
    assert len(list((workspace.root / "models").iterdir())) == 1  # the partial or the published folder

    reopened = Workspace(workspace.root)  # the next app or CLI start
    assert list((workspace.root / "models").iterdir()) == []
    assert not reopened.model_name_taken("crashed model")
    assert check_model_name(reopened, "crashed model") == "crashed model"
    reserved = reopened.reserve_model("crashed model", "embedding", "base")
    assert reserved.path == str(reopened.model_dir("crashed model"))


def test_train_and_register_lists_the_model_only_once_published_and_gives_the_name_up_on_failure(
    workspace, monkeypatch
):
    from pathlib import Path

    from ragtune_core.training import embedding
    from ragtune_core.training.fit import TrainResult
    from ragtune_core.training.register import train_and_register

    record = save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    seen = []

    def publishing(config, dataset, output_dir, on_event=None, model_card_name=None):
        seen.append((workspace.list_models(), workspace.model_name_taken("fake")))  # while training
        output_dir.mkdir()
        return TrainResult(output_dir, "ndcg@10", {"ndcg@10": 0.1}, {"ndcg@10": 0.2}, 1, 1, "", 1, 0.0)

    def failing(config, dataset, output_dir, on_event=None, model_card_name=None):
        Path(output_dir).mkdir()
        raise RuntimeError("out of memory")

    monkeypatch.setattr(embedding, "train_embedding", publishing)
    summary = train_and_register(workspace, record.id, "fake", TINY)
    assert seen == [([], True)]
    [model] = workspace.list_models()
    assert (model.id, model.name, model.metrics) == (summary["model_id"], "fake", {"ndcg@10": 0.2})
    assert model.dataset_id == record.id  # what it was fine-tuned on: a cross-encoder's default embedder

    monkeypatch.setattr(embedding, "train_embedding", failing)
    with pytest.raises(RuntimeError, match="out of memory"):
        train_and_register(workspace, record.id, "broken", TINY)
    assert not workspace.model_name_taken("broken") and not workspace.model_dir("broken").exists()
    assert [m.name for m in workspace.list_models()] == ["fake"]
