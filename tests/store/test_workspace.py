import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ragtune_core.corpus.documents import Chunk, Document, Span, load_chunks, load_documents, save_corpus
from ragtune_core.questions.qa_dataset import QADataset, load_dataset, save_dataset, update_dataset
from ragtune_core.store.staging import staging_folder
from ragtune_core.store.workspace import CorpusRecord, DatasetRecord, Workspace, WorkspaceError, new_id


def _dataset() -> QADataset:
    return QADataset(
        queries={"q1": "What is the capital?"},
        corpus={"c1": "Berlin is the capital."},
        relevant_docs={"q1": ["c1"]},
        passage_docs={"c1": "d1"},
    )


def test_corpus_round_trip_survives_a_new_workspace_object(tmp_path):
    ws = Workspace(tmp_path)
    doc = Document("d1", "Berlin", "text:berlin.txt", "Berlin is big.", [Span(0, 14, None, "Intro")])
    record = save_corpus(
        ws, "cities", [doc], [Chunk("d1#0", "d1", "Berlin is big.", None, "Intro")], {"chunk_size": 64}
    )

    reopened = Workspace(tmp_path)  # what an app restart sees
    assert [c.name for c in reopened.list_corpora()] == ["cities"]
    assert load_documents(reopened, record.id) == [doc]
    assert load_chunks(reopened, record.id)[0].section == "Intro"
    assert reopened.get_corpus(record.id).params == {"chunk_size": 64}


def test_duplicate_names_are_refused_and_keep_the_first(workspace):
    first = save_dataset(workspace, "qa", _dataset(), None, {})
    with pytest.raises(WorkspaceError, match="already exists"):
        save_dataset(workspace, "qa", _dataset(), None, {"other": True})
    assert [d.id for d in workspace.list_datasets()] == [first.id]
    assert load_dataset(workspace, first.id).queries == {"q1": "What is the capital?"}


def test_blank_name_is_refused(workspace):
    with pytest.raises(WorkspaceError, match="name is required"):
        save_corpus(workspace, "  ", [], [], {})


def test_update_dataset_validates_before_writing(workspace):
    record = save_dataset(workspace, "qa", _dataset(), None, {})
    broken = _dataset()
    broken.relevant_docs["q1"] = ["missing"]
    with pytest.raises(ValueError, match="not in corpus"):
        update_dataset(workspace, record.id, broken)
    assert load_dataset(workspace, record.id).relevant_docs == {"q1": ["c1"]}


def test_resolve_by_name_or_id_and_unknown(workspace):
    record = save_dataset(workspace, "qa", _dataset(), None, {})
    assert workspace.resolve("datasets", "qa").id == record.id
    assert workspace.resolve("datasets", record.id).name == "qa"
    with pytest.raises(WorkspaceError, match="no dataset"):
        workspace.resolve("datasets", "nope")


def test_runs_and_models_are_listed_newest_first(workspace):
    run = workspace.create_run("train_embedding", "first", {"epochs": 1})
    workspace.update_run(run.id, state="succeeded", result={"ok": 1})
    assert workspace.get_run(run.id).result == {"ok": 1}
    path = workspace.model_dir("my model")
    assert path.name == "my-model"
    model = workspace.register_model("my model", "embedding", path, "base", run.id, {"ndcg@10": 0.5})
    assert workspace.list_models("embedding")[0].id == model.id
    assert workspace.model_name_taken("my model")


# --- every save is one transaction: races, kills and what they leave --------------------------------
REPO = Path(__file__).resolve().parents[2]
SAVES_PER_PROCESS = 8


def _save_many(root: str, table: str, barrier, results) -> None:
    """One of two racers: save SAVES_PER_PROCESS records named name-0, name-1... in step with the other."""
    ws = Workspace(root, recover=False)
    outcome = []
    for i in range(SAVES_PER_PROCESS):
        written = []

        def write(folder, i=i, written=written):
            written.append(i)
            if table == "datasets":
                _dataset().save(folder / "dataset.json")
            else:
                (folder / "chunks.jsonl").write_text("{}\n")

        prefix = "dataset" if table == "datasets" else "corpus"
        record_class = DatasetRecord if table == "datasets" else CorpusRecord
        args = ("qa", None, {}, 1) if table == "datasets" else ({}, 1, 1)
        record = record_class(new_id(prefix), f"name-{i}", 0.0, *args)
        barrier.wait(timeout=60)
        try:
            ws.add(table, record, write)
            outcome.append(["won", record.id, len(written)])
        except WorkspaceError as exc:
            outcome.append(["lost", str(exc), len(written)])
    results.put(outcome)


