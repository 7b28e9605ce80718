import json
from collections import Counter

import pytest

from ragtune_core.questions.qa_dataset import (
    DatasetError,
    QADataset,
    part_caveat,
    plan_split,
    reported_part,
    split_dataset,
)

# Exactly what llama-index's EmbeddingQAFinetuneDataset.save_json writes (json.dump of its model, indent 4).
LLAMA_INDEX_FILE = """{
    "queries": {
        "6f0e7c1a-0d1b-4c59-9d44-0c0f5d1e2a11": "What was Lyft's revenue in 2021?",
        "b3a2c9f4-57e8-4f0e-a1d2-6e3b8c9d0f22": "How many riders did Lyft have?"
    },
    "corpus": {
        "node-1": "Revenue was $3.2 billion in 2021.",
        "node-2": "Active riders reached 18.7 million."
    },
    "relevant_docs": {
        "6f0e7c1a-0d1b-4c59-9d44-0c0f5d1e2a11": ["node-1"],
        "b3a2c9f4-57e8-4f0e-a1d2-6e3b8c9d0f22": ["node-2"]
    },
    "mode": "text"
}"""


def many_documents(n_docs: int = 10, per_doc: int = 3) -> QADataset:
    queries, corpus, relevant, docs = {}, {}, {}, {}
    for d in range(n_docs):
        for c in range(per_doc):
            pid = f"d{d}-c{c}"
            corpus[pid] = f"passage {c} of document {d}"
            docs[pid] = f"doc-{d}"
            queries[f"q-{pid}"] = f"question about {pid}?"
            relevant[f"q-{pid}"] = [pid]
    return QADataset(queries, corpus, relevant, passage_docs=docs)


def test_save_and_load_round_trip_keeps_ragtune_extras(tmp_path):
    dataset = many_documents(2, 2)
    dataset.split = {q: "val" if i % 2 else "train" for i, q in enumerate(dataset.queries)}
    tools = [
        {"id": pid, "name": f"tool_{pid}", "description": text, "kind": "", "document_id": None}
        for pid, text in dataset.corpus.items()
    ]
    dataset.kind, dataset.extra = "router", {"tools": tools}
    path = tmp_path / "nested" / "dataset.json"
    dataset.save(path)
    assert QADataset.load(path) == dataset
    assert json.loads(path.read_text())["ragtune"]["kind"] == "router"
    assert [p.name for p in path.parent.iterdir()] == ["dataset.json"]  # no temporary file left


def test_llama_index_only_export_has_exactly_its_four_keys(tmp_path):
    dataset = many_documents(2, 1)
    dataset.split = {q: "train" for q in dataset.queries}
    path = tmp_path / "export.json"
    dataset.save(path, llama_index_only=True)
    data = json.loads(path.read_text())
    assert set(data) == {"queries", "corpus", "relevant_docs", "mode"}
    back = QADataset.load(path)
    assert (back.queries, back.corpus, back.relevant_docs) == (dataset.queries, dataset.corpus, dataset.relevant_docs)
    assert (back.split, back.passage_docs, back.kind) == ({}, {}, "qa")


def test_a_file_in_llama_index_layout_loads(tmp_path):
    path = tmp_path / "train_dataset.json"
    path.write_text(LLAMA_INDEX_FILE)
    dataset = QADataset.load(path)
    assert dataset.queries["6f0e7c1a-0d1b-4c59-9d44-0c0f5d1e2a11"] == "What was Lyft's revenue in 2021?"
    assert dataset.relevant_docs["b3a2c9f4-57e8-4f0e-a1d2-6e3b8c9d0f22"] == ["node-2"]
    assert dataset.mode == "text" and dataset.split == {} and dataset.kind == "qa"
    assert dataset.pairs() == [
        ("What was Lyft's revenue in 2021?", "Revenue was $3.2 billion in 2021."),
        ("How many riders did Lyft have?", "Active riders reached 18.7 million."),
    ]


