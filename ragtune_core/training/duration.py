"""How long a training will take, said before it starts, and its progress in those seconds.

The estimate counts what the training will do, from the dataset and the settings, at the pace this
machine measurably runs the model (timing.pace): the new process's start, the passages encoded
before training, every planned validation run, the base model's included, the trainer's setup and
every optimizer step (tokens read forward and backward, padded to the batch's longest). A training that stops early
takes less than said; one with a hyperparameter search is as many trainings as fit its budget. Each
phase names the component of the pace that governs it (plan_work), which its time, measured by
the TrainingMeter, corrects at the training's end: validation runs are forward passes (texts encoded,
or pairs a cross-encoder scores) however fast the steps between them ran.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from ..evaluation.corpus_vectors import encodes_corpus, model_encoder_key
from ..evaluation.metrics import TOP_K
from ..evaluation.reranking import RERANK_TOP_K
from ..questions.qa_dataset import TRAIN, VAL, QADataset
from ..runs import EventKind
from ..timing.pace import Component, Pace, Work, learn_pace, machine_pace, token_counter
from ..timing.work import Estimate, Meter, padded_batch_tokens, sorted_batch_tokens
from .config import CrossEncoderTrainConfig, EmbeddingTrainConfig, TrainConfig
from .fit import test_sample, validation_sample
from .register import planned_schedule, run_config
from .search import SearchSettings

START, PREPARE, VALIDATION, SETUP, TRAINING = "start", "passages", "validation", "setup", "training"
# The trainer's setup before its first step (its data loader and optimizer built, the first batch's warm-up),
# in optimizer steps: 0.45 s for the router's embedding (0.15-s steps), about 2 s for the QA reranker (1-s steps).
SETUP_STEPS = 3
SAMPLED_PAIRS = 2000  # (question, passage) pairs drawn to measure a cross-encoder's pair lengths
TEST_RUNS = 2  # the base model's and the kept model's measures on the test part, where the dataset has one


# What each kind of training ran of its planned steps with every default on 2 cores (bench/RESULTS.md,
# "Defaults"): the share expected until this machine has finished one of that kind.
FIRST_SHARES = {
    Work.EMBEDDING_TRAINING: 0.57,  # the router's embedding: 156, 156 and 208 of 306 steps with seeds 42, 1, 2
    Work.QUESTION_ENCODER_TRAINING: 1.0,  # the QA question encoder ran all its steps
    Work.CROSS_ENCODER_TRAINING: 0.83,  # the router's cross-encoder: 165 of 198
    # The QA reranker stops at 375 or 450 of 450 (its earliest stop, CrossEncoderTrainConfig): 0.9 puts the ETA
    # at 10% within 20% of both.
    Work.RERANKER_TRAINING: 0.9,
}


def expected_share(config: TrainConfig, work: Work, pace: Pace | None = None) -> float:
    """The share of its planned steps (and validation runs) a training of `work` is expected to run: one that
    may stop early stops between its earliest stop and its last step. Until this machine has finished such a
    training of the same kind and settings (`pace.steps_share`, kept by TrainingMeter.learn) it is what
    trainings of that kind ran with every default (FIRST_SHARES): no one share puts the ETA at 10% within 20%
    of both 0.67 and 1.0 (docs/decisions.md, "A training's estimate expects it to stop early"). Never less
    than its earliest stop: a share learnt under an earlier one may be."""
    if not config.patience:
        return 1.0
    learned = pace.steps_share if pace is not None else None
    return max(config.EARLIEST_STOP_SHARE, learned if learned is not None else FIRST_SHARES[work])


def training_settings(config: TrainConfig) -> str:
    """The settings whose trainings keep a pace and share of their own (timing.pace.learn_pace): what sizes
    a step and where training stops early. The router's embedding stopped at 208 of 306 steps at a learning
    rate of 2e-5, at 156 at 5e-5; its steps at batch 16 took 0.14 s, at batch 10 0.13 s."""
    return (
        f"lr={config.learning_rate:g} batch={config.batch_size} warmup={config.warmup_ratio:g} "
        f"epochs={config.epochs} eval_steps={config.eval_steps} patience={config.patience}"
    )


def work_of(dataset: QADataset, config: TrainConfig) -> Work:
    """The kind of work training `config` on `dataset` is, whose pace it runs at."""
    router = dataset.kind == "router"
    if isinstance(config, CrossEncoderTrainConfig):
        return Work.CROSS_ENCODER_TRAINING if router else Work.RERANKER_TRAINING
    return Work.EMBEDDING_TRAINING if router else Work.QUESTION_ENCODER_TRAINING


@dataclass
class TrainingPlan:
    """What a training will do and how long each part takes here."""

    # START, PREPARE (passages encoded before training), VALIDATION (its runs), SETUP (the trainer's), TRAINING (steps)
    estimate: Estimate
    steps: int
    evaluations: int
    step_seconds: float
    evaluation_seconds: float
    trials: int = 1  # trainings of a hyperparameter search
    test_seconds: float = 0.0  # one of the TEST_RUNS (0: no test part), counted in VALIDATION
    model: str | None = None  # whose pace it was estimated at
    work: Work = Work.EMBEDDING_TRAINING  # the kind of work whose pace it was estimated at
    share: float = 1.0  # of the steps and validation runs it is expected to run (expected_share)
    may_stop_early: bool = False  # what it ran then teaches the share expected of the next (TrainingMeter.learn)
    settings: str = ""  # training_settings of its config: what it runs teaches the pace kept for them

    @property
    def seconds(self) -> float:
        """Every planned step and validation run: what progress is measured in."""
        return self.estimate.seconds

    @property
    def expected_seconds(self) -> float:
        """What it should take, stopping early as expected: what is said before it starts."""
        phases = self.estimate.phases
        return self.seconds - (1 - self.share) * (phases.get(VALIDATION, 0.0) + phases.get(TRAINING, 0.0))

    @property
    def expected_part(self) -> float:
        """Of all the work its progress counts, the part it is expected to do: its ETA aims there (timing.Eta)."""
        return self.expected_seconds / self.seconds if self.seconds else 1.0

    def describe(self) -> str:
        return self.estimate.describe(self.expected_seconds if self.share < 1 else None)

    @property
    def validation_seconds(self) -> float:
        """One training's validation and test runs."""
        return self.evaluations * self.evaluation_seconds + TEST_RUNS * self.test_seconds