@pytest.mark.fault(
    "Two processes save a dataset or corpus under the same name at once",
    sees="one is saved; the other is told the name already exists",
    kept="the winner's record; no orphan folder, no half file",
)
@pytest.mark.parametrize("table", ["datasets", "corpora"])
def test_two_processes_saving_the_same_names_one_wins_and_the_loser_writes_nothing(workspace, table):
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(2), context.Queue()
    racers = [context.Process(target=_save_many, args=(str(workspace.root), table, barrier, results)) for _ in range(2)]
    for racer in racers:
        racer.start()
    outcomes = [results.get(timeout=120) for _ in racers]
    for racer in racers:
        racer.join(timeout=60)
        assert racer.exitcode == 0

    winners = []
    for i in range(SAVES_PER_PROCESS):
        first, second = outcomes[0][i], outcomes[1][i]
        assert sorted([first[0], second[0]]) == ["lost", "won"], (first, second)
        won, lost = (first, second) if first[0] == "won" else (second, first)
        assert f"named 'name-{i}' already exists" in lost[1]
        assert lost[2] == 0  # the name was decided before the loser wrote a byte
        winners.append(won[1])
    rows = {r.id for r in (workspace.list_datasets() if table == "datasets" else workspace.list_corpora())}
    assert rows == set(winners)
    assert sorted(os.listdir(workspace.root / table)) == sorted(winners)  # no orphan, no temporary folder
    assert Workspace(workspace.root).recover() == []


_KILLER = """
import os, signal, sys
from ragtune_core.questions.qa_dataset import QADataset, save_dataset, update_dataset
from ragtune_core.store import files
from ragtune_core.store.catalogue import Catalogue
from ragtune_core.store.workspace import Workspace

root, how = sys.argv[1], sys.argv[2]
die = lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL)
dataset = QADataset(queries={"q1": "Q?"}, corpus={"c1": "P."}, relevant_docs={"q1": ["c1"]})
ws = Workspace(root, recover=False)
if how == "update":  # an edit of a saved dataset killed between its temporary file and the rename
    record = save_dataset(ws, "kept", dataset, None, {})
    files.os.replace = die
    update_dataset(ws, record.id, dataset)
if how == "writing":  # killed with half the files written
    real_save = QADataset.save
    QADataset.save = lambda self, path, **kw: (real_save(self, path, **kw), die())
elif how == "renamed":  # killed with the folder in place but the row not yet marked complete
    Catalogue.commit = die
save_dataset(ws, "qa", dataset, None, {})
"""


@pytest.mark.fault(
    "A save killed (kill -9) while writing its files or just after renaming them",
    sees="nothing half-saved is listed, and the name can be used again",
    kept="every complete record; the leftovers are removed when the workspace is next opened",
)
@pytest.mark.parametrize("how", ["writing", "renamed"])
def test_a_save_killed_midway_leaves_nothing_once_reopened_and_the_name_is_usable(workspace, how):
    done = subprocess.run([sys.executable, "-c", _KILLER, str(workspace.root), how], cwd=REPO, timeout=120)
    assert done.returncode == -signal.SIGKILL
    with sqlite3.connect(workspace.root / "catalogue.sqlite") as conn:  # the kill left the row pending
        assert conn.execute("SELECT count(*) FROM datasets").fetchone() == (1,)
    assert workspace.list_datasets() == []  # listings show complete records only

    reopened = Workspace(workspace.root)  # what the next app or CLI start does
    assert os.listdir(workspace.root / "datasets") == []
    with sqlite3.connect(workspace.root / "catalogue.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM datasets").fetchone() == (0,)
    record = save_dataset(reopened, "qa", _dataset(), None, {})
    assert load_dataset(reopened, record.id).queries == _dataset().queries