def test_a_single_relevant_id_given_as_a_string_is_accepted():
    data = json.loads(LLAMA_INDEX_FILE)
    data["relevant_docs"] = {q: ids[0] for q, ids in data["relevant_docs"].items()}
    assert list(QADataset.from_json_dict(data).relevant_docs.values()) == [["node-1"], ["node-2"]]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("corpus"), "missing corpus"),
        (lambda d: d.update(queries=["a question"]), "queries: expected an object, got a list of 1"),
        (lambda d: d["relevant_docs"].update({"ghost": ["node-1"]}), "names query 'ghost', which is not in queries"),
        (
            lambda d: d["relevant_docs"].update({"b3a2c9f4-57e8-4f0e-a1d2-6e3b8c9d0f22": ["node-9"]}),
            r"points at passages not in corpus: \['node-9'\]",
        ),
        (
            lambda d: d["relevant_docs"].update({"b3a2c9f4-57e8-4f0e-a1d2-6e3b8c9d0f22": []}),
            "1 queries have no relevant passage, e.g. 'b3a2c9f4",
        ),
        (
            lambda d: d["relevant_docs"].update({"b3a2c9f4-57e8-4f0e-a1d2-6e3b8c9d0f22": 7}),
            r'relevant_docs\["b3a2c9f4-57e8-4f0e-a1d2-6e3b8c9d0f22"\]: expected a list or a non-empty string, got 7',
        ),
    ],
)
def test_bad_content_gives_a_dataset_error_saying_what_is_wrong(change, message):
    data = json.loads(LLAMA_INDEX_FILE)
    change(data)
    with pytest.raises(DatasetError, match=message):
        QADataset.from_json_dict(data)


