"""Estimates in seconds, and progress measured in them.

An `Estimate` is the seconds each phase of a run should take on this machine (pace.py), in the
order they run, and the component of the pace that governs each. A `Meter` reports a run's progress
in those seconds: a phase half done has done half its estimated seconds, whatever its own unit (texts
encoded, optimizer steps). So the bar moves at the pace of time, never backwards, and the ETA (time
over work done, times the work left; `Eta` leaves out the run's start) is right from the first phase
on, even where phases differ a hundredfold in cost. The Meter also times each phase (`PhaseTimes`),
so that each component of the pace learns from its own phases (pace.learn_pace).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .pace import Component

SCALE = 10  # progress units a second of estimated work: tenths, so short phases still move the bar
UNIT_SECONDS = 1 / SCALE  # estimated seconds a unit of a Meter's progress stands for (Eta.unit_seconds)
PADDING_SAMPLES = 64  # random batches drawn to measure a training batch's padding


@dataclass
class Estimate:
    """Seconds a run's phases should take, in the order they run."""

    phases: dict[str, float] = field(default_factory=dict)
    components: dict[str, Component] = field(default_factory=dict)  # what governs each phase; none: it teaches nothing

    @property
    def seconds(self) -> float:
        return sum(self.phases.values())

    def add(self, phase: str, seconds: float, component: Component | None = None) -> Estimate:
        self.phases[phase] = self.phases.get(phase, 0.0) + max(0.0, seconds)
        if component is not None:
            self.components[phase] = component
        return self

    def describe(self, expected: float | None = None) -> str:
        """ "about 14 min (start 12 s, training 9 min, ...)"; with `expected`, the seconds a run that may end
        early should take, "about 10 min, at most 14 min if it runs to the end (...)": the parts add up to
        the most."""
        parts = ", ".join(f"{phase} {duration(seconds)}" for phase, seconds in self.phases.items() if seconds >= 0.5)
        said = f"about {duration(self.seconds)}"
        if expected is not None and duration(expected) != duration(self.seconds):
            said = f"about {duration(expected)}, at most {duration(self.seconds)} if it runs to the end"
        return said + (f" ({parts})" if parts else "")


def eta_seconds(elapsed: float, done: float, total: float) -> float | None:
    """Seconds left at the pace so far (None before any work is done). With progress in estimated
    seconds of work (Meter), the pace is how much faster or slower this run goes than estimated."""
    if done <= 0 or total <= 0:
        return None
    return elapsed / done * max(0.0, total - done)


@dataclass
class Eta:
    """A run's time left at the pace of its work since its first progress report with work done, what
    the CLI and a job's status both show. Before that report the run started: it loaded libraries and a
    model, a cost paid once and the least sure part of an estimate (11 s against 5 s estimated in one
    run), which timed with the work made a router training's ETA at 10% 2.6 times the time really left.
    Until work has been done since that report: where progress counts estimated seconds (`unit_seconds`,
    a Meter's), the estimate's own time left, since the start's error says nothing of the work's pace (a
    first QA training's start took 22 s against 17 s estimated, and the whole run's pace then said 208 s
    left for 113); else the pace of the whole run."""

    mark_seconds: float | None = None  # the run's elapsed seconds at its first report with work done
    mark_done: int = 0  # ... and its work done then
    # Of its total work, what the run is expected to do: a training that may stop early is expected to stop
    # between its earliest stop and its last step (training.duration.expected_share). The ETA aims there
    # until the run passes it, then at the whole.
    expected_share: float = 1.0
    unit_seconds: float | None = None  # estimated seconds a unit of progress stands for (Meter: 1 / SCALE)

    def report(self, elapsed: float, done: int) -> None:
        """Note a progress report: the run's first with work done marks where its pace is measured from."""
        if self.mark_seconds is None and done > 0:
            self.mark_seconds, self.mark_done = elapsed, done

    def seconds_left(self, elapsed: float, done: int, total: int) -> float | None:
        """None before any work is done, 0 once all of it is."""
        expected = total * self.expected_share
        aim = expected if done < expected else total
        if self.mark_seconds is not None and done > self.mark_done and elapsed > self.mark_seconds:
            return eta_seconds(elapsed - self.mark_seconds, done - self.mark_done, aim - self.mark_done)
        if self.unit_seconds is not None and done > 0:
            return max(0.0, aim - done) * self.unit_seconds
        return eta_seconds(elapsed, done, aim)


def clock(seconds: float | None) -> str:
    """Elapsed or remaining time on a clock: "3m 05s", "42s" ("…" when not known yet)."""
    if seconds is None:
        return "…"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def duration(seconds: float) -> str:
    """Seconds as people say them: "40 s", "1 min 30 s", "3 min", "1 h 20 min". Under 10 min to the 10 s:
    whole minutes there read 89 s as "1 min" and 93 s as "2 min", and phases that do not add up to their total."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    if seconds < 600:
        minutes, rest = divmod(round(seconds / 10) * 10, 60)
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def when(timestamp: float | None) -> str:
    """A moment in this machine's local time, to the minute: "2025-03-14 09:26" ("" when there is none)."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else ""


