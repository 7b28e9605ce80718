import json

import pytest

from ragtune_core.cli import main
from ragtune_core.corpus.documents import load_chunks, load_documents
from tests.corpus.test_ingest import image_only_pdf, make_pdf


def run(capsys, workspace, *argv) -> tuple[int, dict | None, str]:
    code = main(["--workspace", str(workspace.root), *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def write(path, data: bytes):
    path.write_bytes(data)
    return str(path)


def test_chunks_default_to_what_the_model_reads_and_longer_ones_are_warned_about(capsys, workspace, tmp_path):
    text = write(
        tmp_path / "long.txt", " ".join(f"Sentence {i} tells a fact about item {i}." for i in range(300)).encode()
    )
    code, summary, err = run(capsys, workspace, "ingest", "--name", "default", "--text", text)
    assert code == 0 and summary["chunk_size"] == 224 and summary["share_of_tokens_cut_off"] == 0.0
    assert "warning" not in err
    code, summary, err = run(capsys, workspace, "ingest", "--name", "large", "--text", text, "--chunk-size", "1024")
    assert code == 0 and 0.5 < summary["share_of_tokens_cut_off"] < 1
    assert "the model reads 256 tokens of a passage" in err


def test_ingest_pdf_text_and_wiki_into_one_corpus(capsys, workspace, tmp_path, wiki):
    pages = ["Revenue grew by ten percent over the whole of the last financial year.", "Outlook is good."]
    report = write(tmp_path / "report.pdf", make_pdf(pages))
    scan = write(tmp_path / "scan.pdf", image_only_pdf())
    notes = write(tmp_path / "notes.md", b"# Notes\nRemember the harbour.\n")
    code, summary, err = run(
        capsys,
        workspace,
        "ingest",
        "--name",
        "mixed",
        "--pdf",
        report,
        scan,
        "--text",
        notes,
        "--wikipedia",
        "Toronto",
        "Nowhere Land",
        "--endpoint",
        wiki.endpoint,
        "--chunk-size",
        "16",
        "--overlap",
        "0",
    )
    assert code == 0, err
    assert summary["name"] == "mixed"
    assert summary["documents"] == 3
    assert {e["name"] for e in summary["errors"]} == {"scan.pdf", "Nowhere Land"}

    record = workspace.get_corpus(summary["corpus_id"])
    assert record.params == {
        "chunk_size": 16,
        "overlap": 0,
        "tokenizer": "all-MiniLM-L6-v2 (bundled)",
        "endpoint": wiki.endpoint,
    }
    chunks = load_chunks(workspace, record.id)
    assert len(chunks) == summary["chunks"] == record.n_chunks
    assert {d.title for d in load_documents(workspace, record.id)} == {"report", "notes", "Toronto"}
    assert [c.page for c in chunks if c.text.startswith(("Revenue", "Outlook"))] == [1, 2]
    assert any(c.section == "Geography" for c in chunks)
    assert any((workspace.root / "cache" / "mediawiki").glob("*.json"))


def test_corpora_lists_what_was_ingested(capsys, workspace, tmp_path):
    notes = write(tmp_path / "notes.txt", b"Plain notes. Two sentences.")
    assert run(capsys, workspace, "ingest", "--name", "first", "--text", notes)[0] == 0
    code, listing, _ = run(capsys, workspace, "corpora")
    assert code == 0
    assert [(c["name"], c["documents"], c["chunks"]) for c in listing["corpora"]] == [("first", 1, 1)]


def test_nothing_loadable_saves_nothing(capsys, workspace, tmp_path):
    scan = write(tmp_path / "scan.pdf", image_only_pdf())
    code, summary, err = run(capsys, workspace, "ingest", "--name", "empty", "--pdf", scan)
    assert code == 2 and summary is None
    assert "scan.pdf" in err and "OCR" in err
    assert workspace.list_corpora() == []


@pytest.mark.parametrize(
    "extra, message",
    [
        ([], "nothing to ingest"),
        (["--text", "does-not-exist.txt"], "no such file"),
        (["--text", "{notes}", "--chunk-size", "8"], "at least 16"),
        (["--text", "{notes}", "--overlap", "600"], "overlap"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(capsys, workspace, tmp_path, extra, message):
    notes = write(tmp_path / "notes.txt", b"Plain notes.")
    argv = [arg.replace("{notes}", notes) for arg in extra]
    code, summary, err = run(capsys, workspace, "ingest", "--name", "bad", *argv)
    assert code == 2 and summary is None
    assert message in err
    assert workspace.list_corpora() == []


def test_an_existing_corpus_name_is_refused_and_the_corpus_kept(capsys, workspace, tmp_path):
    notes = write(tmp_path / "notes.txt", b"Plain notes.")
    other = write(tmp_path / "other.txt", b"Other notes.")
    code, first, _ = run(capsys, workspace, "ingest", "--name", "kb", "--text", notes)
    assert code == 0
    code, _, err = run(capsys, workspace, "ingest", "--name", "kb", "--text", other)
    assert code == 2 and "already exists" in err
    assert [c.id for c in workspace.list_corpora()] == [first["corpus_id"]]
    assert [d.text for d in load_documents(workspace, first["corpus_id"])] == ["Plain notes."]
