"""Fine-tuning an embedding model on a dataset's (question, passage) pairs.

Follows sentence-transformers' own recipe: `SentenceTransformerTrainer` with
`MultipleNegativesRankingLoss` (the other passages of a batch are each question's negatives, so
batches hold no duplicate texts) and an `InformationRetrievalEvaluator` on the validation questions
against the whole corpus. The model is written into a hidden folder next to its destination and
renamed into place only when complete, so a failed or cancelled run never leaves half a model.

torch and sentence-transformers are imported inside functions: the Streamlit pages import this
module for the config alone and must stay quick to load.
"""

from __future__ import annotations

import io
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Protocol, TypeVar

from .models import (
    DEFAULT_BASE_MODEL,
    HUB_ID_OF_DEFAULT,
    ModelNotFound,
    bundled_model_path,
    prefer_offline,
    resolve_model,
)
from .qa_dataset import TRAIN, VAL, DatasetError, QADataset
from .workspace import Workspace, check_name

OnEvent = Callable[[str, dict], None]
EVALS_PER_EPOCH = 4
LOSS_POINTS_PER_RUN = 100  # at most about this many train_step events, whatever the run's length
EVAL_BATCH_SIZE = 64
# "eval_val_cosine_ndcg@10" (trainer) or "val_cosine_ndcg@10" (evaluator) -> "ndcg@10"
_METRIC_KEY = re.compile(r"(accuracy|precision|recall|ndcg|mrr|map)@\d+$")
_UNCOMPRESSED_SUFFIXES = {".safetensors", ".bin", ".pt", ".onnx"}  # weights barely compress


class TrainingError(ValueError):
    """Training cannot start with these inputs; the message says which one and why."""


class TrainConfig(Protocol):
    """What the shared training steps use of a config (EmbeddingTrainConfig, CrossEncoderTrainConfig)."""

    base_model: str | None
    epochs: int
    batch_size: int
    learning_rate: float
    warmup_ratio: float
    seed: int

    def validate(self) -> None: ...


Config = TypeVar("Config", bound=TrainConfig)


@dataclass
class EmbeddingTrainConfig:
    base_model: str | None = None  # None: the bundled all-MiniLM-L6-v2
    epochs: int = 2
    batch_size: int = 16
    learning_rate: float = 2e-5
    max_seq_length: int = 256
    warmup_ratio: float = 0.1
    eval_steps: int | None = None  # None: about EVALS_PER_EPOCH evaluations per epoch
    seed: int = 42

    def validate(self) -> None:
        require(self.base_model is None or (isinstance(self.base_model, str) and self.base_model.strip()),
                "base_model must be a Hub id or a folder (or None for the bundled model)")
        require(is_int(self.epochs) and 1 <= self.epochs <= 100, f"epochs must be 1 to 100, not {self.epochs!r}")
        require(is_int(self.batch_size) and 2 <= self.batch_size <= 4096,
                f"batch_size must be 2 to 4096 (in-batch negatives need at least 2), not {self.batch_size!r}")
        require(is_number(self.learning_rate) and 0 < self.learning_rate < 1,
                f"learning_rate must be between 0 and 1, not {self.learning_rate!r}")
        require(is_int(self.max_seq_length) and 8 <= self.max_seq_length <= 8192,
                f"max_seq_length must be 8 to 8192 tokens, not {self.max_seq_length!r}")
        require(is_number(self.warmup_ratio) and 0 <= self.warmup_ratio < 1,
                f"warmup_ratio must be at least 0 and below 1, not {self.warmup_ratio!r}")
        require(self.eval_steps is None or (is_int(self.eval_steps) and self.eval_steps >= 1),
                f"eval_steps must be a positive number of steps (or None), not {self.eval_steps!r}")
        require(is_int(self.seed) and self.seed >= 0, f"seed must be a non-negative integer, not {self.seed!r}")

    @classmethod
    def from_dict(cls, data: dict) -> EmbeddingTrainConfig:
        """The config saved with a run (`asdict(config)`), validated."""
        return config_from_dict(cls, data, "training settings")


def config_from_dict(config_class: type[Config], data: dict, settings: str) -> Config:
    """A config saved with a run (`asdict(config)`), validated; unknown keys are refused by name."""
    unknown = set(data) - {f.name for f in fields(config_class)}
    if unknown:
        raise TrainingError(f"unknown {settings}: {', '.join(sorted(unknown))}")
    config = config_class(**data)
    config.validate()
    return config


