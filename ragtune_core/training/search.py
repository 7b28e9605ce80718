"""Hyperparameter search: trainings with sampled settings within a time budget, the best one kept.

Optuna's TPE sampler picks each trial's learning rate, epochs and warm-up around the config's own
(the first trial is the config itself, so a search never ends worse than the plain training on the
validation metric), and a median pruner stops a trial whose validation runs trail the finished
trials' at the same point. Every trial is a whole RAGTune training (best evaluation kept, early
stopping, events tagged with the trial's number) in a hidden folder; the best trial's model is
published as the output and the others removed, so a failed or cancelled search leaves nothing.

Optuna drives RAGTune's own training rather than `Trainer.hyperparameter_search`: that one rebuilds
the model from a `model_init` per trial and knows nothing of the evaluation kept, early stopping or
the atomic publish every training here goes through.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Annotated

from ..questions.qa_dataset import QADataset
from ..runs import EventKind
from ..store.shapes import limit, settings
from ..store.staging import publish_folder, staged
from .config import TrainConfig, TrainingError
from .fit import OnEvent, TrainResult, append_to_model_card, primary_metric
from .stopping import stop_requested

LEARNING_RATE_SPAN = 4.0  # trials try from a quarter to four times the config's learning rate
PRUNE_AFTER_EVALS = 3  # validation runs a trial always gets before it may be stopped as trailing


@settings(TrainingError)
class SearchSettings:
    SETTINGS_NAME = "search settings"

    minutes: Annotated[float, limit("time budget of the search: no trial starts after it", 0.1, 24 * 60)] = 10.0
    max_trials: Annotated[int, limit("trainings at most, the first one with the settings as given", 2, 100)] = 8


def search_and_train(
    search: SearchSettings,
    train: Callable[..., TrainResult],
    config: TrainConfig,
    default_epochs: int,
    dataset: QADataset,
    output_dir: Path,
    on_event: OnEvent | None = None,
    model_card_name: str | None = None,
) -> TrainResult:
    """Run `train(config, dataset, folder, on_event, model_card_name=...)` with sampled settings until
    `search.minutes` have passed or `search.max_trials` trainings ran; publish the best trial's model as
    `output_dir` and return its result, with every trial in `trials`.

    Events: each training's own, their data tagged with "trial"; "search" {minutes, max_trials, metric}
    first; "trial" {number, state, value, params, seconds, best_step, steps} after each trial.
    A stop request (training.stopping) ends the trial in progress, its best model kept, and starts no other.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    emit = on_event or (lambda event, data: None)
    metric = primary_metric(dataset)
    emit(EventKind.SEARCH, {"minutes": search.minutes, "max_trials": search.max_trials, "metric": metric})
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=config.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=PRUNE_AFTER_EVALS),
    )
    study.enqueue_trial(
        {"learning_rate": config.learning_rate, "epochs": default_epochs, "warmup_ratio": config.warmup_ratio}
    )
    results: dict[int, TrainResult] = {}

    def objective(trial) -> float:
        settings = _sample(trial, config, default_epochs)
        started, evals = time.perf_counter(), 0

        def forward(event: str, data: dict) -> None:
            nonlocal evals
            emit(event, {**data, "trial": trial.number})
            if event == EventKind.EVAL and data["step"] > 0:
                evals += 1
                trial.report(data["metrics"].get(metric, -math.inf), evals)
                if trial.should_prune():
                    _trial_event(emit, trial.number, "pruned", None, settings, started)
                    raise optuna.TrialPruned()

        result = train(
            replace(config, **settings),
            dataset,
            work / f"trial-{trial.number}",
            forward,
            model_card_name=model_card_name,
        )
        results[trial.number] = result
        value = result.metrics_after.get(metric, -math.inf)
        _trial_event(emit, trial.number, "complete", value, settings, started, result)
        return value

    with staged(output_dir) as work:
        study.optimize(objective, n_trials=search.max_trials, timeout=search.minutes * 60, callbacks=[_stop_if_asked])
        best = study.best_trial.number  # the first of equals: the plain training when nothing beat it
        folder = work / f"trial-{best}"
        _note_search_on_model_card(folder, study, best, metric)
        publish_folder(folder, output_dir)
    return replace(results[best], output_dir=output_dir, trials=_trial_rows(study), stopped_by_user=stop_requested())


def _stop_if_asked(study, trial) -> None:
    """After each trial: no other starts once the user asked to stop."""
    if stop_requested():
        study.stop()


def _sample(trial, config: TrainConfig, default_epochs: int) -> dict:
    rate = config.learning_rate
    return {
        "learning_rate": trial.suggest_float(
            "learning_rate", rate / LEARNING_RATE_SPAN, rate * LEARNING_RATE_SPAN, log=True
        ),
        "epochs": trial.suggest_int("epochs", max(1, math.ceil(default_epochs / 2)), min(100, default_epochs * 2)),
        "warmup_ratio": trial.suggest_float("warmup_ratio", 0.0, 0.2),
    }


def _trial_event(
    emit: OnEvent,
    number: int,
    state: str,
    value: float | None,
    settings: dict,
    started: float,
    result: TrainResult | None = None,
) -> None:
    emit(
        EventKind.TRIAL,
        {
            "number": number,
            "state": state,
            "value": value,
            "params": settings,
            "seconds": round(time.perf_counter() - started, 1),
            "best_step": result.best_step if result else None,
            "steps": result.steps if result else None,
        },
    )


def _trial_rows(study) -> list[dict]:
    return [
        {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": t.value,
            "params": t.params,
            "seconds": t.duration.total_seconds() if t.duration else None,
        }
        for t in study.trials
    ]


def _note_search_on_model_card(model_dir: Path, study, best: int, metric: str) -> None:
    """Say in the model card which trial won, beside the note on its own training."""
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    settings = ", ".join(f"{k} {v:.3g}" for k, v in study.trials[best].params.items())
    stopped = "; the search was stopped by the user" if stop_requested() else ""
    note = (
        f"- Hyperparameter search: trial {best} of {len(study.trials)} ({len(done)} complete, the rest stopped as "
        f"trailing), by validation {metric}; its settings: {settings}{stopped}.\n"
    )
    append_to_model_card(model_dir, note)
