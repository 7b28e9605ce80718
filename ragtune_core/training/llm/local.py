"""Local LLM fine-tuning: TRL's SFTTrainer with a PEFT LoRA adapter on chat tool-call lines, on the CPU.

The lines are the chat JSONL of `data.py` (`messages` + `tools`); the loss covers the assistant's tool
call only (`assistant_only_loss`, through the generation markers of the chat template that
`store/llm_models.py` gives the tokenizer). The result is a small folder: the LoRA adapter, the tokenizer
with that template, and FINETUNE_INFO naming the base model by the name the user gave, so the
fine-tune reloads offline on any machine that has the base model (`store.llm_models.load_causal_lm`).
The folder is written aside and renamed into place when complete: a failed or cancelled training
leaves nothing.

Example:
    settings = LocalLLMSettings(epochs=2)
    result = train_lora(Path("train.jsonl"), Path("val.jsonl"), Path("out/router-smollm2"), settings,
                        on_event=print, should_stop=lambda: False)
    LocalLLMSelector(result["model_path"]).select(["Who founded Berlin?"], choices)
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, ClassVar

from ...store.files import read_jsonl, write_json
from ...store.llm_models import DEFAULT_LLM, FINETUNE_INFO, is_default, load_causal_lm
from ...store.shapes import Text, limit, settings
from ...store.staging import staged
from ..config import ModelName, TrainingError
from ..fit import check_free, plan_schedule, publish_model
from .data import check_example

OnEvent = Callable[[dict], None]
# Lines each validation loss is measured on (evenly spread over the validation lines): a pass over more costs
# a large share of the training, and a curve needs no more (docs/decisions.md, "local LLM validation lines").
VALIDATION_LINES = 40
LOSS_POINTS = 100  # at most about this many train metrics events, whatever the training's length
# Lines per forward pass: activations grow with the lines in a pass, while a CPU is no faster on more
# (docs/decisions.md, "local LLM lines per pass"); an optimizer step accumulates the gradients of batch_size lines.
LINES_PER_PASS = 2


class TrainingCancelled(Exception):
    """should_stop() asked for a stop: training ended early and nothing was saved."""


@settings(TrainingError)
class LocalLLMSettings:
    """How a local LoRA fine-tune trains; limits and help in each field's schema (see training/config.py)."""

    SETTINGS_NAME: ClassVar[str] = "local LLM training settings"
    # Steps of 8 lines: about ten minutes on 2 CPU cores (docs/decisions.md, "local LLM training length").
    TARGET_STEPS: ClassVar[int] = 60
    MAX_AUTO_EPOCHS: ClassVar[int] = 10
    EVALS_PER_RUN: ClassVar[int] = 4  # validation losses beside the one before training: each costs a pass over val

    base_model: Annotated[
        ModelName, limit("the causal LM to fine-tune: a Hub id or a folder", none_means=DEFAULT_LLM)
    ] = None
    epochs: Annotated[
        int | None,
        limit("passes over the training lines", 1, 100, none_means="auto, from the number of training lines"),
    ] = None
    batch_size: Annotated[int, limit("lines per optimizer step", 1, 256)] = 8
    # High for LoRA on a small model: a few steps bring the validation loss down (docs/decisions.md,
    # "local LLM learning rate").
    learning_rate: Annotated[float, limit("peak learning rate of the LoRA weights", 1e-8, 0.5)] = 1e-3
    warmup_ratio: Annotated[float, limit("share of the steps spent warming the learning rate up", 0.0, 0.9)] = 0.1
    eval_steps: Annotated[
        int | None,
        limit(
            "optimizer steps between validation losses",
            1,
            1_000_000,
            none_means=f"{EVALS_PER_RUN} validation losses per training",
        ),
    ] = None
    lora_r: Annotated[int, limit("rank of the LoRA matrices", 1, 256)] = 16
    lora_alpha: Annotated[int, limit("LoRA scaling numerator (the update is scaled by alpha / r)", 1, 4096)] = 32
    lora_dropout: Annotated[float, limit("dropout on the LoRA input", 0.0, 0.9)] = 0.05
    target_modules: Annotated[
        Text, limit("layers that get an adapter: all-linear, or module names separated by commas (q_proj,v_proj)")
    ] = "all-linear"
    max_length: Annotated[int, limit("tokens of a line (system, tools, query and call) trained on", 32, 32768)] = 1024
    seed: Annotated[int, limit("random seed of shuffling and initialisation", 0, 2**31 - 1)] = 42

    @classmethod
    def from_dict(cls, data: dict) -> LocalLLMSettings:
        """The settings saved with a run (`asdict(settings)`); unknown keys are refused by name."""
        return cls(**data)

    def lora_targets(self) -> str | list[str]:
        names = [name.strip() for name in self.target_modules.split(",") if name.strip()]
        return "all-linear" if names == ["all-linear"] else names


