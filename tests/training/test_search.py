"""Hyperparameter search (training.search): trials around the given settings, trailing ones pruned,
the best published alone; a real two-trial search through the CLI."""

import json
import time
from pathlib import Path

import pytest

from ragtune_core.cli import main as cli_main
from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.training import EmbeddingTrainConfig, SearchSettings, TrainingError
from ragtune_core.training.fit import TrainResult
from ragtune_core.training.search import LEARNING_RATE_SPAN, PRUNE_AFTER_EVALS, search_and_train
from ragtune_core.training.stopping import stop_when
from tests.training.test_training import recorder, tiny_dataset

CONFIG = EmbeddingTrainConfig(learning_rate=2e-5, warmup_ratio=0.1)


class FakeTraining:
    """A training without a model: validation runs score `score(config, eval)`; writes a model folder."""

    def __init__(self, score, evals: int = 6, seconds: float = 0.0):
        self.score, self.evals, self.seconds, self.configs = score, evals, seconds, []

    def __call__(self, config, dataset, output_dir: Path, on_event, model_card_name=None) -> TrainResult:
        self.configs.append(config)
        time.sleep(self.seconds)
        values = [self.score(config, n) for n in range(1, self.evals + 1)]
        for n, value in enumerate(values, start=1):
            on_event("eval", {"step": 10 * n, "epoch": 1.0, "metrics": {"ndcg@10": value}})
        output_dir.mkdir()
        (output_dir / "README.md").write_text(f"lr {config.learning_rate}\n")
        best = max(values)
        return TrainResult(
            output_dir,
            "ndcg@10",
            {"ndcg@10": 0.1},
            {"ndcg@10": best},
            10 * (values.index(best) + 1),
            10 * self.evals,
            "fake",
            18,
            self.seconds,
        )


def test_the_first_trial_is_the_given_settings_and_the_best_trial_is_published_alone(tmp_path):
    # the higher the learning rate, the better: the search must move away from the given one
    training = FakeTraining(lambda config, n: config.learning_rate * 1000 + n / 100)
    events, on_event = recorder()
    output = tmp_path / "models" / "searched"
    output.parent.mkdir()
    result = search_and_train(SearchSettings(max_trials=6), training, CONFIG, 5, tiny_dataset(), output, on_event)

    first = training.configs[0]
    assert (first.learning_rate, first.epochs, first.warmup_ratio) == (2e-5, 5, 0.1)
    rates = [c.learning_rate for c in training.configs]
    assert all(2e-5 / LEARNING_RATE_SPAN <= r <= 2e-5 * LEARNING_RATE_SPAN for r in rates)
    assert all(3 <= c.epochs <= 10 for c in training.configs)  # half to twice the given epochs

    trials = [data for name, data in events if name == "trial"]
    assert len(result.trials) == len(trials) == 6 and [t["number"] for t in trials] == list(range(6))
    complete = {t["number"]: t["value"] for t in trials if t["state"] == "complete"}
    winner = max(complete, key=complete.get)
    assert result.metrics_after["ndcg@10"] == complete[winner] > complete[0]
    assert (output / "README.md").read_text().startswith(f"lr {rates[winner]}")
    assert f"Hyperparameter search: trial {winner} of 6" in (output / "README.md").read_text()
    assert result.output_dir == output and sorted(p.name for p in output.parent.iterdir()) == ["searched"]
    # every training event says which trial it belongs to
    assert {data["trial"] for name, data in events if name == "eval"} == set(range(6))


def test_a_trial_trailing_the_finished_ones_is_stopped_after_its_first_validation_runs(tmp_path):
    # the given settings score 0.9; every other trial 0.1
    training = FakeTraining(lambda config, n: 0.9 if config.learning_rate == 2e-5 else 0.1)
    events, on_event = recorder()
    result = search_and_train(
        SearchSettings(max_trials=3), training, CONFIG, 5, tiny_dataset(), tmp_path / "searched", on_event
    )

    trials = [data for name, data in events if name == "trial"]
    assert [t["state"] for t in trials] == ["complete", "pruned", "pruned"]
    assert [t["state"] for t in result.trials] == ["complete", "pruned", "pruned"]
    pruned_evals = [data for name, data in events if name == "eval" and data["trial"] == 1]
    assert len(pruned_evals) == PRUNE_AFTER_EVALS
    assert result.metrics_after["ndcg@10"] == 0.9 and sorted(p.name for p in tmp_path.iterdir()) == ["searched"]


