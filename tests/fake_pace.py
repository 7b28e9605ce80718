"""A pace as a probe might measure it, for estimates made without a model (the kept_pace fixture keeps it)."""

from ragtune_core.timing.pace import Pace

MEASURED_PACE = Pace(
    forward_tokens_per_second=1000.0,
    train_tokens_per_second=250.0,
    train_step_seconds=0.5,
    start_seconds=10.0,
    call_seconds=0.01,
    load_seconds=1.0,
)
