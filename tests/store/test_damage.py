"""A damaged workspace file makes the CLI exit 2 with a message naming it: never a traceback, and
nothing else in the workspace changes."""

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ragtune_core import cli
from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.jobs.runner import JobStatus, read_status, write_status
from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.store.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]


def _filled(root: Path) -> tuple[Workspace, dict]:
    ws = Workspace(root)
    docs = [Document(f"d{i}", f"Doc {i}", f"text:{i}.txt", f"Sentence {i} is here. Another one.") for i in range(2)]
    chunks = [Chunk(f"d{i}#0", f"d{i}", f"Sentence {i} is here. Another one.") for i in range(2)]
    corpus = save_corpus(ws, "docs", docs, chunks, {"chunk_size": 64})
    dataset = QADataset(
        queries={"q1": "Which sentence?"},
        corpus={"d0#0": chunks[0].text},
        relevant_docs={"q1": ["d0#0"]},
        passage_docs={"d0#0": "d0"},
    )
    save_dataset(ws, "qa", dataset, corpus.id, {})
    run = ws.create_run("sleep", "a run", {})
    write_status(ws, JobStatus(run_id=run.id, kind="sleep", state="running"))
    (ws.run_dir(run.id) / "worker.json").write_text(json.dumps({"pid": 1, "create_time": 0.0}))
    ws.update_run(run.id, state="running")
    return ws, {"corpus": corpus.id, "dataset": ws.list_datasets()[0].id, "run": run.id}


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _garbage(path: Path) -> None:
    path.write_bytes(b"\x00garbage, not what was saved\xff" * 64)


def _damage_catalogue_row(root: Path, ids: dict, params: str = '{"chunk') -> None:
    conn = sqlite3.connect(root / "catalogue.sqlite")
    with conn:
        conn.execute("UPDATE corpora SET params = ? WHERE id = ?", (params, ids["corpus"]))
    conn.close()  # the last connection out folds the write-ahead log into the file


# (what is damaged, how, the command that reads it, what the message must name)
CASES = {
    "garbage catalogue": (lambda root, ids: _garbage(root / "catalogue.sqlite"), ["corpora"], "catalogue.sqlite"),
    "truncated catalogue": (
        lambda root, ids: _truncate(root / "catalogue.sqlite", 0.3),
        ["datasets"],
        "catalogue.sqlite",
    ),
    "damaged catalogue row": (_damage_catalogue_row, ["corpora"], "catalogue.sqlite"),
    "catalogue row of another shape": (
        lambda root, ids: _damage_catalogue_row(root, ids, '["chunk"]'),
        ["corpora"],
        "cannot be read (params: expected an object, got a list of 1)",
    ),
    "truncated chunks.jsonl": (
        lambda root, ids: _truncate(root / "corpora" / ids["corpus"] / "chunks.jsonl", 0.7),
        ["generate", "--corpus", "docs", "--name", "new-qa"],
        "chunks.jsonl",
    ),
    "garbage documents.jsonl": (
        lambda root, ids: _garbage(root / "corpora" / ids["corpus"] / "documents.jsonl"),
        ["router-dataset", "--corpus", "docs", "--name", "new-router"],
        "documents.jsonl",
    ),
    "truncated dataset.json": (
        lambda root, ids: _truncate(root / "datasets" / ids["dataset"] / "dataset.json"),
        ["split", "qa"],
        "dataset.json",
    ),
    "truncated status.json": (
        lambda root, ids: _truncate(root / "runs" / ids["run"] / "status.json"),
        ["runs"],
        "status.json",
    ),
    "status.json of another shape": (
        lambda root, ids: (root / "runs" / ids["run"] / "status.json").write_text('{"x": 1}'),
        ["runs"],
        "status.json",
    ),
    "garbage worker.json": (
        lambda root, ids: _garbage(root / "runs" / ids["run"] / "worker.json"),
        ["cancel", "RUN"],
        "worker.json",
    ),
    "worker.json of another shape": (
        lambda root, ids: (root / "runs" / ids["run"] / "worker.json").write_text('{"pid": "1", "create_time": 0}'),
        ["cancel", "RUN"],
        'worker.json: pid: expected an integer, got "1"',
    ),
    "a chunk of another shape": (
        lambda root, ids: _replace_first_line(
            root / "corpora" / ids["corpus"] / "chunks.jsonl", {"chunk_id": "d0#0", "doc_id": "d0", "text": None}
        ),
        ["generate", "--corpus", "docs", "--name", "new-qa"],
        "chunks.jsonl, line 1: text: expected a string, got null",
    ),
    "a document span of another shape": (
        lambda root, ids: _replace_first_line(
            root / "corpora" / ids["corpus"] / "documents.jsonl",
            {
                "doc_id": "d0",
                "title": "Doc 0",
                "source": "text:0.txt",
                "text": "x",
                "spans": [{"start": "0", "end": 1}],
            },
        ),
        ["router-dataset", "--corpus", "docs", "--name", "r"],
        'documents.jsonl, line 1: spans[0].start: expected an integer, got "0"',
    ),
    "a dataset.json with a null question": (
        lambda root, ids: _edit_json(
            root / "datasets" / ids["dataset"] / "dataset.json", lambda d: d["queries"].update(q1=None)
        ),
        ["split", "qa"],
        'dataset.json: queries["q1"]: expected a string, got null',
    ),
    "status.json with a wrong type": (
        lambda root, ids: _edit_json(root / "runs" / ids["run"] / "status.json", lambda d: d.update(done="3")),
        ["runs"],
        'status.json: done: expected an integer, got "3"',
    ),
}


