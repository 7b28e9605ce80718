"""Symbolic links in folders the app zips: never followed out of the folder (store.files.own_files)."""

import os

import pytest

from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.store.files import FileContentError, own_files
from ragtune_core.store.models import zip_model
from ragtune_core.store.workspace import Workspace
from tests.page_helpers import open_page, shown

SECRET = "root:x:0:0:the secret outside the model"


def model_with_links(tmp_path, *links: str):
    """A model folder whose `links` (names inside it) point at a secret file or folder outside it."""
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "passwd").write_text(SECRET)
    (outside / "folder" / "inner.txt").write_text(SECRET)
    model = tmp_path / "ws" / "models" / "m"
    model.mkdir(parents=True)
    (model / "modules.json").write_text("[]")
    (model / "model.safetensors").write_bytes(b"weights")
    for link in links:
        os.symlink(outside / ("folder" if link.endswith("dir") else "passwd"), model / link)
    return model


@pytest.mark.fault(
    "A model folder holding a symbolic link to a file or folder outside it (ln -s /etc/passwd notes.txt), downloaded",
    sees="the download refused, naming each link; no byte of the link's target is read",
    kept="the model folder as it is")
def test_a_model_zip_refuses_links_and_never_carries_their_targets(tmp_path):
    model = model_with_links(tmp_path, "notes.txt", "linked_dir")
    with pytest.raises(FileContentError, match=r"symbolic links \(linked_dir, notes.txt\).*not followed") as refused:
        zip_model(model)
    assert SECRET not in str(refused.value)
    assert sorted(p.name for p in model.iterdir()) == ["linked_dir", "model.safetensors", "modules.json", "notes.txt"]


def test_a_folder_without_links_lists_its_own_files(tmp_path):
    model = model_with_links(tmp_path)
    assert [p.name for p in own_files(model, "m")] == ["model.safetensors", "modules.json"]
    assert zip_model(model).startswith(b"PK")


def test_the_fine_tune_page_offers_no_download_of_a_folder_with_links(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    model = model_with_links(tmp_path, "notes.txt")
    ws = Workspace(tmp_path / "ws")
    save_dataset(ws, "qa", QADataset({"q": "Which?"}, {"p": "This."}, {"q": ["p"]}), None, {})  # the page needs one
    ws.register_model("linked", "embedding", model, "base")
    at = open_page("finetune")
    assert "symbolic links (notes.txt)" in shown(at.error)
    assert not at.get("download_button")
