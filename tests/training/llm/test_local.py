"""Local LoRA fine-tuning (TRL + PEFT) on a tiny random Llama: loss falls, events flow, a cancel stops
cleanly, the saved fine-tune reloads on its own and routes as trained; bad input is named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragtune_core.routing.selectors import Choice
from ragtune_core.store.llm_models import FINETUNE_INFO
from ragtune_core.training.config import TrainingError
from ragtune_core.training.fit import plan_schedule
from ragtune_core.training.llm.local import LocalLLMSettings, TrainingCancelled, train_lora

from .helpers import TOOLS
from .tiny_llm import SYSTEM_PROMPT, chat_line, right_lines, tiny_llm, write_lines

ALWAYS = "summary_tool_tax"  # the tool the fixture's model learns to call, whatever the query
QUERIES = [line["messages"][1]["content"] for line in right_lines()]


def settings(base: Path, **overrides) -> LocalLLMSettings:
    values = {
        "base_model": str(base),
        "epochs": 6,
        "batch_size": 4,
        "learning_rate": 2e-2,
        "lora_r": 8,
        "lora_alpha": 16,
        "max_length": 512,
    }
    return LocalLLMSettings(**{**values, **overrides})


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One training of the tiny model to call ALWAYS for every query: (result, events, folder)."""
    folder = tmp_path_factory.mktemp("local-llm")
    base = tiny_llm(folder / "base")
    train = write_lines(folder / "train.jsonl", [chat_line(q, ALWAYS) for q in QUERIES[:14]])
    val = write_lines(folder / "val.jsonl", [chat_line(q, ALWAYS) for q in QUERIES[14:]])
    events: list[dict] = []
    result = train_lora(train, val, folder / "out", settings(base), events.append, lambda: False)
    return result, events, folder


def test_training_lowers_the_loss_and_reports_it_in_events(trained):
    result, events, _ = trained
    states = [e["state"] for e in events if e["type"] == "state"]
    assert states == ["preparing", "training", "saving"]
    metrics = result["metrics"]
    assert metrics["steps"] == 6 * 4 and metrics["train_examples"] == 14 and metrics["val_examples"] == 7
    assert metrics["eval_loss"] < metrics["eval_loss_before"] / 2
    assert metrics["eval_token_accuracy"] > metrics["eval_token_accuracy_before"] + 0.3
    train_losses = [e["loss"] for e in events if e["type"] == "metrics" and e["loss"] is not None]
    assert len(train_losses) == metrics["steps"] and train_losses[-1] < train_losses[0] / 2
    evals = [e for e in events if e["type"] == "metrics" and e["eval_loss"] is not None]
    assert evals[0]["step"] == 0 and evals[0]["eval_loss"] == metrics["eval_loss_before"]
    assert evals[-1]["step"] == metrics["steps"] and evals[-1]["eval_loss"] == metrics["eval_loss"]
    assert all(e["max_steps"] == metrics["steps"] for e in events if e["type"] == "metrics")
    assert metrics["tokens"] > 0 and metrics["tokens_per_second"] > 0


def test_the_fine_tune_is_a_small_adapter_that_names_its_base_model(trained):
    result, _, folder = trained
    out = Path(result["model_path"])
    assert out == folder / "out" and result["base_model"] == str(folder / "base")
    assert (out / "adapter_model.safetensors").exists() and not (out / "model.safetensors").exists()
    assert json.loads((out / FINETUNE_INFO).read_text()) == {
        "base_model": str(folder / "base"),
        "system_prompt": SYSTEM_PROMPT,
    }
    assert json.loads((out / "adapter_config.json").read_text())["base_model_name_or_path"] == str(folder / "base")
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no work folder left behind


def test_the_reloaded_fine_tune_routes_as_it_was_trained(trained):
    from ragtune_core.routing.local_llm_selector import LocalLLMSelector

    result, _, folder = trained
    choices = [Choice(tool_id, name, description) for tool_id, name, _, description in TOOLS]
    tuned = LocalLLMSelector(result["model_path"]).select(QUERIES, choices)
    picked = {choices[s.index].name for s in tuned}
    assert picked == {ALWAYS}
    assert all(s.scores[s.index] > 0.5 for s in tuned)
    untuned = LocalLLMSelector(str(folder / "base")).select(QUERIES, choices)
    assert sum(choices[s.index].name == ALWAYS for s in untuned) < len(QUERIES)


