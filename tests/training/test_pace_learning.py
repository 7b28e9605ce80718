"""A training's phases each teach their own component of the pace (issue 24: its ETA at a tenth of the
work within ±20% of the time then left), on a stopped clock, without a model."""

from dataclasses import dataclass, replace

import pytest

from ragtune_core.runs import EventKind
from ragtune_core.timing import Eta, Pace, Work, machine_pace
from ragtune_core.timing.work import UNIT_SECONDS
from ragtune_core.training.config import CrossEncoderTrainConfig, EmbeddingTrainConfig
from ragtune_core.training.duration import (
    FIRST_SHARES,
    SETUP_STEPS,
    VALIDATION,
    TrainingMeter,
    TrainingWork,
    expected_share,
    plan_work,
    training_settings,
)
from tests.fake_clock import StoppedClock
from tests.fake_pace import MEASURED_PACE

# This machine encodes 1.5 times slower than its probe measured and trains 1.2 times faster: the two
# errors cancel in a training's total, as they did in the QA benchmark's trainings.
MACHINE = Pace(
    forward_tokens_per_second=1000.0 / 1.5,
    train_tokens_per_second=250.0 * 1.2,
    train_step_seconds=0.5 / 1.2,
    start_seconds=10.0,
)
WORK = TrainingWork(prepare_tokens=60_000, step_tokens=125, validation_tokens=8_000)  # a QA question encoder's
STEPS, EVAL_STEPS, SLICES = 300, 60, 20  # SLICES: progress reports while the passages are encoded
EVALUATIONS = 1 + STEPS // EVAL_STEPS  # the base model's at step 0 and every EVAL_STEPS


@dataclass
class Run:
    meter: TrainingMeter
    seconds: float  # what the run took
    eta_at_a_tenth: float  # its ETA when a tenth of the estimated work was done...
    left_at_a_tenth: float  # ... and the time really left then


def test_each_phase_teaches_its_own_component_and_the_eta_at_a_tenth_comes_right(kept_pace):
    assert machine_pace(None, Work.EMBEDDING_TRAINING) == MEASURED_PACE  # measured now, nothing learnt yet
    estimated = plan_work(WORK, STEPS, EVALUATIONS, MEASURED_PACE)
    first = run_training(MEASURED_PACE)
    # Today's learning, one ratio for the whole run, sees a run that took what was estimated (418 s of
    # 422 s) and keeps the pace as it was, its ETA at a tenth half as long again as the time left.
    assert estimated.seconds / first.seconds == pytest.approx(1.0, abs=0.02)
    assert first.eta_at_a_tenth / first.left_at_a_tenth > 1.5

    first.meter.learn()
    learned = machine_pace(None, Work.EMBEDDING_TRAINING)
    assert learned.forward_tokens_per_second == pytest.approx(1000.0 / 1.5**0.5)  # halfway, geometrically
    assert learned.train_tokens_per_second == pytest.approx(250.0 * 1.2**0.5)
    assert learned.train_step_seconds == pytest.approx(0.5 / 1.2**0.5)
    assert learned.start_seconds == MEASURED_PACE.start_seconds  # 10 s, as estimated
    assert learned.scoring_tokens_per_second == MEASURED_PACE.forward_tokens_per_second  # no pair was scored

    run_training(learned).meter.learn()  # halfway again
    learned = machine_pace(None, Work.EMBEDDING_TRAINING)
    phases, truth = plan_work(WORK, STEPS, EVALUATIONS, learned).estimate.phases, actual_phases()
    assert all(phases[phase] == pytest.approx(truth[phase], rel=0.11) for phase in truth)
    third = run_training(learned)
    assert third.eta_at_a_tenth / third.left_at_a_tenth == pytest.approx(1.0, abs=0.2)


def test_the_test_parts_runs_are_timed_as_validation_not_as_steps(kept_pace):
    """The base model's test run comes between its validation run and the first step, the kept model's
    after the last step: their time teaches encoding, and the steps' pace stays the steps' own."""
    tested = replace(WORK, test_tokens=8_000)
    plan = plan_work(tested, STEPS, EVALUATIONS, machine_pace(None, Work.EMBEDDING_TRAINING))
    assert plan.estimate.phases[VALIDATION] == pytest.approx((EVALUATIONS + 2) * 8.0)
    run_training(MEASURED_PACE, tested).meter.learn()
    learned = machine_pace(None, Work.EMBEDDING_TRAINING)
    assert learned.forward_tokens_per_second == pytest.approx(1000.0 / 1.5**0.5)
    assert learned.train_tokens_per_second == pytest.approx(250.0 * 1.2**0.5)


