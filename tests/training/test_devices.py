"""Training on the devices there are: a GPU in mixed precision, several processes under torchrun."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.store.workspace import Workspace
from ragtune_core.training import devices, embedding
from ragtune_core.training.fit import TrainResult
from ragtune_core.training.query_side import encoding_here
from ragtune_core.training.register import train_and_register
from tests.training.test_cross_encoder import router_dataset
from tests.training.test_training import TINY, tiny_dataset

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rank_1_of_2(monkeypatch):
    """This process as torchrun's second of two."""
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")


# --- no model needed ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cuda, bf16, cpu_bf16, world_size, expected",
    [
        (True, True, False, "1", {"bf16": True, "dataloader_pin_memory": True}),
        (True, False, False, "1", {"fp16": True, "dataloader_pin_memory": True}),  # a GPU before Ampere
        (True, True, False, "2", {"bf16": True, "dataloader_pin_memory": True}),
        (False, False, False, "1", {"dataloader_pin_memory": False}),  # full precision on a CPU without bf16
        (False, False, False, "2", {"dataloader_pin_memory": False, "use_cpu": True}),  # ranks joined over gloo
        # A CPU that computes bf16 natively: mixed precision, which the trainer allows on a CPU with use_cpu.
        (False, False, True, "1", {"bf16": True, "use_cpu": True, "dataloader_pin_memory": False}),
        (False, False, True, "2", {"bf16": True, "use_cpu": True, "dataloader_pin_memory": False}),
    ],
)
def test_a_gpu_trains_in_mixed_precision_and_a_cpu_as_it_computes_fastest(
    monkeypatch, cuda, bf16, cpu_bf16, world_size, expected
):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *args, **kwargs: bf16)
    monkeypatch.setattr(devices, "cpu_bf16", lambda: cpu_bf16)
    monkeypatch.setenv("WORLD_SIZE", world_size)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert devices.device_arguments() == expected
    # Each rank loads its model on its own GPU; alone, the library's choice (CUDA when there is one).
    assert devices.model_device() == ("cuda:1" if cuda and world_size == "2" else None)


def test_without_a_launcher_this_process_is_the_only_rank_and_decides_alone(monkeypatch):
    for name in ("WORLD_SIZE", "RANK"):
        monkeypatch.delenv(name, raising=False)
    assert (devices.world_size(), devices.rank(), devices.is_main_process()) == (1, 0, True)
    assert devices.any_rank(True) and not devices.any_rank(False)


def test_a_rank_beside_rank_0_trains_but_writes_nothing_to_the_workspace(workspace, monkeypatch, rank_1_of_2):
    record = save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    trained_in = []

    def training(config, dataset, output_dir, on_event=None, model_card_name=None):
        assert on_event is None  # rank 0 reports
        output_dir.mkdir()
        trained_in.append(output_dir)
        return TrainResult(output_dir, "ndcg@10", {}, {}, 0, 7, "", 18, 0.0, processes=2)

    monkeypatch.setattr(embedding, "train_embedding", training)
    files_before = _files(workspace.root)
    assert train_and_register(workspace, record.id, "ddp", TINY) == {"rank": 1, "processes": 2, "steps": 7}
    [folder] = trained_in
    assert workspace.root not in folder.parents and not folder.exists()  # a throwaway folder, removed
    assert _files(workspace.root) == files_before  # the catalogue's bytes too
    assert workspace.list_models() == [] and not workspace.model_name_taken("ddp")


def _files(root: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in root.rglob("*") if path.is_file()}


def test_the_cli_on_a_rank_beside_rank_0_prints_no_summary(workspace, run_cli, monkeypatch, rank_1_of_2):
    from ragtune_core.cli import train as train_cli

    save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    calls = []
    monkeypatch.setattr(train_cli, "train_and_register", lambda *args, **kwargs: calls.append(args) or {"rank": 1})
    code, out, err = run_cli("train", "tiny", "--name", "ddp")
    assert (code, out, err, len(calls)) == (0, "", "", 1)  # rank 0's summary and progress are the only ones


@pytest.mark.parametrize(
    "options, refusal",
    [
        (["--background"], "--background starts a worker process of its own"),
        (["--search-trials", "3"], "a hyperparameter search trains on one device"),
    ],
)
def test_what_cannot_run_on_several_devices_is_refused_by_every_rank(workspace, run_cli, monkeypatch, options, refusal):
    save_dataset(workspace, "tiny", tiny_dataset(), None, {})
    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        code, out, err = run_cli("train", "tiny", "--name", "ddp", *options)
        assert (code, out) == (2, "") and refusal in err
    assert Workspace(workspace.root).list_runs() == [] and workspace.list_models() == []


def test_a_question_encoder_evaluates_in_its_own_process_during_a_distributed_training():
    class Model:
        _distributed_inference = "rank 0 shares its encoding out"

    model = Model()
    with encoding_here(model):
        assert model._distributed_inference is None
    assert model._distributed_inference == "rank 0 shares its encoding out"


def test_in_batch_negatives_are_gathered_across_devices_only_when_there_are_several(monkeypatch):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(modules=[torch.nn.Identity()])
    for world_size, gathered in (("1", False), ("2", True)):
        monkeypatch.setenv("WORLD_SIZE", world_size)
        assert embedding._recipe(TINY, model, [("q", "p"), ("r", "s")]).loss.gather_across_devices is gathered


# --- two processes on CPU (gloo), the real CLI -------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("kind", ["qa", "router"])
def test_torchrun_trains_on_two_processes_and_registers_one_model(workspace, kind):
    dataset = tiny_dataset() if kind == "qa" else router_dataset()
    save_dataset(workspace, "tiny", dataset, None, {})
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command += ["-m", "ragtune_core", "--workspace", str(workspace.root), "train", "tiny", "--name", "ddp"]
    command += ["--epochs", "1", "--batch-size", "4", "--max-seq-length", "64", "--patience", "0"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-4000:]

    summary = json.loads(done.stdout)  # one summary: rank 1 says nothing
    assert summary["processes"] == 2  # the trainer's process group: both ranks joined it
    # The batch of 4 shared by two processes: the 18 pairs take the 5 steps one process would.
    assert summary["steps"] == summary["planned_steps"] == 5
    assert done.stderr.count("eval at step 0:") == 1
    [model] = Workspace(workspace.root).list_models()
    assert (model.name, model.id, model.path) == ("ddp", summary["model_id"], summary["model_path"])
    assert [path.name for path in workspace.model_dir("ddp").parent.iterdir()] == ["ddp"]
    from sentence_transformers import SentenceTransformer

    assert SentenceTransformer(model.path).encode(["Why does iron rust?"]).shape == (1, 384)
    if kind == "router":  # the loss saw every process's passages as negatives
        assert '"gather_across_devices": true' in (Path(model.path) / "README.md").read_text()