def train_lora(
    train_path: Path,
    val_path: Path | None,
    output_dir: Path,
    settings: LocalLLMSettings,
    on_event: OnEvent,
    should_stop: Callable[[], bool],
) -> dict:
    """Fine-tune `settings.base_model` with LoRA on the chat lines of `train_path`, save the adapter
    as `output_dir` and return {"model_path", "base_model", "metrics"}.

    Validation losses are measured on at most VALIDATION_LINES of the validation lines, evenly spread.
    Events: {"type": "state", "state": "preparing" | "training" | "saving"} and {"type": "metrics",
    "step", "max_steps", "epoch", "loss", "token_accuracy", "eval_loss", "eval_token_accuracy"} (None
    where a step has no such value; step 0 is the base model's validation loss). TrainingCancelled
    once should_stop() turns true; TrainingError for unusable lines or settings."""
    on_event({"type": "state", "state": "preparing"})
    output_dir = Path(output_dir)
    check_free(output_dir)
    train_lines = read_lines(train_path)
    val_lines = even_sample(read_lines(val_path), VALIDATION_LINES) if val_path else []
    model, tokenizer = load_causal_lm(settings.base_model, for_training=True)
    positions = getattr(model.config, "max_position_embeddings", None)
    if positions is not None and settings.max_length > positions:
        raise TrainingError(
            f"a max length of {settings.max_length} tokens is more than the base model's {positions} positions"
        )
    if should_stop():
        raise TrainingCancelled("cancelled before training started")
    with staged(output_dir) as work:
        trainer, schedule, callback = _make_trainer(
            model, tokenizer, train_lines, val_lines, settings, work / "trainer", on_event, should_stop
        )
        metrics = _train(trainer, schedule, callback, on_event, bool(val_lines))
        metrics.update(train_examples=len(trainer.train_dataset), val_examples=len(val_lines))
        on_event({"type": "state", "state": "saving"})
        _save(trainer, tokenizer, settings, _system_prompt(train_lines), work / "model")
        publish_model(work / "model", output_dir)
    return {"model_path": str(output_dir), "base_model": base_model_name(settings), "metrics": metrics}


def base_model_name(settings: LocalLLMSettings) -> str:
    return DEFAULT_LLM if is_default(settings.base_model) else settings.base_model


def read_lines(path: Path) -> list[dict]:
    """The chat lines of a JSONL file, as SFTTrainer reads them: `messages`, and `tools` as JSON text
    (Arrow cannot store the tools' free-form parameter schemas as columns). The first bad line is
    named in a TrainingError."""
    lines = []
    for number, line in enumerate(read_jsonl(path), start=1):
        problems = check_example(line)
        if problems:
            raise TrainingError(f"{Path(path).name}, line {number}: {problems[0][1]}")
        lines.append({"messages": line["messages"], "tools": json.dumps(line["tools"])})
    if not lines:
        raise TrainingError(f"{Path(path).name} has no chat lines to train on")
    return lines