def run_training(pace: Pace, work: TrainingWork = WORK) -> Run:
    """The training of `work` planned at `pace`, run on MACHINE and a stopped clock through its
    TrainingMeter, its events as fit_and_publish emits them: the passages encoded, the base model's
    validation run (and test run), the schedule, the trainer's setup, steps with a validation run every
    EVAL_STEPS, (the kept model's test run,) the model kept."""
    clock, eta, tenth = StoppedClock(), Eta(unit_seconds=UNIT_SECONDS), []  # as the CLI's EtaPrinter

    def report(done: int, total: int, message: str) -> None:
        eta.report(clock(), done)
        if not tenth and done >= total / 10:
            tenth.append((clock(), eta.seconds_left(clock(), done, total)))

    meter = TrainingMeter(plan_work(work, STEPS, EVALUATIONS, pace), report, clock=clock)
    clock.spend(MACHINE.start_seconds)
    for done in range(1, SLICES + 1):
        clock.spend(MACHINE.forward_seconds(work.prepare_tokens / SLICES))
        meter(EventKind.PREPARE, {"done": done, "total": SLICES, "message": "passages"})
    validate(meter, clock, work.validation_tokens, 0)
    clock.spend(MACHINE.forward_seconds(work.test_tokens))
    meter(EventKind.SCHEDULE, {"epochs": 1, "steps": STEPS, "eval_steps": EVAL_STEPS, "reason": "planned"})
    clock.spend(MACHINE.train_seconds(SETUP_STEPS, work.step_tokens))  # the trainer's setup
    for step in range(1, STEPS + 1):
        clock.spend(MACHINE.train_seconds(1, work.step_tokens))
        meter(EventKind.PROGRESS, {"step": step, "max_steps": STEPS, "epoch": step / STEPS, "epochs": 1, "loss": 0.1})
        if step % EVAL_STEPS == 0:
            validate(meter, clock, work.validation_tokens, step)
    clock.spend(MACHINE.forward_seconds(work.test_tokens))
    meter(EventKind.BEST, {"step": STEPS, "steps": STEPS, "planned_steps": STEPS})
    (at, eta_seconds), seconds = tenth[0], clock()
    return Run(meter, seconds, eta_seconds, seconds - at)


def validate(meter: TrainingMeter, clock: StoppedClock, tokens: float, step: int) -> None:
    clock.spend(MACHINE.forward_seconds(tokens))
    meter(EventKind.EVAL, {"step": step, "epoch": step / STEPS, "metrics": {}})


def actual_phases() -> dict[str, float]:
    """What each phase really takes on MACHINE."""
    return plan_work(WORK, STEPS, EVALUATIONS, MACHINE).estimate.phases


@pytest.mark.parametrize("ran, stopped_by_user, taught", [(300, False, 0.875), (150, False, 0.625), (150, True, None)])
def test_a_training_that_may_stop_early_teaches_the_share_of_its_steps_to_expect_next(
    kept_pace, ran, stopped_by_user, taught
):
    """The first expects 0.75 here; what it ran moves the next one's expectation halfway there.
    A stop by the user says nothing of where training would have stopped."""
    machine_pace(None, Work.EMBEDDING_TRAINING)
    config = EmbeddingTrainConfig()
    plan = replace(
        plan_work(WORK, STEPS, EVALUATIONS, MEASURED_PACE),
        share=0.75,
        may_stop_early=True,
        settings=training_settings(config),
    )
    meter = TrainingMeter(plan, lambda done, total, message: None, clock=StoppedClock())
    kept = {"step": ran, "steps": ran, "planned_steps": STEPS, "stopped_by_user": stopped_by_user}
    meter(EventKind.BEST, kept)
    meter.learn()
    learnt = machine_pace(None, Work.EMBEDDING_TRAINING, training_settings(config))
    assert learnt.steps_share == (pytest.approx(taught) if taught else None)
    first = FIRST_SHARES[Work.EMBEDDING_TRAINING]
    assert expected_share(config, Work.EMBEDDING_TRAINING, learnt) == pytest.approx(taught or first)
    assert expected_share(replace(config, patience=0), Work.EMBEDDING_TRAINING, learnt) == 1.0
    # Not what a training at another learning rate expects (a default changed since, an advanced setting).
    other = machine_pace(None, Work.EMBEDDING_TRAINING, training_settings(replace(config, learning_rate=1e-5)))
    assert other.steps_share is None and expected_share(config, Work.EMBEDDING_TRAINING, other) == first


def test_before_any_is_learnt_a_kind_of_training_expects_the_share_such_trainings_ran():
    embedding, cross_encoder = EmbeddingTrainConfig(), CrossEncoderTrainConfig()
    assert expected_share(embedding, Work.QUESTION_ENCODER_TRAINING) == 1.0
    assert expected_share(embedding, Work.EMBEDDING_TRAINING) == FIRST_SHARES[Work.EMBEDDING_TRAINING] < 1
    assert expected_share(cross_encoder, Work.RERANKER_TRAINING) == FIRST_SHARES[Work.RERANKER_TRAINING]


def test_a_share_learnt_below_the_earliest_stop_is_not_expected():
    """A share a reranker learnt when it could stop from half its steps on: it now runs three quarters at least."""
    learnt = replace(MEASURED_PACE, steps_share=0.5)
    cross_encoder = CrossEncoderTrainConfig()
    assert expected_share(cross_encoder, Work.RERANKER_TRAINING, learnt) == 0.75 == cross_encoder.EARLIEST_STOP_SHARE
    assert expected_share(EmbeddingTrainConfig(), Work.EMBEDDING_TRAINING, learnt) == 0.5


def test_a_training_that_cannot_stop_early_teaches_no_share(kept_pace):
    machine_pace(None, Work.EMBEDDING_TRAINING)
    plan = plan_work(WORK, STEPS, EVALUATIONS, MEASURED_PACE)  # may_stop_early is False
    meter = TrainingMeter(plan, lambda *report: None, clock=StoppedClock())
    meter(EventKind.BEST, {"step": STEPS, "steps": STEPS, "planned_steps": STEPS, "stopped_by_user": False})
    meter.learn()
    assert machine_pace(None, Work.EMBEDDING_TRAINING).steps_share is None
