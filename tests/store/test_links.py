"""Symbolic links in folders the app zips: never followed out of the folder (store.files.own_files)."""

import json
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
    kept="the model folder as it is",
)
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


def _relink(path, target):
    """Replace the workspace's `path` (a file or folder) with a symbolic link to `target`."""
    import shutil

    shutil.rmtree(path) if path.is_dir() else path.unlink()
    os.symlink(target, path)


def _corpus(ws, outside):
    from ragtune_core.corpus.documents import Chunk, Document, load_chunks, save_corpus

    record = save_corpus(ws, "c", [Document("d", "D", "text:d", "Text.")], [Chunk("d#0", "d", "Text.")], {})
    (outside / "chunks.jsonl").write_text(json.dumps({"chunk_id": "x", "doc_id": "d", "text": SECRET}) + "\n")
    return ws.corpus_dir(record.id) / "chunks.jsonl", lambda: load_chunks(ws, record.id)


def _corpus_folder(ws, outside):
    path, load = _corpus(ws, outside)
    (outside / "documents.jsonl").write_text("")
    return path.parent, load


def _dataset(ws, outside):
    from ragtune_core.questions.qa_dataset import load_dataset

    record = save_dataset(ws, "qa", QADataset({"q": "Which?"}, {"p": "This."}, {"q": ["p"]}), None, {})
    (outside / "dataset.json").write_text(json.dumps({"queries": {"q": SECRET}, "corpus": {}, "relevant_docs": {}}))
    return ws.dataset_path(record.id), lambda: load_dataset(ws, record.id)


def _chat_data(ws, outside):
    from ragtune_core.training.llm.data import build_chat_data, load_chat_data, save_chat_data
    from tests.training.llm.helpers import router_dataset

    folder = save_chat_data(ws, "chat", build_chat_data(router_dataset()))
    (outside / "train.jsonl").write_text((folder / "train.jsonl").read_text().replace("Which", SECRET))
    return folder / "train.jsonl", lambda: load_chat_data(ws, "chat")


@pytest.mark.parametrize(
    "make, target",
    [(_corpus, "chunks.jsonl"), (_corpus_folder, "."), (_dataset, "dataset.json"), (_chat_data, "train.jsonl")],
)
@pytest.mark.fault(
    "A workspace file or record folder replaced by a symbolic link out of the workspace (a corpus's chunks.jsonl, "
    "a corpus folder, a dataset.json, chat data's train.jsonl)",
    sees="the corpus, dataset or chat data refused as read through a symbolic link, naming the link; its target "
    "never shown, trained on or uploaded",
    kept="the link and its target as they are",
)
def test_workspace_records_read_through_a_link_are_refused(tmp_path, make, target):
    ws, outside = Workspace(tmp_path / "ws"), tmp_path / "outside"
    outside.mkdir()
    path, load = make(ws, outside)
    _relink(path, outside / target)
    with pytest.raises(
        ValueError, match=rf"read through a symbolic link \({path.name}\)|symbolic links \({path.name}\)"
    ) as refused:
        load()
    assert SECRET not in str(refused.value)


def test_a_model_folder_that_is_itself_a_link_is_not_zipped(tmp_path):
    model = model_with_links(tmp_path)
    linked = tmp_path / "ws" / "models" / "linked"
    os.symlink(model, linked)
    with pytest.raises(FileContentError, match=r"symbolic links \(linked\)"):
        zip_model(linked)
