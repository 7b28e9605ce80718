import json
import re

import pytest

from ragtune_core.cli import main
from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.evaluation import retrieval
from ragtune_core.evaluation.retrieval import latest_reports
from ragtune_core.questions.qa_dataset import load_dataset, save_dataset
from ragtune_core.store.models import DEFAULT_BASE_MODEL, ModelNotFound, bundled_model_path
from tests.evaluation.test_evaluation import small_case, synthetic_dataset
from tests.questions.test_qa_dataset import LLAMA_INDEX_FILE, many_documents


def run(capsys, workspace, *argv) -> tuple[int, dict | None, str]:
    code = main(["--workspace", str(workspace.root), *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


@pytest.fixture
def llama_file(tmp_path):
    path = tmp_path / "lyft_train.json"
    path.write_text(LLAMA_INDEX_FILE)
    return path


def test_import_a_llama_index_file_and_list_it(capsys, workspace, llama_file):
    code, summary, err = run(capsys, workspace, "import-dataset", str(llama_file), "--name", "lyft")
    assert code == 0, err
    assert (summary["name"], summary["queries"], summary["passages"], summary["corpus_id"]) == ("lyft", 2, 2, None)
    assert load_dataset(workspace, summary["dataset_id"]).queries == json.loads(LLAMA_INDEX_FILE)["queries"]
    code, listing, _ = run(capsys, workspace, "datasets")
    assert code == 0
    assert [(d["name"], d["queries"], d["params"]) for d in listing["datasets"]] == [
        ("lyft", 2, {"imported": "lyft_train.json"})
    ]


def corpus_of(workspace, dataset) -> str:
    chunks = [Chunk(pid, dataset.passage_docs[pid], text) for pid, text in dataset.corpus.items()]
    documents = [Document(doc, doc, "text:" + doc, "...") for doc in sorted(set(dataset.passage_docs.values()))]
    return save_corpus(workspace, "docs", documents, chunks, {}).id


ROUTER_FILE = {  # as the seeds ship router datasets: plain LlamaIndex JSON, tools as the corpus
    "queries": {
        "q1": "When was Oslo founded?",
        "q2": "Sum up Oslo.",
        "q3": "How tall is Lima's tallest tower?",
        "q4": "Give me an overview of Lima.",
    },
    "corpus": {
        "vector_tool_oslo": "Specific facts about Oslo.",
        "summary_tool_oslo": "A summary of Oslo.",
        "vector_tool_lima": "Specific facts about Lima.",
        "summary_tool_lima": "A summary of Lima.",
    },
    "relevant_docs": {
        "q1": ["vector_tool_oslo"],
        "q2": ["summary_tool_oslo"],
        "q3": ["vector_tool_lima"],
        "q4": ["summary_tool_lima"],
    },
    "mode": "text",
}


def test_a_plain_file_whose_passages_are_tools_is_imported_as_a_router_dataset(capsys, workspace, tmp_path):
    path = tmp_path / "router.json"
    path.write_text(json.dumps(ROUTER_FILE))
    code, summary, _ = run(capsys, workspace, "import-dataset", str(path), "--name", "guessed")
    assert code == 0 and (summary["kind"], summary["kind_guessed"]) == ("router", True)
    dataset = load_dataset(workspace, summary["dataset_id"])
    tools = {t["name"]: (t["kind"], t["document_id"]) for t in dataset.extra["tools"]}
    assert tools["vector_tool_oslo"] == ("vector", "oslo") and tools["summary_tool_lima"] == ("summary", "lima")
    code, summary, _ = run(
        capsys, workspace, "split", "guessed", "--by", "document", "--val-ratio", "0.5", "--test-ratio", "0"
    )
    assert code == 0 and (summary["train"], summary["val"]) == (2, 2)  # one city each: its tools stay together
    code, summary, _ = run(capsys, workspace, "split", "guessed", "--by", "document")  # two cities, three parts
    assert (
        code == 0 and summary["by"] == "document" and (summary["train"], summary["val"], summary["test"]) == (2, 1, 1)
    )
    assert "validation and test share the 1 document(s) held out from training" in summary["note"]
    code, _, _ = run(capsys, workspace, "compare-selectors", "guessed", "--embedding", "base")
    assert code == 0

    code, summary, _ = run(capsys, workspace, "import-dataset", str(path), "--name", "as-qa", "--kind", "qa")
    assert code == 0 and (summary["kind"], summary["kind_guessed"]) == ("qa", False)
    code, summary, _ = run(capsys, workspace, "import-dataset", str(path), "--name", "told", "--kind", "router")
    assert code == 0 and (summary["kind"], summary["kind_guessed"]) == ("router", False)


def test_chunk_ids_and_uuids_are_not_taken_for_tools(capsys, workspace, llama_file):
    code, summary, _ = run(capsys, workspace, "import-dataset", str(llama_file), "--name", "qa")
    assert code == 0 and (summary["kind"], summary["kind_guessed"]) == ("qa", True)  # the file names no kind
    assert summary["kind_note"] == "qa: guessed, the file names no kind and its answers are not tool names"


def test_import_with_a_corpus_links_passages_to_their_documents(capsys, workspace, tmp_path):
    dataset = many_documents(4, 2)
    corpus_id = corpus_of(workspace, dataset)
    path = tmp_path / "plain.json"
    dataset.save(path, llama_index_only=True)  # no passage -> document map in the file
    code, summary, err = run(capsys, workspace, "import-dataset", str(path), "--name", "linked", "--corpus", "docs")
    assert code == 0, err
    assert summary["corpus_id"] == corpus_id
    assert load_dataset(workspace, summary["dataset_id"]).passage_docs == dataset.passage_docs
    assert workspace.get_dataset(summary["dataset_id"]).corpus_id == corpus_id


def test_import_refuses_passages_that_are_not_chunks_of_the_corpus(capsys, workspace, llama_file):
    corpus_of(workspace, many_documents(2, 1))
    code, summary, err = run(capsys, workspace, "import-dataset", str(llama_file), "--name", "x", "--corpus", "docs")
    assert (code, summary) == (2, None)
    assert "lyft_train.json: 2 passages are not chunks of corpus 'docs'" in err
    assert workspace.list_datasets() == []


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"queries": {', "broken.json is not valid JSON"),
        ('{"queries": {}, "corpus": {}}', "broken.json: missing relevant_docs"),
        (
            '{"queries": {"q": "?"}, "corpus": {}, "relevant_docs": {"q": ["p"]}}',
            "broken.json: corpus: expected at least one",
        ),
        (
            '{"queries": {"q": "?"}, "corpus": {"x": "."}, "relevant_docs": {"q": ["p"]}}',
            "broken.json: query 'q' points at",
        ),
        (b"\xff\xfe{}", "broken.json is not UTF-8 text"),
    ],
)
def test_import_of_a_bad_file_names_it_and_saves_nothing(capsys, workspace, tmp_path, content, message):
    path = tmp_path / "broken.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, summary, err = run(capsys, workspace, "import-dataset", str(path), "--name", "broken")
    assert (code, summary) == (2, None)
    assert message in err
    assert workspace.list_datasets() == []


def test_import_refuses_a_missing_file_and_a_taken_name(capsys, workspace, llama_file, tmp_path):
    code, _, err = run(capsys, workspace, "import-dataset", str(tmp_path / "nope.json"), "--name", "n")
    assert code == 2 and "no such file" in err and "nope.json" in err
    assert run(capsys, workspace, "import-dataset", str(llama_file), "--name", "lyft")[0] == 0
    before = workspace.dataset_path(workspace.list_datasets()[0].id).read_text()
    code, _, err = run(capsys, workspace, "import-dataset", str(llama_file), "--name", "lyft")
    assert code == 2 and "a dataset named 'lyft' already exists" in err
    assert len(workspace.list_datasets()) == 1
    assert workspace.dataset_path(workspace.list_datasets()[0].id).read_text() == before


@pytest.fixture
def split_dataset_record(workspace):
    dataset = many_documents(5, 2)
    dataset.split = {q: "val" if q.startswith("q-d0") else "train" for q in dataset.queries}
    return save_dataset(workspace, "docs-qa", dataset, None, {})


def test_export_whole_dataset_one_part_or_llama_index_only(capsys, workspace, split_dataset_record, tmp_path):
    full, val = tmp_path / "full.json", tmp_path / "out" / "val.json"
    code, summary, err = run(capsys, workspace, "export-dataset", "docs-qa", "--out", str(full))
    assert code == 0, err
    assert (summary["queries"], summary["part"], summary["format"]) == (10, "all", "llama-index+ragtune")
    assert json.loads(full.read_text())["ragtune"]["split"] == load_dataset(workspace, split_dataset_record.id).split

    code, summary, err = run(
        capsys,
        workspace,
        "export-dataset",
        split_dataset_record.id,
        "--part",
        "val",
        "--llama-index",
        "--out",
        str(val),
    )
    assert code == 0, err
    data = json.loads(val.read_text())
    assert set(data) == {"queries", "corpus", "relevant_docs", "mode"}
    assert sorted(data["queries"]) == ["q-d0-c0", "q-d0-c1"] and len(data["corpus"]) == 10
    assert summary["queries"] == 2


def test_export_never_clobbers_a_file_without_force(capsys, workspace, split_dataset_record, tmp_path):
    out = tmp_path / "mine.json"
    out.write_text("precious")
    code, _, err = run(capsys, workspace, "export-dataset", "docs-qa", "--out", str(out))
    assert code == 2 and "already exists; pass --force" in err
    assert out.read_text() == "precious"
    assert run(capsys, workspace, "export-dataset", "docs-qa", "--out", str(out), "--force")[0] == 0
    assert len(json.loads(out.read_text())["queries"]) == 10
    code, _, err = run(capsys, workspace, "export-dataset", "docs-qa", "--out", str(tmp_path))
    assert code == 2 and "is a folder" in err


def test_export_errors_name_the_dataset(capsys, workspace, tmp_path):
    save_dataset(workspace, "unsplit", many_documents(2, 1), None, {})
    code, _, err = run(capsys, workspace, "export-dataset", "unsplit", "--part", "val", "--out", str(tmp_path / "a"))
    assert code == 2 and "dataset 'unsplit': this dataset has no train/validation split yet" in err
    assert not (tmp_path / "a").exists()
    code, _, err = run(capsys, workspace, "export-dataset", "ghost", "--out", str(tmp_path / "b"))
    assert code == 2 and "no dataset with id 'ghost'" in err


def test_split_by_document_is_stored(capsys, workspace, split_dataset_record):
    code, summary, err = run(
        capsys, workspace, "split", "docs-qa", "--by", "document", "--val-ratio", "0.4", "--seed", "3"
    )
    assert code == 0, err
    # five documents: validation and test share the two held out (40% of five); test gets a third of their
    # four questions, 0.2 / (0.4 + 0.2), rounded
    assert (summary["train"], summary["val"], summary["test"], summary["by"]) == (6, 3, 1, "document")
    assert "validation and test share the 2 document(s) held out" in summary["note"]
    dataset = load_dataset(workspace, split_dataset_record.id)
    docs = {
        part: {dataset.passage_docs[dataset.relevant_docs[q][0]] for q, p in dataset.split.items() if p == part}
        for part in ("train", "val", "test")
    }
    assert len(docs["val"] | docs["test"]) == 2 and not (docs["val"] | docs["test"]) & docs["train"]
    code, again, _ = run(capsys, workspace, "split", split_dataset_record.id, "--by", "query", "--val-ratio", "0.3")
    assert code == 0 and (again["train"], again["val"], again["test"]) == (5, 3, 2)
    code, two, _ = run(capsys, workspace, "split", "docs-qa", "--val-ratio", "0.3", "--test-ratio", "0")
    assert code == 0 and (two["train"], two["val"], two["test"]) == (6, 4, 0)


def test_a_bad_split_leaves_the_stored_split_alone(capsys, workspace, split_dataset_record):
    before = load_dataset(workspace, split_dataset_record.id).split
    code, _, err = run(capsys, workspace, "split", "docs-qa", "--val-ratio", "1.5")
    assert code == 2 and "dataset 'docs-qa': the validation ratio must be between 0 and 1" in err
    code, _, err = run(capsys, workspace, "split", "docs-qa", "--val-ratio", "0.5", "--test-ratio", "0.5")
    assert code == 2 and "dataset 'docs-qa': the test ratio must be at least 0 and leave a train part" in err
    assert load_dataset(workspace, split_dataset_record.id).split == before


def test_a_split_by_document_of_one_document_adapts_and_says_so(capsys, workspace):
    record = save_dataset(workspace, "one-doc", many_documents(1, 5), None, {})
    code, summary, err = run(capsys, workspace, "split", "one-doc")  # by document, the default
    assert code == 0, err
    assert summary["by"] == "query" and "split by question instead of by document" in summary["note"]
    assert (summary["train"], summary["val"], summary["test"]) == (3, 1, 1)
    assert workspace.get_dataset(record.id).params["split_by"] == "query"


@pytest.fixture
def fake_models(monkeypatch):
    """Any model name loads the vector-table model of the small evaluation case; "missing" fails."""
    loaded = []
    _, model = small_case()

    def load(path):
        if path == "missing":
            raise ModelNotFound("could not load model 'missing': not found")
        loaded.append(path)
        return model

    monkeypatch.setattr(retrieval, "load_embedder", load)
    return loaded


def test_evaluate_base_and_a_workspace_model(capsys, workspace, fake_models, tmp_path):
    dataset, _ = small_case()
    record = save_dataset(workspace, "toy", dataset, None, {})
    (tmp_path / "mine").mkdir()  # model folders exist: a missing one is named as missing
    (tmp_path / "folder").mkdir()
    mine = workspace.register_model("mine", "embedding", tmp_path / "mine", "base")
    code, summary, err = run(capsys, workspace, "evaluate", "toy", "--model", "base", "--model", "mine")
    assert code == 0, err
    assert fake_models == [None, str(tmp_path / "mine")] * 2  # loaded up front, then for evaluation
    assert (summary["part"], summary["queries"], summary["passages"]) == ("val", 2, 5)  # no test part: val
    assert "this dataset has no test part: the validation part chose" in summary["note"]
    assert list(summary["models"]) == [DEFAULT_BASE_MODEL, "mine"]
    assert summary["models"]["mine"]["accuracy@1"] == pytest.approx(0.5)
    reports = latest_reports(workspace, record.id, "val")
    assert [r.report_id for r in reports] == summary["reports"]
    assert reports[1].model_path == mine.path
    assert re.search(r"evaluate: \d+% · .* · mine: encoded \d+/\d+ texts", err)

    code, summary, _ = run(
        capsys, workspace, "evaluate", record.id, "--model", str(tmp_path / "folder"), "--part", "all"
    )
    assert code == 0 and summary["queries"] == 3 and list(summary["models"]) == [str(tmp_path / "folder")]


def test_evaluate_reports_the_test_part_by_default_and_says_when_validation_chose(capsys, workspace, fake_models):
    dataset, _ = small_case()
    first, second, third = dataset.queries
    dataset.split = {first: "train", second: "val", third: "test"}
    save_dataset(workspace, "three", dataset, None, {})
    code, summary, err = run(capsys, workspace, "evaluate", "three", "--model", "base")
    assert code == 0, err
    assert (summary["part"], summary["queries"]) == ("test", 1) and "note" not in summary
    code, summary, err = run(capsys, workspace, "evaluate", "three", "--model", "base", "--part", "val")
    assert code == 0 and summary["part"] == "val" and "report the test part's" in summary["note"]


def test_evaluate_defaults_to_all_questions_of_an_unsplit_dataset(capsys, workspace, fake_models):
    dataset, _ = small_case()
    dataset.split = {}
    save_dataset(workspace, "unsplit", dataset, None, {})
    code, summary, err = run(capsys, workspace, "evaluate", "unsplit", "--model", "base")
    assert code == 0, err
    assert (summary["part"], summary["queries"]) == ("all", 3)
    code, _, err = run(capsys, workspace, "evaluate", "unsplit", "--model", "base", "--part", "val")
    assert code == 2 and "no train/validation split" in err


def test_evaluate_bad_input_saves_no_report(capsys, workspace, fake_models):
    dataset, _ = small_case()
    save_dataset(workspace, "toy", dataset, None, {})
    code, _, err = run(capsys, workspace, "evaluate", "toy", "--model", "base", "--model", "missing")
    assert code == 2 and "unknown model 'missing'" in err
    code, _, err = run(capsys, workspace, "evaluate", "nothing", "--model", "base")
    assert code == 2 and "no dataset with id 'nothing'" in err
    code, _, err = run(capsys, workspace, "evaluate", "toy", "--model", "base", "--batch-size", "0")
    assert code == 2 and "--batch-size" in err
    assert list((workspace.root / "evaluations").glob("*.json")) == []


@pytest.mark.slow
def test_evaluate_the_bundled_model_from_the_command_line(capsys, workspace):
    record = save_dataset(workspace, "towns", synthetic_dataset(), None, {})
    tuned = workspace.register_model("copy-of-base", "embedding", bundled_model_path(), "base")
    code, summary, err = run(
        capsys, workspace, "evaluate", "towns", "--model", "base", "--model", tuned.id, "--part", "all"
    )
    assert code == 0, err
    assert summary["queries"] == 30 and summary["passages"] == 61
    base, copy = summary["models"][DEFAULT_BASE_MODEL], summary["models"]["copy-of-base"]
    assert base == pytest.approx(copy)  # the same weights give the same numbers
    assert 0.5 < base["mrr@10"] < 1
    assert len(latest_reports(workspace, record.id, "all")) == 2


def test_an_explicit_kind_in_the_file_wins_over_the_guess(capsys, workspace, tmp_path):
    path = tmp_path / "says-qa.json"  # answers shaped like tool names, but the file says it is QA
    path.write_text(json.dumps({**ROUTER_FILE, "ragtune": {"kind": "qa"}}))
    code, summary, err = run(capsys, workspace, "import-dataset", str(path), "--name", "said")
    assert code == 0, err
    assert (summary["kind"], summary["kind_guessed"]) == ("qa", False)
    assert summary["kind_note"] == "qa: as the file says (ragtune.kind)"


def test_a_guess_says_it_was_a_guess(capsys, workspace, tmp_path):
    path = tmp_path / "router.json"
    path.write_text(json.dumps(ROUTER_FILE))
    code, summary, _ = run(capsys, workspace, "import-dataset", str(path), "--name", "guessed", "--kind", "guess")
    assert code == 0 and summary["kind_guessed"] and "guessed" in summary["kind_note"]


def test_a_kind_that_contradicts_the_file_is_refused_and_nothing_is_saved(capsys, workspace, tmp_path):
    path = tmp_path / "says-qa.json"
    path.write_text(json.dumps({**ROUTER_FILE, "ragtune": {"kind": "qa"}}))
    code, summary, err = run(capsys, workspace, "import-dataset", str(path), "--name", "x", "--kind", "router")
    assert (code, summary) == (2, None)
    assert "says-qa.json says it is a qa dataset (ragtune.kind), but router was chosen" in err
    assert len(err.strip().splitlines()) == 1 and workspace.list_datasets() == []
