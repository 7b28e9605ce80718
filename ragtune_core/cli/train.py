"""`train` (fine-tune an embedding model), `runs`, `cancel` and `models`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import asdict

from .. import jobs
from ..training.config import EmbeddingTrainConfig, TrainConfig, TrainingError
from ..training.fit import progress_message
from ..training.register import check_model_name, train_and_register
from ..store.workspace import Workspace
from .progress import ProgressPrinter
from ..questions.qa_dataset import load_dataset

DEFAULTS = EmbeddingTrainConfig()


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="fine-tune an embedding model on a dataset's train questions")
    train.add_argument("dataset", metavar="DATASET", help="dataset id or name (it must have a train/validation split)")
    train.add_argument("--name", required=True, help="name of the new model")
    train.add_argument("--base-model", help="Hub id or folder (default: the bundled all-MiniLM-L6-v2)")
    train.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help="(default: %(default)s)")
    train.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size, help="(default: %(default)s)")
    train.add_argument("--lr", type=float, default=DEFAULTS.learning_rate, help="learning rate (default: %(default)s)")
    train.add_argument("--max-seq-length", type=int, default=DEFAULTS.max_seq_length, help="tokens (default: %(default)s)")
    train.add_argument("--background", action="store_true", help="start a background job and print its run id")
    train.set_defaults(handler=run_train)

    runs = subparsers.add_parser("runs", help="list the runs (background jobs) and their state")
    runs.add_argument("--kind", help="only runs of this kind, e.g. train_embedding")
    runs.set_defaults(handler=list_runs)

    cancel = subparsers.add_parser("cancel", help="stop a running job")
    cancel.add_argument("run_id", metavar="RUN_ID")
    cancel.set_defaults(handler=cancel_run)

    models = subparsers.add_parser("models", help="list the fine-tuned models")
    models.set_defaults(handler=list_models)


def run_train(args: argparse.Namespace, ws: Workspace) -> dict:
    config = EmbeddingTrainConfig(base_model=args.base_model, epochs=args.epochs, batch_size=args.batch_size,
                                  learning_rate=args.lr, max_seq_length=args.max_seq_length)
    return train_or_start(ws, args, "train_embedding", config, train_and_register)


def train_or_start(ws: Workspace, args: argparse.Namespace, job_kind: str, config: TrainConfig,
                   train: Callable[..., dict]) -> dict:
    """Train in this process (events on stderr), or with --background start a worker job and return its run id.

    `train(ws, dataset_id, name, config, on_event=...)` is the library call the worker task
    `job_kind` makes too (train_and_register or its cross-encoder twin).
    """
    config.validate()
    dataset = ws.resolve("datasets", args.dataset)
    # Checked here too, so a background job is never started for a name it cannot use.
    name = check_model_name(ws, args.name)
    if not args.background:
        return train(ws, dataset.id, name, config, on_event=_StderrReporter(config.epochs))
    if not load_dataset(ws, dataset.id).split:
        raise TrainingError(f"dataset {dataset.name!r} has no train/validation split: split it before training")
    params = {"dataset_id": dataset.id, "model_name": name, "config": asdict(config)}
    status = jobs.start_job(ws, job_kind, params, name=name, dataset_id=dataset.id)
    return {"run_id": status.run_id, "state": status.state, "model_name": name}


def list_runs(args: argparse.Namespace, ws: Workspace) -> dict:
    rows = []
    for run in ws.list_runs(args.kind):
        # The job's status file knows better than the catalogue whether its worker is still alive.
        state = jobs.read_status(ws, run.id).state if jobs.status_path(ws, run.id).exists() else run.state
        rows.append({"id": run.id, "name": run.name, "kind": run.kind, "state": state,
                     "created": run.created, "finished": run.finished, "dataset_id": run.dataset_id})
    return {"runs": rows}


def cancel_run(args: argparse.Namespace, ws: Workspace) -> dict:
    ws.get_run(args.run_id)  # an unknown id is an error naming it
    status = jobs.cancel_job(ws, args.run_id)
    return {"run_id": status.run_id, "state": status.state}


def list_models(args: argparse.Namespace, ws: Workspace) -> dict:
    return {"models": [{"id": m.id, "name": m.name, "kind": m.kind, "path": m.path, "base_model": m.base_model,
                        "run_id": m.run_id, "created": m.created, "metrics": m.metrics} for m in ws.list_models()]}


class _StderrReporter:
    """Training events on stderr (stdout carries only the JSON summary): every eval, progress as ProgressPrinter."""

    def __init__(self, epochs: int):
        self._epochs = epochs
        self._progress = ProgressPrinter("train")

    def __call__(self, event: str, data: dict) -> None:
        if event == "eval":
            shown = ", ".join(f"{k} {data['metrics'][k]:.4f}" for k in ("ndcg@10", "mrr@10", "accuracy@5")
                              if k in data["metrics"])
            print(f"eval at step {data['step']}: {shown}", file=sys.stderr, flush=True)
        elif event == "progress":
            step, max_steps = data["step"], data["max_steps"]
            self._progress(step, max_steps, f"step {step}/{max_steps} · {progress_message(data, self._epochs)}")