def require(condition: bool, message: str) -> None:
    """Refuse a setting: TrainingError(message) unless `condition` holds."""
    if not condition:
        raise TrainingError(message)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class TrainResult:
    output_dir: Path
    metrics_before: dict[str, float]  # validation metrics of the base model
    metrics_after: dict[str, float]  # ... and of the fine-tuned one
    train_pairs: int
    seconds: float  # trainer.train() wall time, its periodic evaluations included
    steps: int


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


# --- training ----------------------------------------------------------------------------------
def train_embedding(config: EmbeddingTrainConfig, dataset: QADataset, output_dir: Path,
                    on_event: OnEvent | None = None, model_card_name: str | None = None) -> TrainResult:
    """Fine-tune `config.base_model` on the dataset's train questions and save it to `output_dir`.

    `on_event(name, data)` receives "progress" {step, max_steps, epoch, loss} after every step,
    "train_step" {step, max_steps, epoch, loss, learning_rate} at logging steps and "eval"
    {step, epoch, metrics} for the base model (step 0), at eval steps and for the final model.
    `output_dir` must not exist: it appears, complete, only when everything went well.
    """
    config.validate()
    output_dir = Path(output_dir)
    check_free(output_dir)
    train_part, val_part = _parts(dataset)
    model = _load_base_model(config, model_card_name)
    fit = fit_and_publish(config, model, _make_evaluator(val_part), _recipe(config, model, train_part), output_dir,
                          on_event)
    return TrainResult(output_dir, fit.metrics_before, fit.metrics_after, len(train_part), fit.seconds, fit.steps)


def _parts(dataset: QADataset) -> tuple[list[tuple[str, str]], QADataset]:
    """The training pairs and the validation questions; both must be there."""
    if not dataset.split:
        raise TrainingError("this dataset has no train/validation split yet: split it before training")
    train_pairs = dataset.subset(TRAIN).pairs()
    val_part = dataset.subset(VAL)
    if len(train_pairs) < 2:
        raise TrainingError(f"the dataset's train part has {len(train_pairs)} (question, passage) pairs; "
                            "training needs at least 2")
    if not val_part.queries:
        raise TrainingError("the dataset's validation part has no questions: split it with a validation share above 0")
    return train_pairs, val_part


def _load_base_model(config: EmbeddingTrainConfig, model_card_name: str | None):
    """A fresh copy of the base model (never the cached one other code encodes with: training changes it)."""
    from sentence_transformers import SentenceTransformer

    path = resolve_model(config.base_model)
    local = Path(path).is_dir()  # a folder: neither loading nor the model card may call the Hub
    try:
        model = SentenceTransformer(path, local_files_only=local)
    except OSError as exc:
        raise ModelNotFound(f"could not load the base model {config.base_model or DEFAULT_BASE_MODEL!r}: {exc}") from exc
    if path == str(bundled_model_path()):
        model.model_card_data.base_model = HUB_ID_OF_DEFAULT  # so the card says what it was fine-tuned from
    limit = _position_limit(model)
    if limit is not None and config.max_seq_length > limit:
        raise TrainingError(f"max_seq_length {config.max_seq_length} is more than the base model's {limit} positions")
    model.max_seq_length = config.max_seq_length
    if model_card_name:
        model.model_card_data.model_name = model_card_name
    return model


def _position_limit(model) -> int | None:
    transformer_config = getattr(getattr(model[0], "auto_model", None), "config", None)
    return getattr(transformer_config, "max_position_embeddings", None)


def _make_evaluator(val_part: QADataset):
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    relevant = {qid: set(pids) for qid, pids in val_part.relevant_docs.items()}
    return InformationRetrievalEvaluator(val_part.queries, val_part.corpus, relevant, name=VAL,
                                         batch_size=EVAL_BATCH_SIZE, write_csv=False)


def _recipe(config: EmbeddingTrainConfig, model, train_pairs: list[tuple[str, str]]) -> TrainerRecipe:
    from datasets import Dataset
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    train_dataset = Dataset.from_dict({"anchor": [q for q, _ in train_pairs], "positive": [p for _, p in train_pairs]})
    return TrainerRecipe(SentenceTransformerTrainer, SentenceTransformerTrainingArguments, train_dataset,
                         MultipleNegativesRankingLoss(model), eval_steps=config.eval_steps,
                         arguments={"batch_sampler": BatchSamplers.NO_DUPLICATES})


# --- the steps every kind of model trains through ------------------------------------------------
@dataclass
class TrainerRecipe:
    """What one kind of model trains with; fit_and_publish adds the arguments every kind shares."""

    trainer_class: type  # SentenceTransformerTrainer, CrossEncoderTrainer
    arguments_class: type  # ... and its TrainingArguments class
    train_dataset: object  # a datasets.Dataset with the loss's columns
    loss: object
    eval_steps: int | None = None  # None: about EVALS_PER_EPOCH evaluations per epoch
    arguments: dict = field(default_factory=dict)  # training arguments of this kind only