def estimate_training(dataset: QADataset, config: TrainConfig, search: SearchSettings | None = None) -> TrainingPlan:
    """plan_training at this machine's kept pace for the model trained (measured now if this machine
    has not run it yet: a few seconds)."""
    from .cross_encoder import start_model

    model = start_model(config) if isinstance(config, CrossEncoderTrainConfig) else config.base_model
    pace = machine_pace(model, work_of(dataset, config), training_settings(run_config(dataset, config)))
    return replace(plan_training(dataset, config, pace, search), model=model)


def plan_training(
    dataset: QADataset,
    config: TrainConfig,
    pace: Pace,
    search: SearchSettings | None = None,
) -> TrainingPlan:
    """The estimate of training `config` on `dataset` at `pace`."""
    config = run_config(dataset, config)
    schedule = planned_schedule(dataset, config)
    if isinstance(config, CrossEncoderTrainConfig):
        work = _cross_encoder_work(dataset, config)
    else:
        work = _embedding_work(dataset, config)
    plan = plan_work(work, schedule.steps, schedule.evaluations, pace, search)
    kind = work_of(dataset, config)
    share, settings = expected_share(config, kind, pace), training_settings(config)
    return replace(plan, share=share, may_stop_early=bool(config.patience), work=kind, settings=settings)


@dataclass(frozen=True)
class TrainingWork:
    """What one training reads, in tokens: before it trains, in an optimizer step, in a validation run
    and in a test run."""

    prepare_tokens: float  # texts encoded first (PREPARE): a QA corpus, a cross-encoder's first stage
    step_tokens: float  # forward and backward, padded to the batch's longest
    validation_tokens: float
    test_tokens: float = 0.0  # one of the TEST_RUNS (0: no test part)
    validation: Component = Component.ENCODING  # texts encoded, or pairs a cross-encoder scores (SCORING)


