"""`train` (fine-tune an embedding model), `runs`, `cancel`, `stop` and `models`."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict, fields

from .. import jobs
from ..evaluation.blend import Blend
from ..jobs import JobKind
from ..questions.drafts import DraftResult
from ..runs import EventKind
from ..store import Workspace
from ..store.shapes import limits_of
from ..training import EmbeddingTrainConfig, SearchSettings, devices, preflight, train_and_register
from ..training.config import Config, TrainConfig, TrainingError
from ..training.duration import TrainingMeter, estimate_training
from ..training.fit import how_it_stopped
from ..training.register import check_devices
from ..training.stopping import stop_on_first_interrupt
from .progress import EtaPrinter, command_seconds

GENERATION_KINDS = (JobKind.GENERATE_QUESTIONS, JobKind.GENERATE_ROUTER_QUESTIONS)

OPTION_ALIASES = {"learning_rate": "--lr"}


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="fine-tune an embedding model on a dataset's train questions")
    train.add_argument("dataset", metavar="DATASET", help="dataset id or name (it must have a train/validation split)")
    train.add_argument("--name", required=True, help="name of the new model")
    train.add_argument("--base-model", help="Hub id (hf:owner/name) or folder (default: the bundled all-MiniLM-L6-v2)")
    add_config_options(train, EmbeddingTrainConfig)
    add_search_options(train)
    train.add_argument("--background", action="store_true", help="start a background job and print its run id")
    train.set_defaults(handler=run_train)

    runs = subparsers.add_parser("runs", help="list the runs (background jobs) and their state")
    runs.add_argument("--kind", help="only runs of this kind, e.g. train_embedding")
    runs.set_defaults(handler=list_runs)

    cancel = subparsers.add_parser("cancel", help="stop a running job")
    cancel.add_argument("run_id", metavar="RUN_ID")
    cancel.set_defaults(handler=cancel_run)

    stop = subparsers.add_parser(
        "stop",
        help="stop a running training after its current step and keep its best "
        "model so far, registered (cancel keeps nothing)",
    )
    stop.add_argument("run_id", metavar="RUN_ID")
    stop.set_defaults(handler=stop_run)

    models = subparsers.add_parser("models", help="list the fine-tuned models")
    models.set_defaults(handler=list_models)


def add_config_options(parser: argparse.ArgumentParser, config_class: type[TrainConfig]) -> None:
    """An option per numeric setting of `config_class`, its type, limits, help and default read
    from the setting's schema (see store.shapes.limit)."""
    for name, limits in numeric_settings(config_class).items():
        default = getattr(config_class(), name)
        default = limits.none_means if default is None else default
        names = [f"--{name.replace('_', '-')}", *([OPTION_ALIASES[name]] if name in OPTION_ALIASES else [])]
        parser.add_argument(
            *names,
            dest=name,
            type=int if limits.whole else float,
            default=None,
            help=f"{limits.help}, {limits.range} (default: {default})",
        )


def numeric_settings(config_class: type) -> dict:
    """{name: Limits} of the settings of `config_class` that have a range."""
    return {
        f.name: limits_of(config_class, f.name) for f in fields(config_class) if limits_of(config_class, f.name).range
    }


def add_search_options(parser: argparse.ArgumentParser) -> None:
    """--search-minutes and --search-trials: a hyperparameter search instead of one training."""
    for f in fields(SearchSettings):
        limits = limits_of(SearchSettings, f.name)
        parser.add_argument(
            f"--search-{f.name.replace('max_', '').replace('_', '-')}",
            dest=f"search_{f.name}",
            type=int if limits.whole else float,
            default=None,
            metavar=f.name.upper(),
            help=f"hyperparameter search (Optuna), {limits.help}, {limits.range} "
            f"(default: {f.default} once either search option is given)",
        )


def search_from_options(args: argparse.Namespace) -> SearchSettings | None:
    """The search the options ask for, or None when neither was given."""
    given = {
        f.name: getattr(args, f"search_{f.name}")
        for f in fields(SearchSettings)
        if getattr(args, f"search_{f.name}", None) is not None
    }
    if not given:
        return None
    try:
        return SearchSettings(**given)
    except TrainingError as exc:
        raise TrainingError(f"hyperparameter search: {exc}") from None


def config_from_options(config_class: type[Config], args: argparse.Namespace, **settings) -> Config:
    """The config from the options add_config_options made (those not given keep their defaults) and `settings`."""
    given = {
        name: getattr(args, name) for name in numeric_settings(config_class) if getattr(args, name, None) is not None
    }
    # `--lr 5e-5` means it for any dataset: a QA question encoder's own rate too, even where it equals a default.
    for general, own in getattr(config_class, "QUERY_SIDE", {}).items():
        if general in given:
            given.setdefault(own, given[general])
    return config_class(**given, **settings)


def run_train(args: argparse.Namespace, ws: Workspace) -> dict:
    config = config_from_options(EmbeddingTrainConfig, args, base_model=args.base_model)
    return train_or_start(ws, args, JobKind.TRAIN_EMBEDDING, config)


