import json
import re
import time
from dataclasses import asdict
from types import SimpleNamespace

import pytest

from ragtune_core.cli import progress
from ragtune_core.jobs import JobKind, runner
from ragtune_core.jobs.runner import JobStatus, load_status, write_status
from ragtune_core.runs import JobState
from ragtune_core.timing import Component, Estimate, Eta, Meter, Timed, eta_seconds, pace
from ragtune_core.timing.pace import Work, machine_pace
from ragtune_core.timing.work import UNIT_SECONDS, clock, duration, padded_batch_tokens, when
from tests.fake_clock import StoppedClock
from tests.fake_pace import MEASURED_PACE

PACE = MEASURED_PACE


def test_a_meter_counts_each_phase_in_its_estimated_seconds_and_never_goes_back():
    reports = []
    meter = Meter(
        Estimate({"start": 10.0, "passages": 30.0, "validation": 20.0, "training": 40.0}),
        lambda done, total, message: reports.append((done, total, message)),
    )
    meter("passages", 1, 2, "half the passages")  # 10 s of start (never reported) and 15 s of passages of 100 s
    assert reports[-1] == (250, 1000, "half the passages")
    meter("passages", 2, 2, "the passages")
    meter("validation", 1, 4, "validation run at step 0")
    assert reports[-1][0] == 450
    meter("training", 10, 40, "step 10/40")  # validation runs and steps interleave: each counts its own share
    meter("validation", 2, 4, "validation run at step 10")
    assert reports[-1][0] == 600
    meter("passages", 0, 10, "a phase begun again does not move the bar back")
    assert reports[-1][0] == 600
    meter("not estimated", 5, 10, "adds nothing")
    assert reports[-1][0] == 600
    meter.finish("done")
    assert reports[-1] == (1000, 1000, "done")


def test_the_eta_is_the_pace_so_far_applied_to_the_work_left():
    assert eta_seconds(30.0, 0, 100) is None
    assert eta_seconds(30.0, 25, 100) == pytest.approx(90.0)  # a quarter of the work in 30 s: 90 s to go
    assert eta_seconds(30.0, 100, 100) == 0.0


def test_the_eta_leaves_out_a_slow_start_alike_in_the_cli_and_in_a_jobs_status(workspace, monkeypatch, capsys):
    """A start estimated at 5 s takes 11 s, then the training goes at its estimated pace: at 10% of the
    work (the start's 5 s and 5 of the training's 95 s) 90 s are really left, which both ETAs say."""
    fake = StoppedClock()
    fake.now = 1000.0
    monkeypatch.setattr(progress, "time", SimpleNamespace(monotonic=fake))
    monkeypatch.setattr(runner, "time", SimpleNamespace(time=fake))
    progress.command_started()
    status = JobStatus(run_id="run-eta", kind=JobKind.SLEEP, state=JobState.RUNNING, started=fake())
    status.eta.unit_seconds = UNIT_SECONDS  # as JobContext.count_in_estimated_seconds sets it
    printer, said = progress.EtaPrinter("train"), {}

    def report(done: int, total: int, message: str) -> None:
        printer(done, total, message)
        status.advance(done, total)
        said[done] = status.eta_seconds

    meter = Meter(Estimate({"start": 5.0, "training": 95.0}), report)
    fake.spend(11.0)
    for second in range(96):
        meter("training", second, 95, f"second {second}")
        fake.spend(1.0)

    assert eta_seconds(16.0, 100, 1000) == pytest.approx(144.0)  # the whole run's pace: 1.6 times too long
    assert said[100] == pytest.approx(90.0)
    assert all(said[50 + 10 * second] == pytest.approx(95 - second) for second in range(1, 96))
    # The first report has no pace of its own yet: the estimate's own time left, not the whole run's pace
    # (11 / 50 * 950 = 209 s, the start's 6 s late taken for the work's pace).
    assert said[50] == pytest.approx(95.0)
    assert re.search(r"^train: 10% · 16s elapsed · 1m 30s left · second 5$", capsys.readouterr().err, re.M)
    fake.now = 1016.0
    status.done = 100
    write_status(workspace, status)  # the worker writes it, a page reads it: the mark goes with it
    assert load_status(workspace, status.run_id).eta_seconds == pytest.approx(90.0)


