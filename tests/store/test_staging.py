"""Folders published whole (store.staging): one staging scheme, nothing left behind by a failure, and
what a killed writer left (in this scheme or an older version's) removed when the workspace opens."""

import os
import subprocess
import sys

import pytest

from ragtune_core.store import staging
from ragtune_core.store.staging import publish_folder, staged, staging_name
from ragtune_core.store.workspace import DatasetRecord, Workspace, new_id
from ragtune_core.training.llm import data as chat_data


def _dead_pid() -> int:
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_a_staging_folder_is_hidden_beside_its_target_named_with_its_writer_and_removed_after_the_block(tmp_path):
    target = tmp_path / "out" / "model.v1"
    with staged(target) as folder:
        assert folder.parent == target.parent and folder.is_dir()
        assert staging_name(folder.name) == (target.name, os.getpid())
        (folder / "weights").write_text("w")
        publish_folder(folder, target)
    assert [p.name for p in target.parent.iterdir()] == ["model.v1"] and (target / "weights").exists()
    with pytest.raises(RuntimeError), staged(tmp_path / "other") as folder:
        raise RuntimeError("failed while writing")
    assert not folder.exists()


def _failing_dataset_save(ws: Workspace, monkeypatch) -> None:
    def write(folder):
        (folder / "dataset.json").write_text("{")
        raise OSError("disk full")

    ws.add("datasets", DatasetRecord(new_id("dataset"), "qa", 0.0, "qa", None, {}, 1), write)


def _failing_chat_data_save(ws: Workspace, monkeypatch) -> None:
    def write_jsonl(path, rows):
        path.write_text("{")
        raise OSError("disk full")

    monkeypatch.setattr(chat_data, "write_jsonl", write_jsonl)
    chat_data.save_chat_data(ws, "chat", chat_data.ChatData(train=[], val=[], tools=[]))


@pytest.mark.parametrize(
    "save, folder", [(_failing_dataset_save, "datasets"), (_failing_chat_data_save, chat_data.DATA_FOLDER)]
)
def test_a_publisher_that_fails_while_writing_leaves_no_folder(workspace, monkeypatch, save, folder):
    with pytest.raises(OSError, match="disk full"):
        save(workspace, monkeypatch)
    assert list(workspace.dir(folder).iterdir()) == []
    assert workspace.list_datasets() == []


def test_recovery_removes_staging_folders_of_dead_writers_and_keeps_live_ones(workspace):
    dead = _dead_pid()
    strays = [
        workspace.dir(table) / f".{name}.{dead}.abcdefgh.partial"
        for table, name in (("datasets", new_id("dataset")), ("models", "mine"), ("llm_data", "chat"))
    ]
    for stray in strays:
        stray.mkdir()
    live = staging.staging_folder(workspace.dir("models") / "yours")
    removed = Workspace(workspace.root, recover=False).recover()
    assert sorted(removed) == sorted(str(s.relative_to(workspace.root)) for s in strays)
    assert live.exists()


def test_recovery_removes_an_older_versions_staging_folders_unless_their_writer_lives(workspace):
    """Older versions named staging folders without a pid; the row they were saved for tells."""
    models = workspace.dir("models")
    kept = workspace.reserve_model("mine", "embedding", "base")  # this process trains it
    training = models / ".mine-abcdefgh.partial"
    left = [
        models / ".gone-abcdefgh.partial",
        models / ".gone-ijklmnop.search",
        workspace.dir("datasets") / f".{new_id('dataset')}.abcdefgh.partial",
    ]
    for folder in (training, *left):
        folder.mkdir()
    removed = Workspace(workspace.root, recover=False).recover()
    assert sorted(removed) == sorted(str(p.relative_to(workspace.root)) for p in left)
    assert training.exists()
    workspace.release_model(kept.id)
    assert not training.exists()  # the reservation's staging folders go with it
