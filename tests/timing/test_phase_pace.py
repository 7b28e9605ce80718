"""Each component of the pace learns from the phases it governs, timed on a stopped clock (no model)."""

import json

import pytest

from ragtune_core.evaluation import duration as evaluation_duration
from ragtune_core.evaluation.duration import ENCODING, FIRST_STAGE, RERANKING, START, estimate_evaluation
from ragtune_core.questions.qa_dataset import QADataset
from ragtune_core.timing import Component, Estimate, Meter, Timed, Work, learn_pace, machine_pace
from tests.fake_clock import StoppedClock
from tests.fake_pace import MEASURED_PACE as PACE


def assert_timed(timed: dict, expected: dict) -> None:
    assert set(timed) == set(expected)
    for component, (estimated, actual) in expected.items():
        assert (timed[component].estimated, timed[component].actual) == pytest.approx((estimated, actual))


def run_phases(estimate: Estimate, seconds: dict[str, float], start: float = 10.0, reports: int = 10) -> Meter:
    """A run of `estimate` on a stopped clock: its start, then each phase in `reports` even slices, taking
    `seconds[phase]`; then a pause after the last report (saving its results)."""
    clock = StoppedClock()
    meter = Meter(estimate, lambda done, total, message: None, clock)
    clock.spend(start)
    for phase, taken in seconds.items():
        for done in range(1, reports + 1):
            clock.spend(taken / reports)
            meter(phase, done, reports, f"{phase} {done}/{reports}")
    clock.spend(30.0)
    return meter


def test_a_meter_times_each_phase_its_start_included():
    estimate = (
        Estimate()
        .add("start", 10.0, Component.START)
        .add("encoding", 100.0, Component.ENCODING)
        .add("reranking", 50.0, Component.SCORING)
        .add("not governed", 5.0)
    )
    meter = run_phases(estimate, {"encoding": 150.0, "reranking": 40.0, "not governed": 5.0}, start=12.0)
    # The first report came after the start and a tenth of the encoding: that tenth is taken at the
    # encoding's own pace (15 s), the rest (12 s) was the start's. The pause after the end is no phase's.
    assert_timed(
        meter.timed(),
        {Component.START: (10.0, 12.0), Component.ENCODING: (100.0, 150.0), Component.SCORING: (50.0, 40.0)},
    )
    assert meter.timed()[Component.SCORING].ratio == pytest.approx(1.25)


def test_each_component_moves_halfway_towards_its_own_phases_and_the_others_stay(kept_pace):
    machine_pace()
    timed = {
        Component.ENCODING: Timed(100.0, 150.0),  # 1.5 times slower than estimated
        Component.TRAINING: Timed(360.0, 300.0),  # 1.2 times faster
        Component.START: Timed(4.0, 5.0),  # too short to tell
    }
    learn_pace(None, Work.EMBEDDING_TRAINING, timed)
    learned = machine_pace(None, Work.EMBEDDING_TRAINING)
    assert learned.forward_tokens_per_second == pytest.approx(1000.0 / 1.5**0.5)
    assert learned.train_tokens_per_second == pytest.approx(250.0 * 1.2**0.5)
    assert learned.train_step_seconds == pytest.approx(0.5 / 1.2**0.5)
    assert learned.start_seconds == 10.0
    assert learned.scoring_tokens_per_second == 1000.0  # no pair was scored: scoring keeps its pace


def test_an_evaluation_and_a_reranking_learn_separate_components(kept_pace, monkeypatch):
    """On this machine encoding runs 1.5 times slower than measured, scoring pairs 1.25 times faster: each
    estimate learns its own, where one forward pace shared by both misled each by the other's correction."""
    monkeypatch.setattr(evaluation_duration, "token_counter", lambda model, length: thousand_tokens_a_word)
    sets = [("qa", DATASET, "all")]

    def estimates() -> tuple[Estimate, Estimate]:
        return estimate_evaluation(sets, [None]), estimate_evaluation(sets, [None], ["reranker"], top_k=2)

    before_evaluation, before_reranking = estimates()
    assert before_evaluation.components == {START: Component.START, ENCODING: Component.ENCODING}
    assert before_reranking.components == {
        START: Component.START,
        FIRST_STAGE: Component.ENCODING,
        RERANKING: Component.SCORING,
    }
    encoding = 1.5 * before_evaluation.phases[ENCODING]  # what they really take
    scoring = before_reranking.phases[RERANKING] / 1.25

    learn_pace(None, Work.EVALUATION, run_phases(before_evaluation, {ENCODING: encoding}).timed())
    evaluation, reranking = estimates()
    assert evaluation.phases[ENCODING] == pytest.approx(before_evaluation.phases[ENCODING] * 1.5**0.5)
    assert reranking.phases[RERANKING] == before_reranking.phases[RERANKING]  # the evaluation taught scoring nothing

    learn_pace(None, Work.EVALUATION, run_phases(reranking, {FIRST_STAGE: encoding, RERANKING: scoring}).timed())
    evaluation, reranking = estimates()
    assert evaluation.phases[ENCODING] == pytest.approx(before_evaluation.phases[ENCODING] * 1.5**0.75)  # halfway again
    assert reranking.phases[RERANKING] == pytest.approx(before_reranking.phases[RERANKING] / 1.25**0.5)
    assert machine_pace(None, Work.EVALUATION).start_seconds == PACE.start_seconds  # 10 s as estimated


def test_an_older_pace_file_without_the_scoring_pace_still_loads(kept_pace):
    older = {k: v for k, v in {**PACE.__dict__}.items() if k != "pair_tokens_per_second"}
    kept_pace.write_text(json.dumps({"this machine": older, f"this machine|{Work.EVALUATION}": older}))
    kept = machine_pace(None, Work.EVALUATION)
    assert kept == PACE and kept.pair_tokens_per_second is None
    assert kept.scoring_seconds(1000.0) == kept.forward_seconds(1000.0)  # pairs at the forward pace measured
    learn_pace(None, Work.EVALUATION, {Component.SCORING: Timed(60.0, 30.0)})
    assert machine_pace(None, Work.EVALUATION).pair_tokens_per_second == pytest.approx(1000.0 * 2**0.5)


DATASET = QADataset(
    queries={"q1": "where is the river crossed", "q2": "when did the bridge open"},
    corpus={
        "p1": "the river is crossed by an old stone bridge north of the town",
        "p2": "the bridge opened in the spring after six years of work",
        "p3": "the market is held on the square every saturday morning",
    },
    relevant_docs={"q1": ["p1"], "q2": ["p2"]},
)


def thousand_tokens_a_word(texts) -> list[int]:
    """Token counts of a dataset the size of a minute's work (a real one would need a tokenizer)."""
    return [1000 * len(text.split()) for text in texts]