def test_bad_files_are_named(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"queries": {')
    with pytest.raises(DatasetError, match="broken.json is not valid JSON"):
        QADataset.load(broken)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(
        DatasetError, match="list.json: expected an object with queries, corpus, relevant_docs, got a list"
    ):
        QADataset.load(listing)


def test_split_by_document_holds_out_whole_documents_for_validation_and_test():
    dataset = many_documents(10, 3)
    split = split_dataset(dataset, val_ratio=0.3, by="document", seed=1)
    assert set(split) == set(dataset.queries)
    doc_of = {q: dataset.passage_docs[dataset.relevant_docs[q][0]] for q in dataset.queries}
    docs = {part: {doc_of[q] for q, p in split.items() if p == part} for part in ("train", "val", "test")}
    assert not docs["val"] & docs["train"] and not docs["test"] & docs["train"] and not docs["val"] & docs["test"]
    assert (len(docs["val"]), len(docs["test"]), len(docs["train"])) == (3, 2, 5)  # 30% and 20% of 10 documents
    assert sum(part == "test" for part in split.values()) == 6  # with all of their questions


def test_a_test_part_leaves_the_validation_part_of_a_two_part_split_as_it_was():
    dataset = many_documents(10, 3)
    for by in ("document", "query"):
        two = split_dataset(dataset, 0.2, by, seed=5, test_ratio=0)
        three = split_dataset(dataset, 0.2, by, seed=5)
        assert set(two.values()) == {"train", "val"} and "test" in three.values()
        assert {q for q, p in two.items() if p == "val"} == {q for q, p in three.items() if p == "val"}


def test_split_by_document_keeps_a_document_for_training():
    split = split_dataset(many_documents(3, 2), val_ratio=0.6, test_ratio=0.3, by="document")
    assert sorted(split.values()) == ["test", "train", "train", "val", "val", "val"]


@pytest.mark.parametrize("n_docs", [2, 5, 9])
def test_few_documents_share_the_held_out_ones_between_validation_and_test(n_docs):
    """A test part takes no document from training: it trains on what a two-part split trains on."""
    dataset = many_documents(n_docs, 10)
    split = plan_split(dataset, 0.2, "document", seed=3)
    two_part = plan_split(dataset, 0.2, "document", seed=3, test_ratio=0)
    assert split.by == "document" and f"with {n_docs} documents" in split.note
    train = {q for q, part in split.parts.items() if part == "train"}
    assert train == {q for q, part in two_part.parts.items() if part == "train"}
    doc_of = {q: dataset.passage_docs[dataset.relevant_docs[q][0]] for q in dataset.queries}
    held_out = {doc_of[q] for q in dataset.queries if q not in train}
    assert not held_out & {doc_of[q] for q in train}
    counts = Counter(part for q, part in split.parts.items() if q not in train)
    assert counts["test"] == counts["val"] == len(held_out) * 10 // 2  # test 0.2 of val 0.2 + test 0.2


def test_one_document_is_split_by_question_and_the_split_says_so():
    dataset = many_documents(1, 12)
    split = plan_split(dataset, 0.2, "document", seed=3)
    assert split.by == "query" and "come from one document" in split.note
    assert split.parts == plan_split(dataset, 0.2, "query", seed=3).parts
    assert sorted(set(split.parts.values())) == ["test", "train", "val"]


def test_a_split_as_asked_has_no_note():
    split = plan_split(many_documents(10, 2), 0.2, "document")
    assert split.by == "document" and split.note is None
    assert plan_split(many_documents(2, 2), 0.5, "document", test_ratio=0).note is None


@pytest.mark.parametrize("test_ratio", [-0.1, 0.8, 1])
def test_split_rejects_a_test_ratio_that_leaves_no_train_part(test_ratio):
    with pytest.raises(DatasetError, match="test ratio"):
        split_dataset(many_documents(), val_ratio=0.2, test_ratio=test_ratio)


def test_the_reported_part_is_test_else_validation_with_a_caveat_else_all(tmp_path):
    dataset = many_documents(4, 2)
    assert reported_part(dataset) == ("all", None)
    dataset.split = split_dataset(dataset, 0.25, "document", seed=0)
    assert reported_part(dataset) == ("test", None)
    # a dataset saved before test parts existed: train and validation only
    old = json.loads(LLAMA_INDEX_FILE)
    old["ragtune"] = {"split": dict(zip(old["queries"], ["train", "val"], strict=True))}
    (tmp_path / "old.json").write_text(json.dumps(old))
    loaded = QADataset.load(tmp_path / "old.json")
    assert len(loaded.subset("train").queries) == len(loaded.subset("val").queries) == 1
    part, caveat = reported_part(loaded)
    assert part == "val" and "no test part" in caveat and "chose each fine-tuned model's kept checkpoint" in caveat
    assert "report the test part" in part_caveat(dataset, "val") and part_caveat(dataset, "test") is None


def test_split_by_query_respects_ratio_and_seed():
    dataset = many_documents(10, 3)
    split = split_dataset(dataset, val_ratio=0.2, by="query", seed=7)
    assert sum(part == "val" for part in split.values()) == 6
    assert split == split_dataset(dataset, val_ratio=0.2, by="query", seed=7)
    assert split != split_dataset(dataset, val_ratio=0.2, by="query", seed=8)
    assert list(split) == list(dataset.queries)


def test_split_by_document_is_reproducible_per_seed():
    dataset = many_documents(12, 2)
    splits = {seed: split_dataset(dataset, 0.25, "document", seed) for seed in range(5)}
    assert splits[3] == split_dataset(dataset, 0.25, "document", 3)
    assert len({tuple(sorted(s.items())) for s in splits.values()}) > 1


@pytest.mark.parametrize("ratio", [0, 1, -0.1, 1.5])
def test_split_rejects_a_ratio_outside_zero_and_one(ratio):
    with pytest.raises(DatasetError, match="between 0 and 1"):
        split_dataset(many_documents(), val_ratio=ratio)


def test_split_rejects_an_unknown_mode():
    with pytest.raises(DatasetError, match="split by must be one of"):
        split_dataset(many_documents(), by="chunk")


def test_subset_keeps_one_part_and_the_whole_corpus():
    dataset = many_documents(4, 1)
    with pytest.raises(DatasetError, match="no train/validation split"):
        dataset.subset("val")
    dataset.split = split_dataset(dataset, 0.5, "query", seed=0)
    val = dataset.subset("val")
    assert set(val.queries) == {q for q, part in dataset.split.items() if part == "val"}
    assert set(val.relevant_docs) == set(val.queries) and val.corpus == dataset.corpus
    assert dataset.subset(None) is dataset