def test_a_name_left_pending_by_a_killed_save_is_usable_even_before_any_recovery(workspace):
    done = subprocess.run([sys.executable, "-c", _KILLER, str(workspace.root), "writing"], cwd=REPO, timeout=120)
    assert done.returncode == -signal.SIGKILL
    same = Workspace(workspace.root, recover=False)
    record = save_dataset(same, "qa", _dataset(), None, {})  # the dead writer's reservation is rolled back
    assert [d.id for d in same.list_datasets()] == [record.id]
    assert sorted(os.listdir(workspace.root / "datasets")) == [record.id]


@pytest.mark.fault(
    "A writer killed in the middle of replacing a file",
    sees="nothing",
    kept="the previous version of the file; the temporary file is removed on the next open",
)
def test_a_stray_temporary_file_of_a_killed_writer_is_removed_on_open(workspace):
    done = subprocess.run([sys.executable, "-c", _KILLER, str(workspace.root), "update"], cwd=REPO, timeout=120)
    assert done.returncode == -signal.SIGKILL
    [record] = workspace.list_datasets()
    folder = workspace.root / "datasets" / record.id
    assert len(list(folder.glob(".dataset.json.*.tmp"))) == 1
    live = folder / f".dataset.json.{os.getpid()}.abcdefgh.tmp"  # a live process's write in progress
    live.write_text("{")
    Workspace(workspace.root)
    assert sorted(p.name for p in folder.iterdir()) == sorted(["dataset.json", live.name])
    assert load_dataset(workspace, record.id).queries == {"q1": "Q?"}


@pytest.mark.fault(
    "The app or the CLI opens the workspace while another process is saving",
    sees="nothing",
    kept="the save in progress, untouched by the clean-up",
)
def test_recovery_never_touches_a_save_in_progress(workspace):
    context = multiprocessing.get_context("fork")
    writing, finish, results = context.Event(), context.Event(), context.Queue()

    def slow_save():
        ws = Workspace(workspace.root, recover=False)

        def write(folder):
            (folder / "dataset.json").write_text("{}")
            writing.set()
            finish.wait(timeout=60)
            _dataset().save(folder / "dataset.json")

        record = DatasetRecord(new_id("dataset"), "slow", 0.0, "qa", None, {}, 1)
        ws.add("datasets", record, write)
        results.put(record.id)

    saver = context.Process(target=slow_save)
    saver.start()
    assert writing.wait(timeout=60)
    [partial] = os.listdir(workspace.root / "datasets")
    assert partial.startswith(".dataset-") and partial.endswith(".partial")
    other = Workspace(workspace.root)  # another process opens the workspace meanwhile
    assert other.recover() == [] and os.listdir(workspace.root / "datasets") == [partial]
    with pytest.raises(WorkspaceError, match="'slow' already exists: process"):
        save_dataset(other, "slow", _dataset(), None, {})
    finish.set()
    record_id = results.get(timeout=60)
    saver.join(timeout=60)
    assert [d.id for d in other.list_datasets()] == [record_id]
    assert os.listdir(workspace.root / "datasets") == [record_id]


def test_orphan_folders_are_removed_on_open_but_not_beside_a_new_catalogue(tmp_path):
    ws = Workspace(tmp_path / "ws")
    kept = save_dataset(ws, "qa", _dataset(), None, {})
    orphan = ws.root / "datasets" / new_id("dataset")  # what an older version left when killed
    orphan.mkdir()
    (orphan / "dataset.json").write_text("{}")
    run_orphan = ws.root / "runs" / new_id("run")
    run_orphan.mkdir(parents=True)
    model_orphan = ws.root / "models" / "invisible"
    model_orphan.mkdir(parents=True)
    mine = ws.root / "datasets" / "notes-of-mine"  # not a RAGTune name: left alone
    mine.mkdir()
    removed = Workspace(ws.root).recover()
    assert removed == []  # the opening did it already
    assert sorted(os.listdir(ws.root / "datasets")) == sorted([kept.id, "notes-of-mine"])
    assert not run_orphan.exists() and not model_orphan.exists()

    lost = tmp_path / "lost"  # a workspace whose catalogue was deleted: its folders are its data
    (lost / "datasets" / kept.id).mkdir(parents=True)
    Workspace(lost)
    assert os.listdir(lost / "datasets") == [kept.id]