def _replace_first_line(path: Path, row: dict) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text(json.dumps(row) + "\n" + "".join(lines[1:]))


def _edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.fault(
    "A damaged workspace file: the catalogue (garbage, truncated, a bad row), chunks.jsonl, documents.jsonl, "
    "dataset.json, a run's status.json or worker.json (truncated, garbage, or of another shape)",
    sees="the command exits 2 with one line naming the file (and the line and key), never a traceback",
    kept="the whole workspace, byte for byte",
)
@pytest.mark.parametrize("case", CASES)
def test_damaged_file_exits_2_naming_it_and_changes_nothing(tmp_path, capsys, case):
    damage, argv, named = CASES[case]
    root = tmp_path / "ws"
    _, ids = _filled(root)
    damage(root, ids)
    before = _snapshot(root)

    argv = [ids["run"] if a == "RUN" else a for a in argv]
    code = cli.main(["--workspace", str(root), *argv])
    out, err = capsys.readouterr()

    assert code == 2, (out, err)
    assert named in err and err.startswith("error: ")
    assert "Traceback" not in err and out == ""
    assert _snapshot(root) == before


def test_the_installed_command_prints_no_traceback_for_a_garbage_catalogue(tmp_path):
    root = tmp_path / "ws"
    _filled(root)
    _garbage(root / "catalogue.sqlite")
    before = _snapshot(root)
    done = subprocess.run(
        [sys.executable, "-m", "ragtune_core", "--workspace", str(root), "models"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "catalogue.sqlite" in done.stderr and "damaged" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert _snapshot(root) == before


@pytest.mark.fault(
    "A run's spec.json of another shape (an unknown job kind)",
    sees="the job fails with an error naming spec.json and the key",
    kept="the run and its files",
)
def test_a_run_spec_of_another_shape_fails_the_job_naming_file_and_key(tmp_path):
    ws = Workspace(tmp_path / "ws")
    run = ws.create_run("sleep", "a run", {})
    write_status(ws, JobStatus(run_id=run.id, kind="sleep"))
    (ws.run_dir(run.id) / "spec.json").write_text('{"kind": "dance", "params": {}}')
    done = subprocess.run(
        [sys.executable, "-m", "ragtune_core.jobs.worker", str(ws.root), run.id],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    status = read_status(ws, run.id)
    assert done.returncode == 1 and status.state == "failed"
    assert f"the spec of run {run.id}, spec.json: kind: expected a job kind" in status.error