class Meter:
    """Reports a run's progress as `report(done, total, message)` in estimated work (SCALE units a
    second): `meter(phase, done, total, message)` says how much of the phase is done. Each phase counts
    its own share of its estimated seconds, so phases may interleave (a training's validation runs
    between its steps); a phase never reported counts as done once a later one is (the run's start, a
    phase the run skipped). Progress never goes back, and a phase the estimate does not know adds nothing.
    `clock` (the run's seconds so far; default: since the Meter was made) times each phase (PhaseTimes)."""

    def __init__(
        self,
        estimate: Estimate,
        report: Callable[[int, int, str], None],
        clock: Callable[[], float] | None = None,
    ):
        self.estimate, self._report = estimate, report
        self._times = PhaseTimes(estimate, clock or _seconds_since(time.monotonic()))
        self._total = max(1, round(estimate.seconds * SCALE))
        self._shares: dict[str, float] = {}  # of each phase reported or counted done
        self._done = 0

    def __call__(self, phase: str, done: float, total: float, message: str) -> None:
        if phase in self.estimate.phases:
            skipped = [before for before in self._phases_before(phase) if before not in self._shares]
            self._shares.update(dict.fromkeys(skipped, 1.0))
            previous, share = self._shares.get(phase, 0.0), min(1.0, done / total) if total else 1.0
            self._shares[phase] = max(previous, share)
            self._times.report(phase, self.estimate.phases[phase] * (self._shares[phase] - previous), skipped)
        else:
            self._times.report(None, 0.0, [])
        work = sum(self.estimate.phases[phase] * share for phase, share in self._shares.items())
        self._done = max(self._done, min(self._total, round(work * SCALE)))
        if all(self._shares.get(phase) == 1.0 for phase in self.estimate.phases):  # even an estimate of 0 s
            self._done = self._total
        self._report(self._done, self._total, message)

    def _phases_before(self, phase: str) -> list[str]:
        phases = list(self.estimate.phases)
        return phases[: phases.index(phase)]

    def timed(self) -> dict[Component, Timed]:
        """The estimated and actual seconds of the work each component of the pace governed so far."""
        return self._times.by_component()

    def timed_phases(self) -> dict[str, Timed]:
        """The estimated and actual seconds of each phase so far."""
        return self._times.by_phase()

    def finish(self, message: str) -> None:
        self._done = self._total
        self._report(self._done, self._total, message)


@dataclass
class Timed:
    """Seconds of work as estimated, and as it really took."""

    estimated: float = 0.0
    actual: float = 0.0

    @property
    def ratio(self) -> float:
        """Estimated over actual: above 1, the work ran faster than estimated (0 when nothing was timed)."""
        return self.estimated / self.actual if self.actual > 0 else 0.0

    def add(self, estimated: float, actual: float) -> None:
        self.estimated, self.actual = self.estimated + estimated, self.actual + actual


class PhaseTimes:
    """The actual seconds of each phase of an estimate, from its Meter's reports on `clock`: the time
    since the previous report (the run's start, at 0, for the first) went to the phase reported, with
    the work that report added. Where the report counted earlier phases done without a report of their
    own (the start), that time holds theirs and a first slice of the phase reported: the slice is
    taken at the phase's own measured pace, the rest is theirs. What ran after the last report (saving
    a model) and phases the estimate does not know are timed for nothing."""

    def __init__(self, estimate: Estimate, clock: Callable[[], float]):
        self.estimate, self._clock, self._last = estimate, clock, 0.0
        self._phases: dict[str, Timed] = {}
        self._shared: list[tuple[list[str], str, float, float]] = []  # (skipped phases, phase, its work, seconds)

    def report(self, phase: str | None, work: float, skipped: list[str]) -> None:
        """`phase` (None: one not estimated) did `work` estimated seconds since the previous report,
        after `skipped`, counted done now without a report of their own."""
        now = self._clock()
        seconds, self._last = max(0.0, now - self._last), now
        if phase is None:
            return
        if skipped:
            self._shared.append((skipped, phase, work, seconds))
        else:
            self._phases.setdefault(phase, Timed()).add(work, seconds)

    def by_phase(self) -> dict[str, Timed]:
        timed = {phase: Timed(t.estimated, t.actual) for phase, t in self._phases.items()}
        for skipped, phase, work, seconds in self._shared:
            pace = self._phases.get(phase, Timed()).ratio or 1.0  # the phase's own, else as estimated
            own = min(seconds, work / pace)
            timed.setdefault(phase, Timed()).add(work, own)
            weights = [self.estimate.phases[before] for before in skipped]
            for before, weight in zip(skipped, weights, strict=True):
                share = weight / sum(weights) if sum(weights) else 1 / len(skipped)
                timed.setdefault(before, Timed()).add(weight, (seconds - own) * share)
        return timed

    def by_component(self) -> dict[Component, Timed]:
        """by_phase summed over the phases each component governs (Estimate.components)."""
        timed: dict[Component, Timed] = {}
        for phase, seconds in self.by_phase().items():
            if phase in self.estimate.components:
                timed.setdefault(self.estimate.components[phase], Timed()).add(seconds.estimated, seconds.actual)
        return timed


def _seconds_since(start: float) -> Callable[[], float]:
    return lambda: time.monotonic() - start


# --- tokens ------------------------------------------------------------------------------------
def token_lengths(tokenizer, texts: Sequence[str], max_length: int) -> list[int]:
    """Tokens each text takes in a model reading at most `max_length` (special tokens included)."""
    if not texts:
        return []
    encoded = tokenizer(list(texts), truncation=True, max_length=max_length, add_special_tokens=True)
    return [len(ids) for ids in encoded["input_ids"]]


def padded_batch_tokens(lengths: Sequence[int], batch: int, seed: int = 0) -> float:
    """Tokens a training batch of `batch` random items reads, padded to its longest item (the mean
    over PADDING_SAMPLES batches drawn from `lengths`)."""
    if not lengths:
        return 0.0
    rng = random.Random(seed)
    size = min(batch, len(lengths))
    return sum(size * max(rng.sample(list(lengths), size)) for _ in range(PADDING_SAMPLES)) / PADDING_SAMPLES


def sorted_batch_tokens(lengths: Sequence[int]) -> float:
    """Tokens an encoding pass reads: sentence-transformers sorts texts by length before batching,
    so padding adds little to the texts' own tokens."""
    return float(sum(lengths))