def test_no_eta_before_any_work_and_the_whole_runs_pace_until_work_follows_the_first_report():
    eta = Eta()
    eta.report(5.0, 0)  # the start: no work done, no mark
    assert eta.seconds_left(5.0, 0, 100) is None and eta.mark_seconds is None
    eta.report(10.0, 20)
    eta.report(20.0, 60)
    assert eta.seconds_left(20.0, 60, 100) == pytest.approx(10.0)  # 40 in 10 s since the mark: 40 left
    assert eta.seconds_left(20.0, 20, 100) == pytest.approx(80.0)  # nothing since the mark: 20 in 20 s
    assert eta.seconds_left(30.0, 100, 100) == 0.0


def test_where_progress_counts_estimated_seconds_the_first_report_says_the_estimates_time_left():
    """A first QA training: at its first report, 17 s of its 174 s estimated done in 22 s, the start late."""
    eta = Eta(unit_seconds=UNIT_SECONDS)
    eta.report(22.0, 170)
    assert eta.seconds_left(22.0, 170, 1740) == pytest.approx(157.0)
    assert Eta().seconds_left(22.0, 170, 1740) == pytest.approx(22 / 170 * 1570)  # counted in other units
    eta.report(31.0, 270)
    assert eta.seconds_left(31.0, 270, 1740) == pytest.approx(9 / 100 * 1470)  # the work's pace since then


def test_an_eta_aims_at_the_expected_part_of_the_work_until_the_run_passes_it():
    """A training that may stop early is expected to do 0.75 of its work: at 10 of 100 units in 10 s, 65 s are
    expected left, not 90; once it passes 75 units, what is left of the whole."""
    eta = Eta(expected_share=0.75)
    assert eta.seconds_left(10.0, 10, 100) == pytest.approx(65.0)
    assert eta.seconds_left(80.0, 80, 100) == pytest.approx(20.0)
    assert Eta().seconds_left(10.0, 10, 100) == pytest.approx(90.0)


def test_durations_read_as_people_say_them():
    assert (duration(0.2), duration(42), duration(179), duration(4830)) == ("1 s", "42 s", "3 min", "1 h 20 min")
    assert (duration(89), duration(93), duration(594), duration(640)) == (
        "1 min 30 s",
        "1 min 30 s",
        "9 min 50 s",
        "11 min",
    )
    assert (clock(None), clock(42), clock(185)) == ("…", "42s", "3m 05s")
    assert Estimate({"start": 12.0, "training": 540.0}).describe() == "about 9 min 10 s (start 12 s, training 9 min)"


