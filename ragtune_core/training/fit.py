"""The steps every kind of model trains through: evaluate the base, train with live events,
evaluate again, and publish the model atomically (a hidden folder renamed into place when
complete), so a failed or cancelled run never leaves half a model."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..evaluation.blend import Blend
from ..questions.qa_dataset import TEST, TRAIN, VAL, QADataset
from ..runs import EventKind
from ..store.models import freeze_word_embeddings, load_model
from ..store.staging import publish_folder, staged
from . import devices
from .config import TrainConfig, TrainingError
from .stopping import stop_requested

OnEvent = Callable[[str, dict], None]
LOSS_POINTS_PER_RUN = 100  # at most about this many train_step events, whatever the run's length
EVAL_BATCH_SIZE = 64
# A validation run every few steps must stay cheap beside training: an even sample of a large part.
MAX_VALIDATION_QUESTIONS = 1000
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


def progress_message(data: dict) -> str:
    """A "progress" event as one line, e.g. "epoch 1/2 · loss 0.4321" ("trial 3 · epoch 1/2 · ..." in a search)."""
    epochs = data["epochs"]
    epoch = min(epochs, max(1, math.ceil(data.get("epoch") or 0)))
    loss = data.get("loss")
    trial = f"trial {data['trial']} · " if "trial" in data else ""
    return f"{trial}epoch {epoch}/{epochs}" + (f" · loss {loss:.4f}" if loss is not None else "")


# --- the steps every kind of model trains through ------------------------------------------------
@dataclass
class TrainerRecipe:
    """What one kind of model trains with; fit_and_publish adds the arguments every kind shares."""

    trainer_class: type  # SentenceTransformerTrainer, CrossEncoderTrainer
    arguments_class: type  # ... and its TrainingArguments class
    train_dataset: object  # a datasets.Dataset with the loss's columns
    loss: object
    arguments: dict = field(default_factory=dict)  # training arguments of this kind only
    # Pairs in one row of train_dataset: a listwise row holds a question's candidates, and the batch
    # size and schedule still count pairs, so a step costs what it costs pairwise.
    pairs_per_row: int = 1
    # Called with the model kept and its step before it is saved: records what its weights alone do not.
    on_kept: Callable[[object, int], None] | None = None
    target_steps: int | None = None  # what an auto schedule aims at, when not the config's TARGET_STEPS

    @property
    def pairs(self) -> int:
        return len(self.train_dataset) * self.pairs_per_row


@dataclass
class TrainResult:
    output_dir: Path
    primary_metric: str  # what chose the kept model: "accuracy@1" (a router's match rate) or "ndcg@10"
    metrics_before: dict[str, float]  # validation metrics of the base model
    metrics_after: dict[str, float]  # ... and of the model kept: the best evaluation's, not the last one's
    best_step: int  # the step of the model kept; 0 when no step beat the base model
    steps: int  # optimizer steps run: fewer than planned when training stopped early
    schedule: str  # how long training was planned and why, e.g. "auto: 12 epochs = 240 steps for 300 pairs"
    train_pairs: int  # labelled examples trained on
    train_seconds: float  # trainer.train() wall time, its periodic evaluations included
    metrics_embedder: dict[str, float] = field(default_factory=dict)  # a cross-encoder's first stage alone
    blend: Blend | None = None  # a cross-encoder's blend with its first stage and word match, as kept
    trials: list[dict] = field(default_factory=list)  # a hyperparameter search's trainings (training.search)
    processes: int = 1  # processes that trained it together, one per device (training.devices)
    planned_steps: int = 0  # optimizer steps the schedule planned
    stopped_by_user: bool = False  # the user asked it to stop (training.stopping): the best model so far was kept
    # The test part's metrics of the base model and of the model kept (the kept reranker's blend applied):
    # questions that chose nothing, so the figures to report. Empty for a dataset without a test part.
    test_metrics_before: dict[str, float] = field(default_factory=dict)
    test_metrics_after: dict[str, float] = field(default_factory=dict)

    def figures(self, metric: str) -> str:
        """`metric` before → after, on validation (what chose the model kept) and on test (what to report),
        or why there is no test figure."""
        line = f"validation {metric} {self.metrics_before[metric]:.3f} → {self.metrics_after[metric]:.3f}"
        if not self.test_metrics_after:
            return line + " (no test part: the figure the model was selected on)"
        return f"{line}; test {metric} {self.test_metrics_before[metric]:.3f} → {self.test_metrics_after[metric]:.3f}"


@dataclass
class Schedule:
    epochs: int  # passes begun: the last one may stop part-way (steps)
    steps_per_epoch: int
    eval_steps: int
    reason: str
    steps: int  # optimizer steps planned

    @property
    def evaluations(self) -> int:
        """Validation runs planned, the base model's and the last step's included."""
        return 1 + math.ceil(self.steps / self.eval_steps)


def plan_schedule(config: TrainConfig, n_examples: int, target_steps: int | None = None) -> Schedule:
    """Epochs and evaluation interval for `n_examples`: the config's epochs, or (None) about
    `target_steps` optimizer steps (default config.TARGET_STEPS), in whole epochs when an epoch is
    shorter and in part of one when it is longer, so a small dataset is not trained for a few steps
    only, and a large one takes as long as a small one rather than hours."""
    target = target_steps or config.TARGET_STEPS
    steps_per_epoch = max(1, math.ceil(n_examples / config.batch_size))
    if config.epochs is None and steps_per_epoch > target:
        epochs, steps = 1, target
        reason = (
            f"auto: {steps} steps, {steps * config.batch_size} of {n_examples} pairs at batch "
            f"{config.batch_size} (an epoch is {steps_per_epoch} steps)"
        )
    elif config.epochs is None:
        epochs = min(config.MAX_AUTO_EPOCHS, max(1, round(target / steps_per_epoch)))
        steps = epochs * steps_per_epoch
        reason = f"auto: {_length(epochs, steps_per_epoch, n_examples, config)} (aiming at {target} steps)"
    else:
        epochs, steps = config.epochs, config.epochs * steps_per_epoch
        reason = _length(epochs, steps_per_epoch, n_examples, config)
    eval_steps = config.eval_steps or max(1, math.ceil(steps / config.EVALS_PER_RUN))
    return Schedule(epochs, steps_per_epoch, eval_steps, reason, steps)


def load_base_model(kind: str, name: str | None, max_length: int, model_card_name: str | None, seed: int):
    """A fresh copy of the base model (never the cached one other code encodes with: training changes
    it), reading `max_length` tokens, which its position embeddings must cover. Seeded: a new head
    (a cross-encoder's score) starts from the same weights for the same seed, so two runs of the same
    settings agree (docs/decisions.md, "seeded base model")."""
    from transformers import set_seed

    set_seed(seed)
    model = load_model(kind, name, device=devices.model_device())
    transformer_config = getattr(getattr(model[0], "auto_model", None), "config", None)
    limit = getattr(transformer_config, "max_position_embeddings", None)
    if limit is not None and max_length > limit:
        raise TrainingError(f"a max length of {max_length} tokens is more than the base model's {limit} positions")
    model.max_seq_length = max_length
    if model_card_name:
        model.model_card_data.model_name = model_card_name
    return model


def primary_metric(dataset: QADataset) -> str:
    """What picks the model kept: a router's match rate (accuracy@1 over all tools), else ndcg@10."""
    return "accuracy@1" if dataset.kind == "router" else "ndcg@10"


def validation_sample(dataset: QADataset, limit: int = MAX_VALIDATION_QUESTIONS) -> QADataset:
    """The dataset with at most `limit` validation questions, spread evenly over the validation part."""
    return dataset.sampled(VAL, limit)


def test_sample(dataset: QADataset, limit: int = MAX_VALIDATION_QUESTIONS) -> QADataset | None:
    """At most `limit` test questions, spread evenly over the test part, with the whole corpus; None
    for a dataset without a test part (split before RAGTune kept one)."""
    if TEST not in dataset.split.values():
        return None
    return dataset.sampled(TEST, limit).subset(TEST)


def check_parts(dataset: QADataset) -> None:
    """Refuse a dataset that cannot be trained on: no split, fewer than 2 train pairs, no validation
    question, or a corpus without wrong passages to learn from."""
    if not dataset.split:
        raise TrainingError("this dataset has no train/validation split yet: split it before training")
    train_pairs = len(dataset.subset(TRAIN).pairs())
    if train_pairs < 2:
        raise TrainingError(
            f"the dataset's train part has {train_pairs} (question, passage) pairs; training needs at least 2"
        )
    if not dataset.subset(VAL).queries:
        raise TrainingError("the dataset's validation part has no questions: split it with a validation share above 0")
    if len(dataset.corpus) < 2:
        raise TrainingError(f"the corpus has {len(dataset.corpus)} passage(s): training needs wrong ones to learn from")


def _length(epochs: int, steps_per_epoch: int, n_examples: int, config: TrainConfig) -> str:
    return (
        f"{epochs} epoch{'s' * (epochs != 1)} = {epochs * steps_per_epoch} steps for {n_examples} pairs "
        f"at batch {config.batch_size}"
    )


def fit_and_publish(
    config: TrainConfig,
    model,
    evaluator,
    recipe: TrainerRecipe,
    primary_metric: str,
    output_dir: Path,
    on_event: OnEvent | None = None,
    test_evaluator=None,
) -> TrainResult:
    """Evaluate the base model, train it with an evaluation every few steps, keep the best evaluated
    weights (by `primary_metric`, the base model's included), stop early once `config.patience`
    evaluations in a row bring no improvement or the user asks to (training.stopping), and save the
    kept model as `output_dir`. `test_evaluator` (None: no test part) measures the base model and the
    model kept on questions that chose nothing: called after `evaluator` for the same step, so it can
    reuse what that evaluation chose at it (a reranker's blend).

    Everything is written into a hidden folder next to `output_dir`, renamed into place only when
    complete and removed whatever happens, so a failed or cancelled run leaves nothing behind.
    """
    emit = on_event or (lambda event, data: None)
    metrics_before = short_metric_names(evaluator(model, steps=0))
    emit(EventKind.EVAL, {"step": 0, "epoch": 0.0, "metrics": metrics_before})
    test_before = _tested(test_evaluator, model, 0)
    schedule = plan_schedule(config, recipe.pairs, recipe.target_steps)
    emit(
        EventKind.SCHEDULE,
        {
            "epochs": schedule.epochs,
            "steps": schedule.steps,
            "eval_steps": schedule.eval_steps,
            "reason": schedule.reason,
        },
    )
    best = _BestModel(
        model,
        primary_metric,
        metrics_before,
        config.patience,
        earliest_stop=math.ceil(schedule.steps * config.EARLIEST_STOP_SHARE),
    )

    with staged(output_dir) as work:
        trainer = _make_trainer(config, schedule, model, evaluator, recipe, work / "trainer", emit, best)
        started = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - started
        steps, processes = trainer.state.global_step, trainer.args.world_size
        if steps not in best.evaluated:  # the last step was not an eval step
            metrics = short_metric_names(evaluator(model, steps=steps))
            emit(EventKind.EVAL, {"step": steps, "epoch": trainer.state.epoch, "metrics": metrics})
            best.consider(steps, metrics)
        best.restore()
        test_after = _tested(test_evaluator, model, best.step)
        if recipe.on_kept:
            recipe.on_kept(model, best.step)
        # A request that came once every planned step had run stopped nothing.
        stopped_by_user = steps < schedule.steps and stop_requested()
        kept = {
            "step": best.step,
            "metric": primary_metric,
            "value": best.metrics.get(primary_metric),
            "stopped_early": steps < schedule.steps,
            "stopped_by_user": stopped_by_user,
            "steps": steps,
            "planned_steps": schedule.steps,
        }
        emit(EventKind.BEST, kept)
        model.save(str(work / "model"))
        _note_on_model_card(work / "model", metrics_before, kept, schedule, (test_before, test_after))
        publish_model(work / "model", output_dir)
    return TrainResult(
        output_dir,
        primary_metric,
        metrics_before,
        best.metrics,
        best.step,
        steps,
        schedule.reason,
        recipe.pairs,
        seconds,
        planned_steps=schedule.steps,
        stopped_by_user=stopped_by_user,
        test_metrics_before=test_before,
        test_metrics_after=test_after,
        processes=processes,
    )


def _tested(test_evaluator, model, step: int) -> dict[str, float]:
    """The test part's metrics of `model` as it is at `step`; empty without a test part."""
    return short_metric_names(test_evaluator(model, steps=step)) if test_evaluator else {}


class _BestModel:
    """The best evaluated weights so far, kept in memory (a small model's copy is cheaper than a
    checkpoint on disk). Ties go to the later step: as good on validation, and trained longer."""

    def __init__(self, model, metric: str, base_metrics: dict[str, float], patience: int, earliest_stop: int = 0):
        self.model, self.metric, self.patience, self.earliest_stop = model, metric, patience, earliest_stop
        self.step, self.metrics, self.evaluated = 0, base_metrics, {0}
        self.weights = self._copy()
        self.evaluations_without_gain = 0

    def consider(self, step: int, metrics: dict[str, float]) -> bool:
        """Keep this step's weights if they are at least as good; True when training should stop."""
        self.evaluated.add(step)
        value, best = metrics.get(self.metric, float("-inf")), self.metrics.get(self.metric, float("-inf"))
        self.evaluations_without_gain = 0 if value > best else self.evaluations_without_gain + 1
        if value >= best:
            self.step, self.metrics, self.weights = step, metrics, self._copy()
        return bool(self.patience) and self.evaluations_without_gain >= self.patience and step >= self.earliest_stop

    def restore(self) -> None:
        self.model.load_state_dict(self.weights)

    def _copy(self) -> dict:
        return {name: tensor.detach().to("cpu", copy=True) for name, tensor in self.model.state_dict().items()}


def how_it_stopped(best: dict) -> str:
    """What ended a training, from its "best" event: "stopped by the user at step 4 of 10", "stopped
    early" (patience), or "" when every planned step ran. Events of older runs lack the user's stop."""
    if best.get("stopped_by_user"):
        return f"stopped by the user at step {best['steps']} of {best['planned_steps']}"
    return "stopped early" if best["stopped_early"] else ""


def _note_on_model_card(model_dir: Path, before: dict, best: dict, schedule: Schedule, test: tuple[dict, dict]) -> None:
    """Say in the model card which step was kept and why (`best`: the "best" event) and, with a test part,
    the figure to report (`test`: its metrics before and after), beside what sentence-transformers wrote."""
    kept = "the base model (no step beat it)" if best["step"] == 0 else f"step {best['step']}"
    metric, value, stopped = best["metric"], best["value"], how_it_stopped(best)
    note = (
        f"\n\n## RAGTune training\n\n- Kept: {kept} of {best['steps']} steps run, by validation {metric}: "
        f"{math.nan if value is None else value:.4f} (base model: {before.get(metric, math.nan):.4f}).\n"
        f"- Schedule: {schedule.reason}; evaluated every {schedule.eval_steps} steps"
        f"{'; ' + stopped if stopped else ''}.\n"
    )
    test_before, test_after = test
    if test_after:
        note += (
            f"- Test (held out, chose nothing): {metric} {test_after.get(metric, math.nan):.4f} "
            f"(base model: {test_before.get(metric, math.nan):.4f}).\n"
        )
    append_to_model_card(model_dir, note)


def append_to_model_card(model_dir: Path, note: str) -> None:
    """Add `note` to the model card (README.md) sentence-transformers wrote, or start one."""
    card = model_dir / "README.md"
    card.write_text((card.read_text(encoding="utf-8") if card.exists() else "") + note, encoding="utf-8")


def _make_trainer(
    config: TrainConfig,
    schedule: Schedule,
    model,
    evaluator,
    recipe: TrainerRecipe,
    trainer_dir: Path,
    emit: OnEvent,
    best: _BestModel,
):
    from transformers.trainer_callback import PrinterCallback

    args = recipe.arguments_class(
        output_dir=str(trainer_dir),
        num_train_epochs=schedule.epochs,
        max_steps=schedule.steps,  # as planned in pairs, also when a row holds several (pairs_per_row)
        # A batch is shared by the devices training together: the schedule and the model are one device's.
        per_device_train_batch_size=max(1, round(config.batch_size / recipe.pairs_per_row / devices.world_size())),
        per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_steps=config.warmup_ratio,  # below 1: a share of all steps (transformers 5 has no warmup_ratio)
        eval_strategy="steps",
        eval_steps=schedule.eval_steps,
        logging_steps=max(1, schedule.steps // LOSS_POINTS_PER_RUN),
        save_strategy="no",
        report_to="none",
        seed=config.seed,
        data_seed=config.seed,
        dataloader_num_workers=0,
        disable_tqdm=True,
        **devices.device_arguments(),
        **recipe.arguments,
    )
    freeze_word_embeddings(model)  # before the trainer builds its optimizer over the weights that learn
    trainer = recipe.trainer_class(
        model=model,
        args=args,
        train_dataset=recipe.train_dataset,
        loss=recipe.loss,
        evaluator=evaluator,
        callbacks=[_event_callback(emit, best)],
    )
    # With tqdm off the trainer prints every log dict to stdout, which the CLI keeps for its JSON summary.
    trainer.remove_callback(PrinterCallback)
    return trainer


def _event_callback(emit: OnEvent, best: _BestModel):
    """A TrainerCallback turning the trainer's step, log and evaluate hooks into RAGTune events, and
    each evaluation into a candidate for the model kept (stopping when they stop improving, or when
    the user asks to)."""
    from transformers import TrainerCallback

    class EventCallback(TrainerCallback):
        def __init__(self):
            self.loss: float | None = None

        def on_step_end(self, args, state, control, **kwargs):
            emit(
                EventKind.PROGRESS,
                {
                    "step": state.global_step,
                    "max_steps": state.max_steps,
                    "epoch": state.epoch,
                    "epochs": math.ceil(args.num_train_epochs),
                    "loss": self.loss,
                },
            )
            if devices.any_rank(stop_requested()):  # a request seen by one rank stops them all at this step
                control.should_training_stop = True

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:  # not the eval logs nor the end-of-training summary
                self.loss = float(logs["loss"])
                emit(
                    EventKind.TRAIN_STEP,
                    {
                        "step": state.global_step,
                        "max_steps": state.max_steps,
                        "epoch": state.epoch,
                        "loss": self.loss,
                        "learning_rate": float(logs.get("learning_rate", 0.0)),
                    },
                )

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            short = short_metric_names(metrics or {})
            emit(EventKind.EVAL, {"step": state.global_step, "epoch": state.epoch, "metrics": short})
            if best.consider(state.global_step, short):
                control.should_training_stop = True

    return EventCallback()


def check_free(output_dir: Path) -> None:
    """Refuse an output folder that exists already: a model is never written over another."""
    if output_dir.exists():
        raise TrainingError(f"the output folder {str(output_dir)!r} already exists; pick another model name")


def publish_model(finished: Path, output_dir: Path) -> None:
    """Move a complete model folder into place, never over an existing one (store.staging.publish_folder).
    In a workspace the folder's name is reserved before training (Workspace.reserve_model), and
    the model is listed only when its training commits the reservation after this rename."""
    check_free(output_dir)
    publish_folder(finished, output_dir)