def plan_work(
    work: TrainingWork, steps: int, evaluations: int, pace: Pace, search: SearchSettings | None = None
) -> TrainingPlan:
    """The estimate of a training doing `work` in `steps` and `evaluations` validation runs at `pace`:
    each phase with the component of the pace that governs it."""
    prepare = pace.forward_seconds(work.prepare_tokens)
    step = pace.train_seconds(1, work.step_tokens)
    reading = pace.scoring_seconds if work.validation == Component.SCORING else pace.forward_seconds
    plan = TrainingPlan(
        Estimate(), steps, evaluations, step, reading(work.validation_tokens), test_seconds=reading(work.test_tokens)
    )
    plan.trials = trials = _trials(search, pace.start_seconds + prepare + plan.validation_seconds + steps * step)
    plan.estimate.add(START, pace.start_seconds, Component.START)
    plan.estimate.add(PREPARE, prepare * trials, Component.ENCODING)
    plan.estimate.add(VALIDATION, plan.validation_seconds * trials, work.validation)
    plan.estimate.add(SETUP, SETUP_STEPS * step * trials, Component.TRAINING)
    plan.estimate.add(TRAINING, steps * step * trials, Component.TRAINING)
    return plan


def _trials(search: SearchSettings | None, seconds: float) -> int:
    """Trainings a search runs: no trial starts after its budget, and it stops at max_trials."""
    if search is None:
        return 1
    return min(search.max_trials, 1 + math.floor(search.minutes * 60 / max(1.0, seconds)))


def _embedding_work(dataset: QADataset, config: EmbeddingTrainConfig) -> TrainingWork:
    """A QA question encoder trains on questions alone against passages encoded once; a router
    embedding reads questions and tools in every step, and each validation run encodes the corpus too."""
    lengths = token_counter(config.base_model, config.max_seq_length)
    train, val, test = dataset.subset(TRAIN), validation_sample(dataset).subset(VAL), test_sample(dataset)
    questions = lengths(train.queries.values())
    corpus = sorted_batch_tokens(lengths(dataset.corpus.values()))
    val_questions = sorted_batch_tokens(lengths(val.queries.values()))
    test_questions = sorted_batch_tokens(lengths(test.queries.values())) if test else 0.0
    if dataset.kind != "router":  # the base model's passage vectors may be kept (evaluation.corpus_vectors)
        prepare = corpus if encodes_corpus(model_encoder_key(config.base_model), list(dataset.corpus.values())) else 0.0
        return TrainingWork(prepare, padded_batch_tokens(questions, config.batch_size), val_questions, test_questions)
    passages = lengths(passage for _, passage in train.pairs())
    step = padded_batch_tokens(questions, config.batch_size) + padded_batch_tokens(passages, config.batch_size)
    return TrainingWork(0.0, step, corpus + val_questions, corpus + test_questions if test else 0.0)


def _cross_encoder_work(dataset: QADataset, config: CrossEncoderTrainConfig) -> TrainingWork:
    """The first stage ranking the train, validation and test questions first; steps, validation and
    test runs read (question, passage) pairs."""
    from .cross_encoder import start_model, validation_questions

    router = dataset.kind == "router"
    top_k = min(TOP_K, len(dataset.corpus)) if router else RERANK_TOP_K
    embedder_lengths = token_counter(config.embedder, 256)
    sample = validation_questions(dataset, top_k, config.max_length)
    val, test = validation_sample(dataset, sample).subset(VAL), test_sample(dataset, sample)
    train, tested = dataset.subset(TRAIN), list(test.queries.values()) if test else []
    passages = list(dataset.corpus.values())
    if not encodes_corpus(model_encoder_key(config.embedder), passages):
        passages = []  # kept (evaluation.corpus_vectors): the first stage encodes its questions only
    first_stage = sum(
        map(
            sorted_batch_tokens,
            (
                embedder_lengths(passages),
                embedder_lengths(train.queries.values()),
                embedder_lengths(val.queries.values()),
                embedder_lengths(tested),
            ),
        )
    )
    lengths = token_counter(start_model(config), config.max_length)
    pairs = _pair_lengths(lengths(train.queries.values()), lengths(dataset.corpus.values()), config.max_length)
    question_pairs = top_k * sum(pairs) / len(pairs)  # the tokens of a question's pairs
    step = padded_batch_tokens(pairs, config.batch_size)
    return TrainingWork(
        first_stage, step, len(val.queries) * question_pairs, len(tested) * question_pairs, Component.SCORING
    )


