"""`ragtune import-dataset` of an evidence-phrase set, then `evaluate` and `rerank` per style, and the
refusal to train on it; on an invented three-chunk corpus with word-counting stand-in models."""

import json
import re

import numpy as np
import pytest
import torch

from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.evaluation import reranking, retrieval
from ragtune_core.evaluation.retrieval import latest_reports
from ragtune_core.jobs import comparison_tasks, training_tasks
from ragtune_core.questions.qa_dataset import DatasetError, load_dataset

CHUNKS = [
    Chunk("cinema#0", "cinema", "Lanternfish Cinemas sold 900,000 tickets in 2031."),
    Chunk("cinema#1", "cinema", "Projector maintenance cost rose to $2.1\nmillion."),
    Chunk("cinema#2", "cinema", "Popcorn and snacks brought in more revenue than tickets at some screens."),
]
EVIDENCE = {
    "source": "lanternfish.pdf",
    "questions": [
        {
            "id": "t1",
            "question": "lanternfish tickets 2031",
            "evidence": "sold 900,000 tickets in 2031",
            "style": "terse",
        },
        {"id": "t2", "question": "snacks revenue", "evidence": "popcorn and snacks brought in", "style": "terse"},
        {
            "id": "s1",
            "question": "upkeep spend on beamers",
            "evidence": "Projector maintenance cost rose to $2.1 million",
            "style": "synonym",
        },
        {"id": "x1", "question": "screen count", "evidence": "operates 48 screens", "style": "topic"},
    ],
}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


class WordModel:
    """Stands in for a SentenceTransformer: a text's embedding counts each word of a fixed vocabulary, so
    a question ranks first the passage sharing most of its words (none shared: ties, by passage id)."""

    def __init__(self):
        texts = [c.text for c in CHUNKS] + [q["question"] for q in EVIDENCE["questions"]]
        self.vocabulary = sorted({w for text in texts for w in words(text)})

    def encode(self, texts, **kwargs):
        rows = [[words(text).count(w) for w in self.vocabulary] for text in texts]
        return torch.tensor(np.array(rows, dtype=float), dtype=torch.float32)

    encode_query = encode_document = encode


class OverlapScorer:
    """Stands in for a CrossEncoder: a (question, passage) pair scores the words they share."""

    def predict(self, pairs, **kwargs):
        return np.array([len(set(words(q)) & set(words(p))) for q, p in pairs], dtype=float)


@pytest.fixture
def cinema(workspace):
    document = Document("cinema", "Lanternfish annual report", "text:lanternfish.txt", " ".join(c.text for c in CHUNKS))
    return save_corpus(workspace, "cinema", [document], CHUNKS, {})


@pytest.fixture
def evidence_path(tmp_path):
    path = tmp_path / "lanternfish-hw.json"
    path.write_text(json.dumps(EVIDENCE))
    return path


@pytest.fixture
def imported(run_cli, cinema, evidence_path):
    code, out, err = run_cli("import-dataset", str(evidence_path), "--name", "hw", "--corpus", "cinema")
    assert code == 0, err
    return json.loads(out)


@pytest.fixture
def word_models(monkeypatch):
    model = WordModel()
    for module in (retrieval, reranking):
        monkeypatch.setattr(module, "load_embedder", lambda path: model)
    monkeypatch.setattr(reranking, "load_cross_encoder", lambda path: OverlapScorer())


def model_folder(parent, name: str):
    """A model folder that exists (its weights faked by word_models): a missing folder is named as missing."""
    folder = parent / name
    folder.mkdir()
    return folder


def test_import_says_what_matched_what_was_left_out_and_the_styles(workspace, imported, cinema):
    assert (imported["name"], imported["kind"], imported["evaluation_only"]) == ("hw", "qa", True)
    assert (imported["questions"], imported["matched"], imported["left_out"]) == (4, 3, 1)
    assert imported["left_out_examples"] == [{"id": "x1", "evidence": "operates 48 screens"}]
    assert imported["styles"] == {"terse": 2, "synonym": 1}
    assert (imported["queries"], imported["passages"], imported["corpus_id"]) == (3, 3, cinema.id)
    dataset = load_dataset(workspace, imported["dataset_id"])
    assert dataset.relevant_docs == {"t1": ["cinema#0"], "t2": ["cinema#2"], "s1": ["cinema#1"]}
    assert dataset.evaluation_only and dataset.split == {}