def test_a_moment_reads_as_local_date_and_time(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        assert when(1_700_000_000) == "2023-11-14 22:13"
        assert when(None) == when(0) == ""  # not started, not finished
    finally:
        monkeypatch.undo()
        time.tzset()


def test_a_training_batch_is_padded_to_its_longest_item():
    assert padded_batch_tokens([10] * 50, 8) == 80
    mixed = padded_batch_tokens([10] * 45 + [100] * 5, 8)
    assert 80 < mixed <= 800  # most batches of 8 hold one of the long items
    assert padded_batch_tokens([], 8) == 0.0


def test_the_pace_is_measured_once_per_machine_and_model_and_kept(tmp_path, monkeypatch):
    monkeypatch.setenv(pace.CACHE_ENV, str(tmp_path))
    measured = []
    monkeypatch.setattr(pace, "measure_pace", lambda model, imports=None: measured.append(model) or PACE)
    assert machine_pace() == PACE and machine_pace(None) == PACE
    assert measured == [None]
    kept = json.loads((tmp_path / pace.PACE_FILE).read_text())
    assert list(kept.values()) == [
        {
            "forward_tokens_per_second": 1000.0,
            "train_tokens_per_second": 250.0,
            "train_step_seconds": 0.5,
            "start_seconds": 10.0,
            "pair_tokens_per_second": None,  # until runs teach it, pairs are scored at the forward pace
            "steps_share": None,  # ... and trainings that may stop early expected to run the middle of their range
            "call_seconds": 0.01,
            "load_seconds": 1.0,
        }
    ]
    # A Hub model not on this machine (or a name loading will refuse) is estimated at the bundled model's pace.
    assert machine_pace("someone/not-downloaded") == PACE and measured == [None]


def test_a_pace_kept_before_a_calls_cost_was_measured_is_measured_anew_and_keeps_what_runs_taught(
    tmp_path, monkeypatch
):
    monkeypatch.setenv(pace.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(pace, "machine_key", lambda model: "this machine")
    older = {k: v for k, v in asdict(PACE).items() if k not in ("call_seconds", "load_seconds")}
    taught = {**older, "forward_tokens_per_second": 2000.0}
    (tmp_path / pace.PACE_FILE).write_text(json.dumps({"this machine": older, "this machine|evaluation": taught}))
    monkeypatch.setattr(pace, "measure_pace", lambda model, imports=None: PACE)
    learned = machine_pace()
    assert learned.forward_tokens_per_second == 2000.0  # what an evaluation taught stays
    assert (learned.call_seconds, learned.load_seconds) == (PACE.call_seconds, PACE.load_seconds)  # measured now
    assert machine_pace(work=Work.EMBEDDING_TRAINING) == PACE


def test_a_damaged_pace_file_is_measured_anew(tmp_path, monkeypatch):
    monkeypatch.setenv(pace.CACHE_ENV, str(tmp_path))
    (tmp_path / pace.PACE_FILE).write_text('{"key": {"forward_tokens_per_second": "fast"}')
    monkeypatch.setattr(pace, "measure_pace", lambda model, imports=None: PACE)
    assert machine_pace() == PACE
    assert len(json.loads((tmp_path / pace.PACE_FILE).read_text())) == 1


@pytest.mark.slow
def test_measuring_the_bundled_model_gives_a_plausible_pace():
    measured = pace.measure_pace(None)
    # all-MiniLM-L6-v2 on any CPU of the last decade: hundreds to hundreds of thousands of tokens a second
    assert 100 < measured.forward_tokens_per_second < 1e6
    assert measured.train_tokens_per_second < measured.forward_tokens_per_second  # backward costs more
    assert 0 < measured.train_step_seconds < 30 and 0 < measured.start_seconds < 120
    assert 100 < measured.pair_tokens_per_second < 1e6  # scoring pairs, in the precision cross-encoders score in


def test_a_pace_is_kept_apart_for_the_precision_this_machine_computes_in(monkeypatch):
    monkeypatch.setattr(pace, "cpu_bf16", lambda: False)
    full = pace.machine_key(None)
    monkeypatch.setattr(pace, "cpu_bf16", lambda: True)
    assert pace.machine_key(None) == full.replace("|cpu|", "|cpu|bf16|")


def test_a_finished_run_moves_the_kept_pace_halfway_towards_what_it_showed(tmp_path, monkeypatch):
    monkeypatch.setenv(pace.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(pace, "measure_pace", lambda model, imports=None: PACE)
    machine_pace()
    training = Work.EMBEDDING_TRAINING
    pace.learn_pace(None, training, {Component.TRAINING: Timed(400.0, 100.0)})  # ran 4x faster than estimated
    learned = machine_pace(None, training)
    assert learned.train_tokens_per_second == pytest.approx(500.0)  # halfway, geometrically: 2x
    assert learned.train_step_seconds == pytest.approx(0.25)
    assert (learned.forward_tokens_per_second, learned.start_seconds) == (1000.0, 10.0)  # not what it showed
    pace.learn_pace(None, training, {Component.TRAINING: Timed(10.0, 5.0)})  # too short to tell
    pace.learn_pace(None, training, {Component.TRAINING: Timed(1000.0, 100.0)})  # 10x off: a stall, not a pace
    assert machine_pace(None, training) == learned


def test_a_phase_said_to_be_long_that_ran_short_teaches_its_pace_back(tmp_path, monkeypatch):
    """A start that ran slow under load taught its pace; the same start run fast afterwards, below the bar
    of the time taken, must teach it back, or the estimate keeps the loaded run's start for good."""
    monkeypatch.setenv(pace.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(pace, "measure_pace", lambda model, imports=None: PACE)  # a 10-s start
    machine_pace()
    training = Work.QUESTION_ENCODER_TRAINING
    pace.learn_pace(None, training, {Component.START: Timed(10.0, 40.0)})  # under load: 4x slower
    assert machine_pace(None, training).start_seconds == pytest.approx(20.0)
    pace.learn_pace(None, training, {Component.START: Timed(20.0, 5.0)})  # alone again: 5 s, under the bar
    assert machine_pace(None, training).start_seconds == pytest.approx(10.0)
    steps = machine_pace(None, training).train_tokens_per_second
    pace.learn_pace(None, training, {Component.TRAINING: Timed(20.0, 5.0)})  # short steps: their batches' costs
    assert machine_pace(None, training).train_tokens_per_second == steps


def test_what_one_kind_of_work_teaches_leaves_the_others_at_their_own_pace(tmp_path, monkeypatch):
    """A cross-encoder training slower than its estimate must not slow down an embedding's estimate."""
    monkeypatch.setenv(pace.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(pace, "measure_pace", lambda model, imports=None: PACE)
    slower, faster = {Component.TRAINING: Timed(100.0, 400.0)}, {Component.TRAINING: Timed(400.0, 100.0)}
    pace.learn_pace(None, Work.CROSS_ENCODER_TRAINING, slower)
    pace.learn_pace(None, Work.EMBEDDING_TRAINING, faster)
    machine_pace()  # measured only now: nothing was learned before there was a measurement to correct
    assert machine_pace(None, Work.CROSS_ENCODER_TRAINING) == PACE
    pace.learn_pace(None, Work.CROSS_ENCODER_TRAINING, slower)
    assert machine_pace(None, Work.CROSS_ENCODER_TRAINING).train_tokens_per_second == pytest.approx(
        125.0
    )  # halfway: 2x slower
    assert machine_pace(None, Work.EMBEDDING_TRAINING) == machine_pace(None, Work.EVALUATION) == PACE


def test_a_reranker_starts_from_the_pace_a_router_cross_encoder_learnt_not_from_its_share(tmp_path, monkeypatch):
    """Their steps are alike; where each stops is not (a QA reranker stops early, a router's runs its steps out)."""
    monkeypatch.setenv(pace.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(pace, "measure_pace", lambda model, imports=None: PACE)
    machine_pace()
    pace.learn_pace(None, Work.CROSS_ENCODER_TRAINING, {Component.TRAINING: Timed(100.0, 400.0)}, steps_share=1.0)
    reranker = machine_pace(None, Work.RERANKER_TRAINING)
    assert reranker.train_tokens_per_second == pytest.approx(125.0) and reranker.steps_share is None
    pace.learn_pace(None, Work.RERANKER_TRAINING, {}, steps_share=0.7)
    assert machine_pace(None, Work.RERANKER_TRAINING).steps_share == 0.7
    assert machine_pace(None, Work.RERANKER_TRAINING).train_tokens_per_second == pytest.approx(125.0)
    assert machine_pace(None, Work.CROSS_ENCODER_TRAINING).steps_share == 1.0


def test_each_trainings_settings_keep_a_pace_and_share_of_their_own(tmp_path, monkeypatch):
    """The router's embedding (batch 16) and the seeds' recipe (batch 10) pulled one pace each their way;
    a training with settings not run yet starts from what every setting taught, not from their share."""
    monkeypatch.setenv(pace.CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(pace, "measure_pace", lambda model, imports=None: PACE)
    machine_pace()
    faster, slower = {Component.TRAINING: Timed(400.0, 100.0)}, {Component.TRAINING: Timed(100.0, 400.0)}
    pace.learn_pace(None, Work.EMBEDDING_TRAINING, faster, steps_share=0.5, settings="batch=16")
    pace.learn_pace(None, Work.EMBEDDING_TRAINING, slower, steps_share=1.0, settings="batch=10")
    by_16, by_10 = (machine_pace(None, Work.EMBEDDING_TRAINING, f"batch={batch}") for batch in (16, 10))
    # Halfway 2x faster, and not moved by the batch-10 run after it.
    assert by_16.train_tokens_per_second == pytest.approx(500.0) and by_16.steps_share == 0.5
    # Batch 10 started from what every setting had taught (500), then halfway 2x slower.
    assert by_10.train_tokens_per_second == pytest.approx(250.0) and by_10.steps_share == 1.0
    new = machine_pace(None, Work.EMBEDDING_TRAINING, "batch=32")
    assert new.train_tokens_per_second == pytest.approx(250.0) and new.steps_share is None
