import math
from dataclasses import replace

import pytest

from ragtune_core.runs import EventKind
from ragtune_core.timing.pace import Component, Pace, Work
from ragtune_core.timing.work import duration
from ragtune_core.training.config import CrossEncoderTrainConfig, EmbeddingTrainConfig
from ragtune_core.training.duration import (
    FIRST_SHARES,
    PREPARE,
    SETUP,
    START,
    TRAINING,
    VALIDATION,
    TrainingMeter,
    estimate_training,
    plan_training,
)
from ragtune_core.training.embedding import train_embedding
from ragtune_core.training.register import planned_schedule
from ragtune_core.training.search import SearchSettings
from tests.fake_pace import MEASURED_PACE
from tests.training.test_training import TINY, tiny_dataset

PACE = MEASURED_PACE


def test_a_training_estimate_counts_every_step_and_every_validation_run():
    dataset = tiny_dataset()
    plan = plan_training(dataset, TINY, PACE)
    schedule = planned_schedule(dataset, TINY)
    assert (plan.steps, plan.evaluations) == (schedule.steps, 1 + math.ceil(schedule.steps / schedule.eval_steps))
    assert plan.estimate.phases[START] == 10.0
    assert plan.estimate.phases[PREPARE] > 0  # a QA question encoder: the passages are encoded once, first
    assert plan.step_seconds > PACE.train_step_seconds and plan.evaluation_seconds > 0
    assert plan.estimate.phases[TRAINING] == pytest.approx(plan.steps * plan.step_seconds)
    assert plan.estimate.phases[VALIDATION] == pytest.approx(plan.evaluations * plan.evaluation_seconds)
    assert plan.estimate.phases[SETUP] == pytest.approx(3 * plan.step_seconds)
    assert list(plan.estimate.phases) == [START, PREPARE, VALIDATION, SETUP, TRAINING]  # validation from step 0
    assert plan.estimate.components == {
        START: Component.START,
        PREPARE: Component.ENCODING,
        VALIDATION: Component.ENCODING,  # the validation questions encoded
        SETUP: Component.TRAINING,
        TRAINING: Component.TRAINING,
    }
    val_question = next(question for question, part in dataset.split.items() if part == "val")
    tested = plan_training(replace(dataset, split={**dataset.split, val_question: "test"}), TINY, PACE)
    assert tested.test_seconds > 0  # the base model's and the kept model's measures on the test part
    assert tested.estimate.phases[VALIDATION] == pytest.approx(
        tested.evaluations * tested.evaluation_seconds + 2 * tested.test_seconds
    )
    longer = plan_training(
        dataset, EmbeddingTrainConfig(epochs=4, batch_size=4, max_seq_length=64, eval_steps=2, learning_rate=5e-5), PACE
    )
    assert longer.estimate.phases[TRAINING] > 3 * plan.estimate.phases[TRAINING]
    slower = Pace(500.0, 125.0, 1.0, 10.0)
    assert plan_training(dataset, TINY, slower).estimate.phases[TRAINING] == pytest.approx(
        2 * plan.estimate.phases[TRAINING]
    )


def test_a_cross_encoder_estimate_counts_the_first_stage_and_reranking_validation():
    config = CrossEncoderTrainConfig(epochs=1, batch_size=4, max_length=64)
    plan = plan_training(tiny_dataset(), config, PACE)
    assert plan.estimate.phases[PREPARE] > 0 and plan.evaluation_seconds > 0
    # a step reads (question, passage) pairs: more tokens than a question encoder's step of 4 questions
    assert plan.step_seconds > plan_training(tiny_dataset(), TINY, PACE).step_seconds
    assert plan.estimate.components[PREPARE] == Component.ENCODING  # the embedder ranks the corpus
    assert plan.estimate.components[VALIDATION] == Component.SCORING  # validation runs score pairs
    scoring_faster = plan_training(tiny_dataset(), config, replace(PACE, pair_tokens_per_second=2000.0))
    assert scoring_faster.estimate.phases[VALIDATION] == pytest.approx(plan.estimate.phases[VALIDATION] / 2)
    assert scoring_faster.estimate.phases[PREPARE] == plan.estimate.phases[PREPARE]


def test_a_search_is_estimated_as_the_trainings_that_fit_its_budget():
    one = plan_training(tiny_dataset(), TINY, PACE)
    budget = SearchSettings(minutes=one.seconds * 2.5 / 60, max_trials=8)
    searched = plan_training(tiny_dataset(), TINY, PACE, budget)
    assert searched.trials == 3  # trials start until the budget has passed: after 0, 1 and 2 trainings
    assert searched.estimate.phases[TRAINING] == pytest.approx(3 * one.estimate.phases[TRAINING])
    assert plan_training(tiny_dataset(), TINY, PACE, SearchSettings(minutes=600, max_trials=2)).trials == 2