def test_import_without_a_corpus_says_it_needs_one(run_cli, workspace, cinema, evidence_path):
    code, out, err = run_cli("import-dataset", str(evidence_path), "--name", "hw")
    assert (code, out) == (2, "")
    assert "lanternfish-hw.json is an evidence-phrase set: it needs the corpus" in err and "--corpus" in err
    code, _, err = run_cli(
        "import-dataset", str(evidence_path), "--name", "hw", "--corpus", "cinema", "--kind", "router"
    )
    assert code == 2 and "a question/passage (qa) evaluation set: the router kind does not apply" in err
    assert workspace.list_datasets() == []


def test_import_of_a_bad_evidence_file_names_the_field(run_cli, workspace, cinema, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"questions": [{"id": "a", "question": "q?"}]}))
    code, _, err = run_cli("import-dataset", str(path), "--name", "bad", "--corpus", "cinema")
    assert code == 2 and "bad.json: questions[0]: missing evidence" in err
    path.write_text(json.dumps({"questions": [{"id": "a", "question": "q?", "evidence": "not in any chunk"}]}))
    code, _, err = run_cli("import-dataset", str(path), "--name", "bad", "--corpus", "cinema")
    assert code == 2 and "bad.json: none of the 1 evidence phrases is in a chunk of corpus 'cinema'" in err
    assert workspace.list_datasets() == []


def test_evaluate_takes_every_question_and_reports_each_style(run_cli, workspace, imported, word_models, tmp_path):
    folder = str(model_folder(tmp_path, "folder"))
    code, out, err = run_cli("evaluate", "hw", "--model", "base", "--model", folder)
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["part"], summary["queries"], summary["passages"]) == ("all", 3, 3)
    styles = summary["by_style"][folder]
    # t1 and t2 share words with their passage; s1 shares none with any: a three-way tie, by id cinema#0 first.
    assert styles["terse"] == {"accuracy@1": 1.0, "accuracy@5": 1.0, "accuracy@10": 1.0, "mrr@10": 1.0, "queries": 2}
    assert styles["synonym"] == {"accuracy@1": 0.0, "accuracy@5": 1.0, "accuracy@10": 1.0, "mrr@10": 0.5, "queries": 1}
    assert list(styles) == ["terse", "synonym"]  # a style whose every question was left out has no row
    assert summary["models"][folder]["mrr@10"] == pytest.approx(2.5 / 3)
    assert len(latest_reports(workspace, imported["dataset_id"], "all")) == 2


def test_rerank_reports_each_style_of_both_rankings(run_cli, imported, word_models, tmp_path):
    reranker = str(model_folder(tmp_path, "reranker"))
    code, out, err = run_cli("rerank", "hw", "--embedder", "base", "--cross-encoder", reranker, "--top-k", "3")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["part"] == "all" and len(summary["by_style"]) == 2
    assert set(summary["by_style"]) == set(summary["models"])
    for styles in summary["by_style"].values():
        assert (styles["terse"]["queries"], styles["synonym"]["queries"]) == (2, 1)


def test_evaluate_a_dataset_without_styles_adds_no_breakdown(run_cli, workspace, cinema, tmp_path, word_models):
    path = tmp_path / "plain.json"
    path.write_text(
        json.dumps(
            {
                "queries": {"q": "lanternfish tickets"},
                "corpus": {c.chunk_id: c.text for c in CHUNKS},
                "relevant_docs": {"q": ["cinema#0"]},
            }
        )
    )
    assert run_cli("import-dataset", str(path), "--name", "plain")[0] == 0
    code, out, err = run_cli("evaluate", "plain", "--model", "base")
    assert code == 0, err
    assert "by_style" not in json.loads(out)


