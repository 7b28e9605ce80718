"""How long work takes here: the machine's measured pace (pace.py), estimates and progress in seconds (work.py)."""

from .pace import Component, Pace, Work, learn_pace, machine_pace, measure_pace
from .work import Estimate, Eta, Meter, Timed, clock, duration, eta_seconds, when

__all__ = [
    "Component",
    "Estimate",
    "Eta",
    "Meter",
    "Pace",
    "Timed",
    "Work",
    "clock",
    "duration",
    "eta_seconds",
    "learn_pace",
    "measure_pace",
    "machine_pace",
    "when",
]
