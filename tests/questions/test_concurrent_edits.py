"""Two people editing the same dataset or draft (two tabs, a tab and the CLI) never overwrite each
other's changes unnoticed: the second save of a stale copy is refused with "changed by someone
else", nothing is written, and a reload sees the first one's change."""

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ragtune_core.questions.curation import apply_table, load_draft, questions_table, save_draft
from ragtune_core.questions.qa_dataset import DatasetError, load_dataset, save_dataset, update_dataset
from tests.questions.test_qa_dataset import many_documents

REPO = Path(__file__).resolve().parents[2]
CHANGED = "changed by someone else"


@pytest.fixture
def record(workspace):
    return save_dataset(workspace, "shared", many_documents(3, 2), None, {})


def edited(ws, dataset_id, question: str):
    dataset = load_dataset(ws, dataset_id)
    dataset.queries[next(iter(dataset.queries))] = question
    return dataset


@pytest.mark.fault(
    "Two people edit the same dataset (two tabs, a tab and the CLI)",
    sees="the later save of the older copy is refused: changed by someone else, reload",
    kept="the first save; after a reload both edits",
)
def test_a_stale_copy_is_refused_and_a_reload_keeps_both_edits(workspace, record):
    mine, theirs = edited(workspace, record.id, "Mine?"), edited(workspace, record.id, "Theirs?")
    update_dataset(workspace, record.id, theirs, {"by": "them"})
    before = workspace.dataset_path(record.id).read_bytes()
    with pytest.raises(DatasetError, match=f"dataset 'shared' was {CHANGED}"):
        update_dataset(workspace, record.id, mine, {"by": "me"})
    assert workspace.dataset_path(record.id).read_bytes() == before
    assert workspace.get_dataset(record.id).params == {"by": "them"}

    mine = load_dataset(workspace, record.id)
    assert next(iter(mine.queries.values())) == "Theirs?"
    mine.queries[list(mine.queries)[1]] = "Mine, after a reload?"
    update_dataset(workspace, record.id, mine, {"by": "me"})
    update_dataset(workspace, record.id, mine)  # the same copy again: its own save is its version now
    assert list(load_dataset(workspace, record.id).queries.values())[:2] == ["Theirs?", "Mine, after a reload?"]


def test_two_threads_saving_the_same_version_one_wins(workspace, record):
    copies = [edited(workspace, record.id, f"Edit {i}?") for i in range(2)]
    start, outcomes = threading.Barrier(2), []

    def save(dataset):
        start.wait()
        try:
            update_dataset(workspace, record.id, dataset)
            outcomes.append("saved")
        except DatasetError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=save, args=(copy,)) for copy in copies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes)[-1] == "saved" and CHANGED in sorted(outcomes)[0]
    winner = next(iter(load_dataset(workspace, record.id).queries.values()))
    assert winner in ("Edit 0?", "Edit 1?")


EDITOR = """
import sys, time
from pathlib import Path
from ragtune_core.store.workspace import Workspace
from ragtune_core.questions.qa_dataset import DatasetError, load_dataset, update_dataset
root, dataset_id, question, ready, go = sys.argv[1:]
ws = Workspace(root, recover=False)
dataset = load_dataset(ws, dataset_id)
dataset.queries[next(iter(dataset.queries))] = question
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.01)
try:
    update_dataset(ws, dataset_id, dataset)
    print("saved")
except DatasetError as exc:
    print(exc)
"""


@pytest.mark.fault(
    "Two processes save edits of the same dataset version at the same moment",
    sees="one is saved; the other is told it was changed by someone else",
    kept="the winner's edit, file and catalogue row together",
)
def test_two_processes_saving_the_same_version_one_wins(workspace, record, tmp_path):
    go = tmp_path / "go"
    editors = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                EDITOR,
                str(workspace.root),
                record.id,
                f"Process {i}?",
                str(tmp_path / f"ready{i}"),
                str(go),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for i in range(2):
        for _ in range(600):
            if (tmp_path / f"ready{i}").exists():
                break
            subprocess.run(["sleep", "0.05"])
    go.touch()
    outputs = sorted(editor.communicate(timeout=120)[0].strip() for editor in editors)
    assert outputs[1] == "saved" and CHANGED in outputs[0], outputs
    assert next(iter(load_dataset(workspace, record.id).queries.values())) in ("Process 0?", "Process 1?")


@pytest.mark.fault(
    "A draft question set edited in two tabs", sees="the stale tab's save is refused", kept="the other tab's edits"
)
def test_a_draft_edited_in_two_tabs_refuses_the_stale_save(workspace, tmp_path):
    run = workspace.create_run("generate_questions", "gen", {})
    draft = tmp_path / "draft.json"
    many_documents(2, 2).save(draft)
    workspace.update_run(run.id, state="succeeded", result={"draft": str(draft)})
    first, second = load_draft(workspace, run.id), load_draft(workspace, run.id)
    table = questions_table(second)
    table.loc[0, "question"] = "Second tab's edit?"
    save_draft(workspace, run.id, apply_table(second, table))
    table = questions_table(first)
    table.loc[1, "question"] = "First tab's edit?"
    with pytest.raises(DatasetError, match=f"draft.json was {CHANGED}"):
        save_draft(workspace, run.id, apply_table(first, table))
    assert list(load_draft(workspace, run.id).queries.values())[:2] == ["Second tab's edit?", "question about d0-c1?"]