@pytest.mark.parametrize(
    "command",
    [
        ["train", "hw", "--name", "m"],
        ["train", "hw", "--name", "m", "--background"],
        ["train-cross-encoder", "hw", "--name", "m", "--embedder", "base"],
    ],
)
def test_training_refuses_an_evaluation_only_set(run_cli, workspace, imported, command):
    code, out, err = run_cli(*command)
    assert (code, out) == (2, "")
    assert "dataset 'hw' is an evaluation-only set" in err and "never trained on" in err
    assert workspace.list_models() == [] and workspace.list_runs() == []


def test_split_refuses_an_evaluation_only_set(run_cli, workspace, imported):
    code, _, err = run_cli("split", "hw", "--by", "query")
    assert code == 2 and "never split" in err
    assert load_dataset(workspace, imported["dataset_id"]).split == {}


def test_a_training_job_refuses_an_evaluation_only_set_before_anything_loads(workspace, imported, monkeypatch):
    monkeypatch.setattr(training_tasks, "exit_on_sigterm", lambda: None)
    trained = []
    monkeypatch.setattr("ragtune_core.training.register.train_and_register", lambda *a, **k: trained.append(a))

    class Context:
        workspace, run_id = None, "run-x"

    ctx = Context()
    ctx.workspace = workspace
    with pytest.raises(DatasetError, match="dataset 'hw' is an evaluation-only set"):
        training_tasks.run_training_job(ctx, {"dataset_id": imported["dataset_id"], "model_name": "m", "config": {}})
    assert trained == []


def test_an_evaluation_job_also_evaluates_held_out_sets_each_on_its_own(workspace, imported, word_models, tmp_path):
    from ragtune_core.questions.qa_dataset import QADataset, save_dataset
    from tests.fake_job import FakeContext

    generated = QADataset(
        {"g1": "What did Lanternfish sell?", "g2": "What did the projector maintenance cost?"},
        {c.chunk_id: c.text for c in CHUNKS},
        {"g1": ["cinema#0"], "g2": ["cinema#1"]},
        passage_docs={c.chunk_id: c.doc_id for c in CHUNKS},
        split={"g1": "train", "g2": "val"},
    )
    record = save_dataset(workspace, "generated", generated, None, {})
    ctx = FakeContext(workspace)
    result = comparison_tasks.run_evaluation_job(
        ctx,
        {
            "dataset_id": record.id,
            "part": "val",
            "held_out": [imported["dataset_id"]],
            "models": [{"label": "base", "path": None}],
            "rerankers": [{"label": "ce", "path": str(model_folder(tmp_path, "ce"))}],
        },
    )
    assert set(result["metrics"]) == {"base", "base + rerank ce"}
    assert set(result["held_out"][imported["dataset_id"]]) == {"base", "base + rerank ce"}
    assert len(result["reports"]) == 4
    validation = latest_reports(workspace, record.id, "val")
    held_out = latest_reports(workspace, imported["dataset_id"], "all")
    assert [len(r.per_query) for r in validation] == [1, 1] and [len(r.per_query) for r in held_out] == [3, 3]
    metrics = [data for event, data in ctx.events if event == "metrics"]
    assert [data["dataset_id"] for data in metrics] == [record.id] * 2 + [imported["dataset_id"]] * 2
    done = [call[0] for call in ctx.progress_calls]  # one bar over both sets: it never starts again
    assert done == sorted(done) and done[-1] == ctx.progress_calls[-1][1]


def test_the_library_refuses_to_train_on_an_evaluation_only_set(workspace, imported):
    from ragtune_core.training import train_and_register
    from ragtune_core.training.config import EmbeddingTrainConfig, TrainingError

    with pytest.raises(TrainingError, match="dataset 'hw' is an evaluation-only set"):
        train_and_register(workspace, imported["dataset_id"], "m", EmbeddingTrainConfig())
    assert workspace.list_models() == []