def train_or_start(ws: Workspace, args: argparse.Namespace, job_kind: JobKind, config: TrainConfig) -> dict | None:
    """Train in this process (events on stderr; a first Ctrl-C stops it and keeps the best model so far,
    a second aborts), or with --background start the worker job `job_kind`, which makes the same
    train_and_register call, and return its run id. Under torchrun or accelerate launch, a rank other
    than 0 trains beside rank 0 and says nothing (None): rank 0 checks, reports and registers."""
    record = ws.resolve("datasets", args.dataset)
    search = search_from_options(args)
    check_devices(search)
    if args.background and devices.world_size() > 1:
        raise TrainingError(
            "--background starts a worker process of its own: run torchrun or accelerate launch without it"
        )
    if not devices.is_main_process():
        train_and_register(ws, record.id, args.name, config, search=search)
        return None
    name, dataset = preflight(ws, record.id, args.name, config)
    plan = estimate_training(dataset, config, search)
    estimated = {"estimated_seconds": round(plan.expected_seconds, 1)}
    print(f"estimated: {plan.describe()}", file=sys.stderr, flush=True)
    if not args.background:
        meter = TrainingMeter(plan, EtaPrinter("train", plan.expected_part), _StderrReporter(), command_seconds)
        with stop_on_first_interrupt(args.command):
            result = train_and_register(ws, record.id, name, config, on_event=meter, search=search)
        meter.learn()
        if result.get("blend"):  # a cross-encoder's: how it orders, as the Fine-tune page says
            print(f"kept blend: {Blend(**result['blend']).describe()}", file=sys.stderr, flush=True)
        return {**result, **estimated, "seconds": round(command_seconds(), 1)}
    params = jobs.training_job_params(record.id, name, config, search)
    status = jobs.start_job(ws, job_kind, params, name=name, dataset_id=record.id)
    return {"run_id": status.run_id, "state": status.state, "model_name": name, **estimated}


def list_runs(args: argparse.Namespace, ws: Workspace) -> dict:
    rows = []
    for run in ws.list_runs(args.kind):
        # The job's status file knows better than the catalogue whether its worker is still alive.
        state = jobs.read_status(ws, run.id).state if jobs.status_path(ws, run.id).exists() else run.state
        rows.append(
            {
                "id": run.id,
                "name": run.name,
                "kind": run.kind,
                "state": state,
                "created": run.created,
                "finished": run.finished,
                "dataset_id": run.dataset_id,
                **_llm_use(run),
            }
        )
        if "estimate" not in rows[-1]:  # a run that did not succeed: its estimate event, when it had one
            estimate = next((e for e in jobs.read_events(ws, run.id) if e.get("event") == EventKind.ESTIMATE), None)
            if estimate:
                rows[-1]["estimate"] = {k: v for k, v in estimate.items() if k not in ("event", "time")}
    return {"runs": rows}


def _llm_use(run) -> dict:
    """What a generation run's LLM calls were estimated to use before it ran, and what they used."""
    result = DraftResult.of_run(run) if run.kind in GENERATION_KINDS else None
    if result is None:
        return {}
    return {
        "usage": asdict(result.usage),
        **({"estimate": asdict(result.estimate)} if result.estimate is not None else {}),
        **({"cost_usd": result.cost_usd} if result.cost_usd is not None else {}),
    }


def cancel_run(args: argparse.Namespace, ws: Workspace) -> dict:
    ws.get_run(args.run_id)  # an unknown id is an error naming it
    status = jobs.cancel_job(ws, args.run_id)
    return {"run_id": status.run_id, "state": status.state}


def stop_run(args: argparse.Namespace, ws: Workspace) -> dict:
    status = jobs.request_stop(ws, args.run_id)
    return {"run_id": status.run_id, "state": status.state, "stop_requested": True}


def list_models(args: argparse.Namespace, ws: Workspace) -> dict:
    return {
        "models": [
            {
                "id": m.id,
                "name": m.name,
                "kind": m.kind,
                "path": m.path,
                "base_model": m.base_model,
                "run_id": m.run_id,
                "created": m.created,
                "metrics": m.metrics,
            }
            for m in ws.list_models()
        ]
    }


class _StderrReporter:
    """Training events on stderr (stdout carries only the JSON summary): the schedule, every eval, the
    model kept and each trial of a search; progress is TrainingMeter's."""

    def __call__(self, event: str, data: dict) -> None:
        if event == EventKind.EVAL:
            shown = ", ".join(
                f"{k} {data['metrics'][k]:.4f}"
                for k in ("accuracy@1", "ndcg@10", "mrr@10", "accuracy@5")
                if k in data["metrics"]
            )
            print(f"eval at step {data['step']}: {shown}", file=sys.stderr, flush=True)
        elif event == EventKind.SCHEDULE:
            print(
                f"schedule: {data['reason']}, validation every {data['eval_steps']} steps", file=sys.stderr, flush=True
            )
        elif event == EventKind.BEST:
            stopped = how_it_stopped(data)
            print(
                f"kept step {data['step']}: {data['metric']} {data['value']:.4f}{f' ({stopped})' if stopped else ''}",
                file=sys.stderr,
                flush=True,
            )
        elif event == EventKind.TRIAL:
            value = "" if data["value"] is None else f": {data['value']:.4f}"
            settings = ", ".join(f"{k} {v:.3g}" for k, v in data["params"].items())
            print(
                f"trial {data['number']} {data['state']}{value} ({settings}; {data['seconds']:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
