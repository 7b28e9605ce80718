"""Estimates in seconds, and progress measured in them.

An `Estimate` is the seconds each phase of a run should take on this machine (pace.py), in the
order they run. A `Meter` reports a run's progress in those seconds: a phase half done has done
half its estimated seconds, whatever its own unit (texts encoded, optimizer steps). So the bar
moves at the pace of time, never backwards, and the ETA (time over work done, times the work left;
`Eta` leaves out the run's start) is right from the first phase on, even where phases differ a
hundredfold in cost.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

SCALE = 10  # progress units a second of estimated work: tenths, so short phases still move the bar
PADDING_SAMPLES = 64  # random batches drawn to measure a training batch's padding


@dataclass
class Estimate:
    """Seconds a run's phases should take, in the order they run."""

    phases: dict[str, float] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(self.phases.values())

    def add(self, phase: str, seconds: float) -> Estimate:
        self.phases[phase] = self.phases.get(phase, 0.0) + max(0.0, seconds)
        return self

    def describe(self) -> str:
        """ "about 14 min (start 12 s, training 9 min, ...)"."""
        parts = ", ".join(f"{phase} {duration(seconds)}" for phase, seconds in self.phases.items() if seconds >= 0.5)
        return f"about {duration(self.seconds)}" + (f" ({parts})" if parts else "")


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
    Until work has been done since that report, the pace of the whole run."""

    mark_seconds: float | None = None  # the run's elapsed seconds at its first report with work done
    mark_done: int = 0  # ... and its work done then

    def report(self, elapsed: float, done: int) -> None:
        """Note a progress report: the run's first with work done marks where its pace is measured from."""
        if self.mark_seconds is None and done > 0:
            self.mark_seconds, self.mark_done = elapsed, done

    def seconds_left(self, elapsed: float, done: int, total: int) -> float | None:
        """None before any work is done, 0 once all of it is."""
        if self.mark_seconds is not None and done > self.mark_done and elapsed > self.mark_seconds:
            return eta_seconds(elapsed - self.mark_seconds, done - self.mark_done, total - self.mark_done)
        return eta_seconds(elapsed, done, total)


def clock(seconds: float | None) -> str:
    """Elapsed or remaining time on a clock: "3m 05s", "42s" ("…" when not known yet)."""
    if seconds is None:
        return "…"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def duration(seconds: float) -> str:
    """Seconds as people say them: "40 s", "3 min", "1 h 20 min"."""
    if seconds < 60:
        return f"{max(1, round(seconds))} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def when(timestamp: float | None) -> str:
    """A moment in this machine's local time, to the minute: "2025-03-14 09:26" ("" when there is none)."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else ""


class Meter:
    """Reports a run's progress as `report(done, total, message)` in estimated work (SCALE units a
    second): `meter(phase, done, total, message)` places the phase's own progress after the phases
    before it. Progress never goes back, and a phase the estimate does not know adds nothing."""

    def __init__(self, estimate: Estimate, report: Callable[[int, int, str], None]):
        self.estimate, self._report = estimate, report
        self._starts = dict(zip(estimate.phases, _cumulative(estimate.phases.values()), strict=True))
        self._total = max(1, round(estimate.seconds * SCALE))
        self._done = 0

    def __call__(self, phase: str, done: float, total: float, message: str) -> None:
        within = self.estimate.phases.get(phase, 0.0) * (min(1.0, done / total) if total else 1.0)
        self._done = max(self._done, min(self._total, round((self._starts.get(phase, 0.0) + within) * SCALE)))
        self._report(self._done, self._total, message)

    @property
    def done_seconds(self) -> float:
        """The estimated seconds of the work done so far: a run that stopped early did less than all."""
        return self._done / SCALE

    def finish(self, message: str) -> None:
        self._done = self._total
        self._report(self._done, self._total, message)


def _cumulative(values: Iterable[float]) -> list[float]:
    starts, total = [], 0.0
    for value in values:
        starts.append(total)
        total += value
    return starts


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
