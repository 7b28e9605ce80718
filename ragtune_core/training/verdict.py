"""Whether a trained model is worth keeping, said where its training ends: a model no better than
what it started from, or a reranker worse than its embedder alone (which is also faster), is not
a success to announce in green. The sentence is kept as a training run's `verdict`
(jobs.results.TrainingRunResult), where the job panel reads it."""

from __future__ import annotations

from .fit import TrainResult


def worse_than_start(result: TrainResult) -> str | None:
    """A sentence when the kept model does not beat what it started from; None when it does."""
    metric = result.primary_metric
    after = result.metrics_after.get(metric)
    embedder = result.metrics_embedder.get(metric)
    if after is None:
        return None
    if embedder is not None and after < embedder:
        return (
            f"Worse than the embedder it reranks: validation {metric} {after:.3f} against {embedder:.3f} for the "
            "embedder alone, which is also faster. Keep the embedder, or train longer on more data."
        )
    before = result.metrics_before.get(metric)
    if before is not None and (after <= before or result.best_step == 0):
        return (
            f"No better than the model it started from: validation {metric} {after:.3f} against {before:.3f}. "
            "Keep the starting model, or train on more data."
        )
    return None