@pytest.mark.slow
def test_a_training_meter_moves_forward_from_the_passages_to_the_model_kept(tmp_path):
    reports, forwarded = [], []
    plan = plan_training(tiny_dataset(), TINY, PACE)
    meter = TrainingMeter(
        plan,
        lambda done, total, message: reports.append((done, total, message)),
        lambda event, data: forwarded.append(event),
    )
    train_embedding(TINY, tiny_dataset(), tmp_path / "model", meter)
    done = [d for d, _, _ in reports]
    assert done == sorted(done) and reports[-1][1] == round(plan.seconds * 10)
    assert any("passages" in message for _, _, message in reports)  # the passages' encoding shows too
    assert done[-1] >= 0.95 * reports[-1][1]  # every planned step and validation run counted
    assert "prepare" not in forwarded and {"eval", "progress", "best"} <= set(forwarded)


def test_a_validation_run_under_way_moves_the_meter_and_is_not_logged():
    reports, forwarded = [], []
    plan = plan_training(tiny_dataset(), TINY, replace(PACE, forward_tokens_per_second=1.0))  # runs of seconds
    meter = TrainingMeter(
        plan, lambda done, total, message: reports.append((done, message)), lambda event, data: forwarded.append(event)
    )
    meter(EventKind.EVAL, {"step": 0, "metrics": {}})
    scoring = "validation run: reranked 64/128 (question, passage) pairs"
    meter(EventKind.VALIDATING, {"done": 64, "total": 128, "message": scoring})
    meter(EventKind.EVAL, {"step": 5, "metrics": {}})
    (first, _), (half, message), (second, _) = reports
    assert message == scoring
    assert half - first == pytest.approx(plan.evaluation_seconds * 10 / 2, abs=1)  # progress in tenths of a second
    assert second - first == pytest.approx(plan.evaluation_seconds * 10, abs=1)
    assert forwarded == [EventKind.EVAL, EventKind.EVAL]


def test_the_time_before_the_first_step_is_the_trainers_setup_not_the_steps_pace():
    now = [0.0]
    plan = plan_training(tiny_dataset(), TINY, PACE)
    reports = []
    meter = TrainingMeter(plan, lambda done, total, message: reports.append(done), clock=lambda: now[0])
    meter(EventKind.EVAL, {"step": 0, "metrics": {}})
    now[0] += 4 * plan.step_seconds  # the trainer set up in three steps' time (the router's: 0.45 s), one step run
    meter(EventKind.PROGRESS, {"step": 1, "max_steps": plan.steps, "epoch": 0.1, "epochs": 1, "loss": None})
    assert meter.meter.timed()[Component.TRAINING].ratio == pytest.approx(1.0)  # not a first step 4 times slow
    assert reports[1] - reports[0] == pytest.approx(4 * plan.step_seconds * 10, abs=1)


def test_qa_and_router_trainings_learn_their_paces_apart(kept_pace):
    qa, router = tiny_dataset(), tiny_dataset()
    router.kind = "router"
    assert estimate_training(qa, TINY).work == Work.QUESTION_ENCODER_TRAINING
    assert estimate_training(router, TINY).work == Work.EMBEDDING_TRAINING
    reranker = CrossEncoderTrainConfig()  # from the bundled model
    assert estimate_training(qa, reranker).work == Work.RERANKER_TRAINING
    assert estimate_training(router, reranker).work == Work.CROSS_ENCODER_TRAINING


def test_a_training_that_may_stop_early_is_said_to_take_the_share_of_its_steps_such_trainings_ran():
    router = tiny_dataset()
    router.kind = "router"
    stopping = plan_training(router, replace(TINY, patience=3), PACE)
    phases, share = stopping.estimate.phases, FIRST_SHARES[Work.EMBEDDING_TRAINING]
    assert stopping.seconds == pytest.approx(sum(phases.values()))  # progress still counts every planned step
    assert stopping.expected_seconds == pytest.approx(
        phases[START] + phases[PREPARE] + phases[SETUP] + share * (phases[VALIDATION] + phases[TRAINING])
    )
    said = stopping.describe()
    assert said.startswith(
        f"about {duration(stopping.expected_seconds)}, at most {duration(stopping.seconds)} if it runs"
    )
    running_out = plan_training(router, replace(TINY, patience=0), PACE)  # never stops early
    assert running_out.expected_seconds == running_out.seconds
    assert running_out.describe() == running_out.estimate.describe() and "at most" not in running_out.describe()