def test_a_catalogue_of_an_older_version_is_migrated_with_its_records_complete(tmp_path):
    root = tmp_path / "old"
    root.mkdir()
    with sqlite3.connect(root / "catalogue.sqlite") as conn:
        conn.executescript("""
            CREATE TABLE corpora (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, created REAL NOT NULL,
                params TEXT NOT NULL, n_documents INTEGER NOT NULL, n_chunks INTEGER NOT NULL);
            CREATE TABLE datasets (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, created REAL NOT NULL,
                kind TEXT NOT NULL, corpus_id TEXT, params TEXT NOT NULL, n_queries INTEGER NOT NULL);
            CREATE TABLE models (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, kind TEXT NOT NULL,
                created REAL NOT NULL, path TEXT NOT NULL, base_model TEXT NOT NULL, run_id TEXT,
                metrics TEXT NOT NULL);
            INSERT INTO datasets VALUES ('dataset-20240101-000000-abcdef', 'old qa', 1.0, 'qa', NULL, '{}', 1);
            INSERT INTO models VALUES ('model-20240101-000000-abcdef', 'old model', 'embedding', 1.0, 'nowhere',
                'base', NULL, '{}');
        """)
    folder = root / "datasets" / "dataset-20240101-000000-abcdef"
    folder.mkdir(parents=True)
    _dataset().save(folder / "dataset.json")
    ws = Workspace(root)
    assert [d.name for d in ws.list_datasets()] == ["old qa"]
    assert load_dataset(ws, "dataset-20240101-000000-abcdef").queries == _dataset().queries
    assert [(m.name, m.dataset_id) for m in ws.list_models()] == [("old model", None)]  # trained on: unknown


def test_the_newest_model_fine_tuned_on_a_dataset_is_found_by_kind(workspace):
    def train(name, kind, dataset_id):
        workspace.commit_model(workspace.reserve_model(name, kind, "base").id, dataset_id=dataset_id)

    assert workspace.newest_model_trained_on("set-a", "embedding") is None
    train("first", "embedding", "set-a")
    train("reranker", "cross_encoder", "set-a")
    train("elsewhere", "embedding", "set-b")
    train("second", "embedding", "set-a")
    workspace.register_model("imported", "embedding", workspace.root / "nowhere", "base")  # trained on: unknown
    assert workspace.newest_model_trained_on("set-a", "embedding").name == "second"
    assert workspace.newest_model_trained_on("set-a", "cross_encoder").name == "reranker"
    assert workspace.newest_model_trained_on("set-b", "embedding").name == "elsewhere"


@pytest.mark.fault(
    "Two trainings of models with the same name",
    sees="the second is refused at once, naming the training that holds the name",
    kept="the first training and its name",
)
def test_a_reserved_model_name_is_held_until_committed_or_released(workspace):
    reserved = workspace.reserve_model("mine", "embedding", "base")
    assert workspace.list_models() == [] and workspace.model_name_taken("mine")
    with pytest.raises(WorkspaceError, match=f"'mine' already exists: process {os.getpid()}"):
        workspace.reserve_model("mine", "embedding", "base")
    with pytest.raises(WorkspaceError, match="folder models/mine"):
        workspace.reserve_model("mine!", "embedding", "base")  # another name, the same folder
    partial = staging_folder(Path(reserved.path))
    assert Workspace(workspace.root).recover() == [] and partial.exists()  # a live training's work is kept
    Path(reserved.path).mkdir()
    (Path(reserved.path) / "modules.json").write_text("[]")
    committed = workspace.commit_model(reserved.id, {"ndcg@10": 0.5})
    assert [m.id for m in workspace.list_models()] == [committed.id] and committed.metrics == {"ndcg@10": 0.5}
    with pytest.raises(WorkspaceError, match="'mine' already exists$"):
        workspace.reserve_model("mine", "embedding", "base")

    other = workspace.reserve_model("other", "embedding", "base")
    Path(other.path).mkdir()
    workspace.release_model(other.id)
    assert not Path(other.path).exists() and not workspace.model_name_taken("other")
