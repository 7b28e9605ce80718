"""The steps every kind of model trains through: evaluate the base, train with live events,
evaluate again, and publish the model atomically (a hidden folder renamed into place when
complete), so a failed or cancelled run never leaves half a model."""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..questions.qa_dataset import TRAIN, VAL, QADataset
from .config import TrainConfig, TrainingError

OnEvent = Callable[[str, dict], None]
EVALS_PER_EPOCH = 4
LOSS_POINTS_PER_RUN = 100  # at most about this many train_step events, whatever the run's length
EVAL_BATCH_SIZE = 64
# "eval_val_cosine_ndcg@10" (trainer) or "val_cosine_ndcg@10" (evaluator) -> "ndcg@10"
_METRIC_KEY = re.compile(r"(accuracy|precision|recall|ndcg|mrr|map)@\d+$")


def short_metric_names(metrics: dict) -> dict[str, float]:
    """Evaluator or trainer metrics under the names the rest of RAGTune uses ("ndcg@10", ...)."""
    short = {}
    for key, value in metrics.items():
        match = _METRIC_KEY.search(key)
        if match:
            short[match.group(0)] = float(value)
    return short


def progress_message(data: dict, epochs: int) -> str:
    """A "progress" event as one line, e.g. "epoch 1/2 · loss 0.4321"."""
    epoch = min(epochs, max(1, math.ceil(data.get("epoch") or 0)))
    loss = data.get("loss")
    return f"epoch {epoch}/{epochs} · loss {loss:.4f}" if loss is not None else f"epoch {epoch}/{epochs}"


# --- the steps every kind of model trains through ------------------------------------------------
@dataclass
class TrainerRecipe:
    """What one kind of model trains with; fit_and_publish adds the arguments every kind shares."""

    trainer_class: type  # SentenceTransformerTrainer, CrossEncoderTrainer
    arguments_class: type  # ... and its TrainingArguments class
    train_dataset: object  # a datasets.Dataset with the loss's columns
    loss: object
    arguments: dict = field(default_factory=dict)  # training arguments of this kind only


@dataclass
class FitResult:
    metrics_before: dict[str, float]  # the evaluator's metrics of the base model
    metrics_after: dict[str, float]  # ... and of the trained one
    seconds: float  # trainer.train() wall time, its periodic evaluations included
    steps: int


def check_parts(dataset: QADataset) -> None:
    """Refuse a dataset that cannot be trained on: no split, fewer than 2 train pairs, no validation
    question, or a corpus without wrong passages to learn from."""
    if not dataset.split:
        raise TrainingError("this dataset has no train/validation split yet: split it before training")
    train_pairs = len(dataset.subset(TRAIN).pairs())
    if train_pairs < 2:
        raise TrainingError(f"the dataset's train part has {train_pairs} (question, passage) pairs; "
                            "training needs at least 2")
    if not dataset.subset(VAL).queries:
        raise TrainingError("the dataset's validation part has no questions: split it with a validation share above 0")
    if len(dataset.corpus) < 2:
        raise TrainingError(f"the corpus has {len(dataset.corpus)} passage(s): training needs wrong ones to learn from")


def fit_and_publish(config: TrainConfig, model, evaluator, recipe: TrainerRecipe, output_dir: Path,
                    on_event: OnEvent | None = None) -> FitResult:
    """Evaluate the base model, train it, evaluate it again and save it as `output_dir`.

    Everything is written into a hidden folder next to `output_dir`, renamed into place only when
    complete and removed whatever happens, so a failed or cancelled run leaves nothing behind.
    """
    emit = on_event or (lambda event, data: None)
    metrics_before = short_metric_names(evaluator(model))
    emit("eval", {"step": 0, "epoch": 0.0, "metrics": metrics_before})

    output_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", suffix=".partial", dir=output_dir.parent))
    try:
        trainer, events = _make_trainer(config, model, evaluator, recipe, work / "trainer", emit)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        steps = trainer.state.global_step
        metrics_after = events.eval_at(steps)
        if metrics_after is None:  # the last step was not an eval step
            metrics_after = short_metric_names(evaluator(model))
            emit("eval", {"step": steps, "epoch": trainer.state.epoch, "metrics": metrics_after})
        model.save(str(work / "model"))
        _publish(work / "model", output_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return FitResult(metrics_before, metrics_after, seconds, steps)


def _make_trainer(config: TrainConfig, model, evaluator, recipe: TrainerRecipe, trainer_dir: Path, emit: OnEvent):
    import torch
    from transformers.trainer_callback import PrinterCallback

    steps_per_epoch = math.ceil(len(recipe.train_dataset) / config.batch_size)
    args = recipe.arguments_class(
        output_dir=str(trainer_dir),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # below 1: a share of all steps (transformers 5 has no warmup_ratio)
        fp16=torch.cuda.is_available(),
        eval_strategy="steps",
        eval_steps=config.eval_steps or math.ceil(steps_per_epoch / EVALS_PER_EPOCH),
        logging_steps=max(1, steps_per_epoch * config.epochs // LOSS_POINTS_PER_RUN),
        save_strategy="no",
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        dataloader_num_workers=0,
        dataloader_pin_memory=torch.cuda.is_available(),
        disable_tqdm=True,
        **recipe.arguments,
    )
    events = _event_callback(emit)
    trainer = recipe.trainer_class(model=model, args=args, train_dataset=recipe.train_dataset, loss=recipe.loss,
                                   evaluator=evaluator, callbacks=[events])
    # With tqdm off the trainer prints every log dict to stdout, which the CLI keeps for its JSON summary.
    trainer.remove_callback(PrinterCallback)
    return trainer, events


def _event_callback(emit: OnEvent):
    """A TrainerCallback turning the trainer's step, log and evaluate hooks into RAGTune events."""
    from transformers import TrainerCallback

    class EventCallback(TrainerCallback):
        def __init__(self):
            self.loss: float | None = None
            self.evals: dict[int, dict[str, float]] = {}

        def eval_at(self, step: int) -> dict[str, float] | None:
            return self.evals.get(step)

        def on_step_end(self, args, state, control, **kwargs):
            emit("progress", {"step": state.global_step, "max_steps": state.max_steps, "epoch": state.epoch,
                              "loss": self.loss})

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:  # not the eval logs nor the end-of-training summary
                self.loss = float(logs["loss"])
                emit("train_step", {"step": state.global_step, "max_steps": state.max_steps, "epoch": state.epoch,
                                    "loss": self.loss, "learning_rate": float(logs.get("learning_rate", 0.0))})

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            short = short_metric_names(metrics or {})
            self.evals[state.global_step] = short
            emit("eval", {"step": state.global_step, "epoch": state.epoch, "metrics": short})

    return EventCallback()


def check_free(output_dir: Path) -> None:
    """Refuse an output folder that exists already: a model is never written over another."""
    if output_dir.exists():
        raise TrainingError(f"the output folder {str(output_dir)!r} already exists; pick another model name")


def _publish(finished: Path, output_dir: Path) -> None:
    """Move a complete model folder into place; never over an existing one."""
    check_free(output_dir)
    os.rename(finished, output_dir)