@dataclass
class FitResult:
    metrics_before: dict[str, float]  # the evaluator's metrics of the base model
    metrics_after: dict[str, float]  # ... and of the trained one
    seconds: float  # trainer.train() wall time, its periodic evaluations included
    steps: int


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
        eval_steps=recipe.eval_steps or math.ceil(steps_per_epoch / EVALS_PER_EPOCH),
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


def zip_model(model_dir: Path) -> bytes:
    """The model folder as a zip archive (entries under the folder's name), for a download button."""
    model_dir = Path(model_dir)
    if not (model_dir / "modules.json").is_file():
        raise TrainingError(f"{str(model_dir)!r} is not a saved sentence-transformers model (no modules.json)")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
            stored = path.suffix in _UNCOMPRESSED_SUFFIXES
            archive.write(path, Path(model_dir.name, path.relative_to(model_dir)),
                          compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


# --- in the workspace ---------------------------------------------------------------------------
def check_model_name(ws: Workspace, model_name: str, what: str = "model") -> str:
    """The new model's name, stripped; refused (before any training) when empty, too long or taken."""
    if not (model_name or "").strip():
        raise TrainingError(f"a name for the fine-tuned {what} is required")
    model_name = check_name(model_name)
    if ws.model_name_taken(model_name):
        raise TrainingError(f"a model named {model_name!r} (or its folder) already exists; pick another name")
    return model_name


def training_inputs(ws: Workspace, dataset_id: str, model_name: str, config: TrainConfig,
                    what: str = "model") -> tuple[str, QADataset]:
    """The checked model name and the dataset to train on, or TrainingError before anything loads."""
    model_name = check_model_name(ws, model_name, what)
    config.validate()
    try:
        return model_name, ws.load_dataset(dataset_id)
    except DatasetError as exc:
        raise TrainingError(f"dataset {dataset_id!r} cannot be used: {exc}") from exc


def train_and_register(ws: Workspace, dataset_id: str, model_name: str, config: EmbeddingTrainConfig,
                       on_event: OnEvent | None = None, run_id: str | None = None) -> dict:
    """Train on a workspace dataset and register the result as the embedding model `model_name`."""
    model_name, dataset = training_inputs(ws, dataset_id, model_name, config)
    result = train_embedding(config, dataset, ws.model_dir(model_name), on_event, model_card_name=model_name)
    record = ws.register_model(model_name, "embedding", result.output_dir, config.base_model or DEFAULT_BASE_MODEL,
                               run_id=run_id, metrics=result.metrics_after)
    return {"model_id": record.id, "model_name": record.name, "model_path": str(result.output_dir),
            "metrics_before": result.metrics_before, "metrics_after": result.metrics_after,
            "train_pairs": result.train_pairs, "seconds": result.seconds, "steps": result.steps}


def run_training_job(ctx, params: dict) -> dict:
    """Worker task "train_embedding": params {dataset_id, model_name, config: asdict(EmbeddingTrainConfig)}."""
    result = train_in_worker(ctx, params, EmbeddingTrainConfig, train_and_register)
    before, after = result["metrics_before"].get("ndcg@10"), result["metrics_after"].get("ndcg@10")
    ctx.progress(result["steps"], result["steps"], f"validation ndcg@10 {before:.3f} → {after:.3f}", force=True)
    return result


def train_in_worker(ctx, params: dict, config_class: type, train: Callable[..., dict]) -> dict:
    """The body of a training worker task: params {dataset_id, model_name, config: asdict(config)}.

    `train(ws, dataset_id, model_name, config, on_event=..., run_id=...)` trains and registers
    (train_and_register or its cross-encoder twin); "prepare" and "progress" events become the
    run's progress, the others its events.
    """
    exit_on_sigterm()
    prefer_offline()
    config = config_class.from_dict(params.get("config") or {})

    def forward(event: str, data: dict) -> None:
        if event == "prepare":
            ctx.progress(data["done"], data["total"], data["message"])
        elif event == "progress":
            ctx.progress(data["step"], data["max_steps"], progress_message(data, config.epochs))
        else:
            ctx.emit(event, **data)

    return train(ctx.workspace, params["dataset_id"], params["model_name"], config, on_event=forward,
                 run_id=ctx.run_id)


def exit_on_sigterm() -> None:
    """Cancel sends SIGTERM: exiting through Python runs the `finally` that removes the partial folder."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_once)


def _exit_once(signum, frame) -> None:
    # Cancel signals the whole process group and then each process: a second SIGTERM must not
    # interrupt the clean-up that the first one started.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(128 + signum)