def test_a_cancel_stops_training_and_saves_nothing(tmp_path):
    base = tiny_llm(tmp_path / "base")
    train = write_lines(tmp_path / "train.jsonl", [chat_line(q, ALWAYS) for q in QUERIES[:8]])
    steps: list[int] = []
    events: list[dict] = []

    def should_stop() -> bool:
        steps.append(1)
        return len(steps) > 3  # the first call is before training, then one per step

    with pytest.raises(TrainingCancelled, match="cancelled at step 3 of 12"):
        train_lora(train, None, tmp_path / "out", settings(base), events.append, should_stop)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert [e["state"] for e in events if e["type"] == "state"] == ["preparing", "training"]


def test_a_cancel_before_training_starts(tmp_path):
    base = tiny_llm(tmp_path / "base")
    train = write_lines(tmp_path / "train.jsonl", [chat_line(QUERIES[0], ALWAYS)])
    with pytest.raises(TrainingCancelled, match="before training"):
        train_lora(train, None, tmp_path / "out", settings(base), lambda event: None, lambda: True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["base", "train.jsonl"]


def test_bad_lines_and_outputs_are_named_before_any_model_loads(tmp_path):
    good = chat_line(QUERIES[0], ALWAYS)
    no_call = {**good, "messages": good["messages"][:2]}
    bad = write_lines(tmp_path / "bad.jsonl", [good, no_call])
    unloadable = settings(tmp_path / "no-such-model")  # would fail only if a model were loaded
    with pytest.raises(TrainingError, match=r"bad.jsonl, line 2: the last message must be the assistant's tool call"):
        train_lora(bad, None, tmp_path / "out", unloadable, lambda event: None, lambda: False)
    empty = write_lines(tmp_path / "empty.jsonl", [])
    with pytest.raises(TrainingError, match="empty.jsonl has no chat lines"):
        train_lora(empty, None, tmp_path / "out", unloadable, lambda event: None, lambda: False)
    (tmp_path / "taken").mkdir()
    with pytest.raises(TrainingError, match="already exists"):
        train_lora(bad, None, tmp_path / "taken", unloadable, lambda event: None, lambda: False)


def test_settings_are_checked_and_round_trip():
    with pytest.raises(TrainingError, match="lora_r must be a whole number from 1 to 256"):
        LocalLLMSettings(lora_r=0)
    with pytest.raises(TrainingError, match="target_modules"):
        LocalLLMSettings(target_modules=" ")
    with pytest.raises(TrainingError, match="warmup"):
        LocalLLMSettings.from_dict({"warmup": 0.1})
    custom = LocalLLMSettings(target_modules="q_proj, v_proj", epochs=2)
    assert custom.lora_targets() == ["q_proj", "v_proj"] and LocalLLMSettings().lora_targets() == "all-linear"
    from dataclasses import asdict

    assert LocalLLMSettings.from_dict(asdict(custom)) == custom


def test_auto_epochs_aim_at_the_target_steps():
    schedule = plan_schedule(LocalLLMSettings(), 40)  # 5 steps per epoch at batch 8
    assert (schedule.epochs, schedule.steps) == (LocalLLMSettings.MAX_AUTO_EPOCHS, 50)
    schedule = plan_schedule(LocalLLMSettings(), 240)
    assert (schedule.epochs, schedule.steps) == (2, 60) and schedule.reason.startswith("auto: 2 epochs")


def test_validation_is_measured_on_an_even_sample_of_many_lines(tmp_path, monkeypatch):
    from ragtune_core.training.llm import local

    assert local.even_sample(list(range(10)), 4) == [0, 2, 5, 7] and local.even_sample([1, 2], 4) == [1, 2]
    monkeypatch.setattr(local, "VALIDATION_LINES", 3)
    base = tiny_llm(tmp_path / "base")
    train = write_lines(tmp_path / "train.jsonl", [chat_line(q, ALWAYS) for q in QUERIES[:6]])
    val = write_lines(tmp_path / "val.jsonl", [chat_line(q, ALWAYS) for q in QUERIES[6:16]])
    result = train_lora(train, val, tmp_path / "out", settings(base, epochs=1), lambda event: None, lambda: False)
    assert result["metrics"]["val_examples"] == 3