def even_sample(lines: list, limit: int) -> list:
    """At most `limit` of `lines`, evenly spread, in their order."""
    if len(lines) <= limit:
        return lines
    return [lines[i * len(lines) // limit] for i in range(limit)]


def _make_trainer(
    model,
    tokenizer,
    train_lines: list[dict],
    val_lines: list[dict],
    settings: LocalLLMSettings,
    trainer_dir: Path,
    on_event: OnEvent,
    should_stop: Callable[[], bool],
):
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    schedule = plan_schedule(settings, len(train_lines))
    lines_per_pass = math.gcd(settings.batch_size, LINES_PER_PASS)
    args = SFTConfig(
        output_dir=str(trainer_dir),
        num_train_epochs=schedule.epochs,
        max_steps=schedule.steps,  # part of an epoch when one epoch is longer than TARGET_STEPS
        per_device_train_batch_size=lines_per_pass,
        gradient_accumulation_steps=settings.batch_size // lines_per_pass,
        per_device_eval_batch_size=LINES_PER_PASS,
        learning_rate=settings.learning_rate,
        warmup_steps=settings.warmup_ratio,  # below 1: a share of all steps (transformers 5 has no warmup_ratio)
        max_length=settings.max_length,
        assistant_only_loss=True,
        eval_strategy="steps" if val_lines else "no",
        eval_steps=schedule.eval_steps,
        logging_steps=max(1, schedule.steps // LOSS_POINTS),
        save_strategy="no",
        report_to="none",
        seed=settings.seed,
        data_seed=settings.seed,
        bf16=False,  # float32: bf16 autocast is slower than float32 on most CPUs
        activation_checkpointing=False,  # a 135M model's activations fit; recomputing them costs a third more time
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=True,
    )
    lora = LoraConfig(
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules=settings.lora_targets(),
        task_type="CAUSAL_LM",
    )
    callback = _EventCallback(on_event, should_stop, schedule.steps)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_lines),
        eval_dataset=Dataset.from_list(val_lines) if val_lines else None,
        processing_class=tokenizer,
        peft_config=lora,
        callbacks=[callback.hooks()],
    )
    # With tqdm off the trainer prints every log dict to stdout, which the CLI keeps for its JSON summary.
    trainer.remove_callback(PrinterCallback)
    if len(trainer.train_dataset) == 0:
        raise TrainingError(
            f"no training line keeps its tool call within max_length={settings.max_length} tokens: "
            "raise max_length or shorten the system prompt and tool descriptions"
        )
    return trainer, schedule, callback


def _train(trainer, schedule, callback: _EventCallback, on_event: OnEvent, validate: bool) -> dict:
    """Run the training (with the base model's validation loss first); its metrics as a flat dict."""
    before = trainer.evaluate() if validate else {}  # logged as step 0's metrics
    on_event({"type": "state", "state": "training"})
    eval_seconds_before = callback.eval_seconds
    started = time.perf_counter()
    output = trainer.train()
    seconds = time.perf_counter() - started
    if callback.stopped:
        raise TrainingCancelled(f"cancelled at step {trainer.state.global_step} of {trainer.state.max_steps}")
    train_seconds = max(seconds - (callback.eval_seconds - eval_seconds_before), 1e-9)
    if validate and callback.last_eval_step != trainer.state.global_step:
        trainer.evaluate()  # the last step was not an evaluation step
    final = callback.last_eval
    return {
        "schedule": schedule.reason,
        "steps": trainer.state.global_step,
        "epochs": trainer.state.epoch,
        "train_loss": output.training_loss,
        "last_loss": callback.last_loss,
        "token_accuracy": callback.last_accuracy,
        "eval_loss_before": before.get("eval_loss"),
        "eval_token_accuracy_before": before.get("eval_mean_token_accuracy"),
        "eval_loss": final.get("eval_loss"),
        "eval_token_accuracy": final.get("eval_mean_token_accuracy"),
        "seconds": seconds,
        "tokens": callback.tokens,
        "tokens_per_second": callback.tokens / train_seconds,
    }


def _metrics_event(step: int, epoch: float, max_steps: int, logs: dict) -> dict:
    def value(key):
        return float(logs[key]) if key in logs else None

    return {
        "type": "metrics",
        "step": step,
        "max_steps": max_steps,
        "epoch": float(epoch or 0.0),
        "loss": value("loss"),
        "token_accuracy": value("mean_token_accuracy"),
        "eval_loss": value("eval_loss"),
        "eval_token_accuracy": value("eval_mean_token_accuracy"),
    }


class _EventCallback:
    """The trainer's logs as metrics events, and should_stop() as a clean stop after the current step."""

    def __init__(self, on_event: OnEvent, should_stop: Callable[[], bool], planned_steps: int):
        self.on_event, self.should_stop, self.planned_steps = on_event, should_stop, planned_steps
        self.stopped = False
        self.last_loss = self.last_accuracy = None
        self.last_eval: dict = {}
        self.last_eval_step = -1
        self.eval_seconds = 0.0
        self.tokens = 0

    def hooks(self):
        from transformers import TrainerCallback

        owner = self

        class Hooks(TrainerCallback):
            def on_step_end(self, args, state, control, **kwargs):
                if owner.should_stop():
                    owner.stopped = control.should_training_stop = True

            def on_log(self, args, state, control, logs=None, **kwargs):
                owner.log(state, logs or {})

        return Hooks()

    def log(self, state, logs: dict) -> None:
        if "loss" in logs:
            self.last_loss, self.last_accuracy = float(logs["loss"]), logs.get("mean_token_accuracy")
            self.tokens = int(logs.get("num_tokens", self.tokens))
        elif "eval_loss" in logs:
            self.last_eval, self.last_eval_step = logs, state.global_step
            self.eval_seconds += float(logs.get("eval_runtime", 0.0))
        else:
            return  # the end-of-training summary
        self.on_event(_metrics_event(state.global_step, state.epoch, state.max_steps or self.planned_steps, logs))


def _system_prompt(lines: list[dict]) -> str | None:
    """The first line's system prompt: what a selector puts before a query, as training did."""
    first = lines[0]["messages"][0]
    return first.get("content") if first.get("role") == "system" else None


def _save(trainer, tokenizer, settings: LocalLLMSettings, system_prompt: str | None, folder: Path) -> None:
    """The adapter, the tokenizer with its chat template, the system prompt trained with and the base
    model's name (not the cache path it loaded from, which is this machine's)."""
    model = trainer.model
    for config in model.peft_config.values():
        config.base_model_name_or_path = base_model_name(settings)
    model.save_pretrained(folder, save_embedding_layers=False)  # LoRA leaves the embeddings as they were
    tokenizer.save_pretrained(folder)
    write_json(
        folder / FINETUNE_INFO, {"base_model": base_model_name(settings), "system_prompt": system_prompt}, indent=2
    )
