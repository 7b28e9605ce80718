"""How long work takes here: the machine's measured pace (pace.py), estimates and progress in seconds (work.py)."""

from .pace import Pace, Work, machine_pace, measure_pace
from .work import Estimate, Eta, Meter, clock, duration, eta_seconds, when

__all__ = [
    "Estimate",
    "Eta",
    "Meter",
    "Pace",
    "Work",
    "clock",
    "duration",
    "eta_seconds",
    "measure_pace",
    "machine_pace",
    "when",
]