def test_no_trial_starts_after_the_time_budget(tmp_path):
    training = FakeTraining(lambda config, n: 0.5, seconds=2.5)
    started = time.perf_counter()
    result = search_and_train(
        SearchSettings(minutes=0.1, max_trials=100), training, CONFIG, 5, tiny_dataset(), tmp_path / "searched"
    )
    # 6 s of budget: the third trial starts at 5 s and ends at 7.5 s, and no fourth starts
    assert len(result.trials) == 3 and time.perf_counter() - started < 10


def test_a_stop_request_ends_the_search_with_the_trial_in_progress(tmp_path):
    asked = []
    training = FakeTraining(lambda config, n: 0.5)

    def asked_during_the_first_trial(*args, **kwargs):
        asked.append(True)
        return training(*args, **kwargs)

    with stop_when(lambda: bool(asked)):
        result = search_and_train(
            SearchSettings(max_trials=5), asked_during_the_first_trial, CONFIG, 5, tiny_dataset(), tmp_path / "searched"
        )
    assert len(result.trials) == len(training.configs) == 1 and result.stopped_by_user
    assert "; the search was stopped by the user." in (tmp_path / "searched" / "README.md").read_text()


def test_a_failing_trial_leaves_nothing_behind(tmp_path):
    def failing(config, dataset, output_dir, on_event, model_card_name=None):
        output_dir.mkdir()
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        search_and_train(SearchSettings(), failing, CONFIG, 5, tiny_dataset(), tmp_path / "searched")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "changes, field",
    [({"minutes": 0}, "minutes"), ({"max_trials": 1}, "max_trials"), ({"max_trials": 2.5}, "max_trials")],
)
def test_search_settings_name_the_bad_one(changes, field):
    with pytest.raises(TrainingError, match=field):
        SearchSettings(**changes)


def test_cli_refuses_bad_search_options_before_training(workspace, capsys):
    save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    assert cli_main(["--workspace", str(workspace.root), "train", "tiny", "--name", "m", "--search-minutes", "0"]) == 2
    assert "hyperparameter search: minutes must be a number from 0.1 to 1440" in capsys.readouterr().err
    assert workspace.list_models() == []


@pytest.mark.slow
def test_cli_searches_two_real_trainings_and_registers_the_best(workspace, capsys):
    save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    assert (
        cli_main(
            [
                "--workspace",
                str(workspace.root),
                "train",
                "tiny",
                "--name",
                "searched",
                "--search-trials",
                "2",
                "--epochs",
                "1",
                "--batch-size",
                "4",
                "--max-seq-length",
                "64",
                "--lr",
                "5e-5",
            ]
        )
        == 0
    )
    out, err = capsys.readouterr()
    summary = json.loads(out)
    values = [t["value"] for t in summary["trials"] if t["state"] == "complete"]
    assert len(summary["trials"]) == 2 and summary["trials"][0]["params"]["learning_rate"] == 5e-5
    assert summary["metrics_after"]["ndcg@10"] == max(values)
    assert "trial 0 complete" in err and "trial 1 " in err
    [model] = workspace.list_models()
    assert model.name == "searched" and "Hyperparameter search: trial" in (Path(model.path) / "README.md").read_text()


@pytest.mark.parametrize(
    "option, message",
    [
        (["--batch-size", "1"], "batch_size must be a whole number from 2 to 4096, not 1"),
        (["--lr", "0.9"], "learning_rate must be a number from 1e-08 to 0.5, not 0.9"),
        (["--warmup-ratio", "nan"], "warmup_ratio must be a number from 0 to 0.9, not nan"),
    ],
)
def test_cli_refuses_a_setting_out_of_its_schema_range_in_one_line(workspace, capsys, option, message):
    save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    assert cli_main(["--workspace", str(workspace.root), "train", "tiny", "--name", "m", *option]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert workspace.list_models() == []