def _pair_lengths(questions: list[int], passages: list[int], max_length: int) -> list[int]:
    """Lengths of random (question, passage) pairs: both texts in one sequence, sharing one [CLS]."""
    rng = random.Random(0)
    return [min(max_length, rng.choice(questions) + rng.choice(passages) - 1) for _ in range(SAMPLED_PAIRS)]


class TrainingMeter:
    """A training's events (on_event) as progress in estimated seconds (timing.work.Meter, timing the
    phases on `clock`, the run's seconds so far): "prepare" events fill PREPARE, each validation run
    ("eval", and "validating" while it scores) and test run (the one before "schedule", the one before
    "best") its share of VALIDATION, each optimizer step its share of TRAINING; SETUP counts done at the
    first step (Meter: a phase never reported is done once a later one is), and the time before that step,
    less the step's own, is its. Other events pass to `forward`."""

    def __init__(
        self,
        plan: TrainingPlan,
        report: Callable[[int, int, str], None],
        forward: Callable[[str, dict], None] | None = None,
        clock: Callable[[], float] | None = None,
    ):
        self._plan, self.meter, self._forward = plan, Meter(plan.estimate, report, clock), forward
        self._steps = self._evaluations = self._tests = self._trials = 0
        self._kept: dict | None = None  # the last "best" event: the steps run of those planned, a stop by the user

    def __call__(self, event: str, data: dict) -> None:
        plan = self._plan
        if event == EventKind.PREPARE:
            self.meter(
                PREPARE, self._trials * data["total"] + data["done"], plan.trials * data["total"], data["message"]
            )
        elif event == EventKind.VALIDATING:
            self._validated(data["message"], data["done"] / data["total"] if data["total"] else 1.0)
        elif event == EventKind.EVAL:
            self._evaluations += 1
            self._validated(_message(event, data))
        elif event in (EventKind.SCHEDULE, EventKind.BEST) and plan.test_seconds:
            self._tests += 1
            self._validated("measured on the test part")
        elif event == EventKind.PROGRESS:
            self._steps = data["step"]
            self._report(TRAINING, min(plan.steps, self._steps), plan.steps, _message(event, data))
        elif event == EventKind.TRIAL:
            self._trials, self._evaluations, self._tests, self._steps = self._trials + 1, 0, 0, 0
        if event == EventKind.BEST:
            self._kept = data
        if self._forward and event not in (EventKind.PREPARE, EventKind.VALIDATING):
            self._forward(event, data)

    def _validated(self, message: str, running: float = 0.0) -> None:
        """The validation and test runs done, and `running`, the share scored of the one under way."""
        plan = self._plan
        done = min(plan.evaluations, self._evaluations) * plan.evaluation_seconds
        done += min(TEST_RUNS, self._tests) * plan.test_seconds
        done = min(plan.validation_seconds, done + running * plan.evaluation_seconds)
        self._report(VALIDATION, done, plan.validation_seconds, message)

    def _report(self, phase: str, done: float, planned: float, message: str) -> None:
        """`done` of the `planned` work (steps, seconds) of this trial: the trials before it did all theirs."""
        self.meter(phase, self._trials * planned + done, self._plan.trials * planned, message)

    def learn(self) -> None:
        """Teach the machine's kept pace what each phase of this training took (timing.pace.learn_pace) and,
        where it could stop early and the user did not stop it, the share of its steps to expect of the next:
        halfway from the share this one expected towards what it ran."""
        plan, kept = self._plan, self._kept
        share = None
        if plan.may_stop_early and kept and not kept.get("stopped_by_user") and kept["planned_steps"]:
            share = (plan.share + min(1.0, kept["steps"] / kept["planned_steps"])) / 2
        learn_pace(plan.model, plan.work, self.meter.timed(), share, plan.settings)


def _message(event: str, data: dict) -> str:
    from .fit import progress_message

    if event == EventKind.EVAL:
        return f"validation run at step {data['step']}"
    return f"step {data['step']}/{data['max_steps']} · {progress_message(data)}"
