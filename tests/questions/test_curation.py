import time

import numpy as np
import pandas as pd
import pytest

from ragtune_core.corpus.documents import Chunk
from ragtune_core.questions.curation import (
    Duplicate,
    accept_draft,
    apply_table,
    coverage,
    drop_duplicates,
    find_duplicates,
    load_draft,
    normalise_question,
    questions_table,
    save_draft,
)
from ragtune_core.questions.drafts import DraftResult
from ragtune_core.questions.qa_dataset import DatasetError, QADataset, load_dataset, save_dataset
from ragtune_core.store.workspace import WorkspaceError


def draft() -> QADataset:
    return QADataset(
        queries={
            "q1": "What is the population of Toronto?",
            "q2": "what is the population of toronto",
            "q3": "When was the harbour built?",
            "q4": "Who designed the bridge?",
        },
        corpus={
            "c1": "Toronto has 2.8 million people.",
            "c2": "The harbour dates from 1850.",
            "c3": "An engineer designed the bridge.",
            "c4": "Nobody asked about this one.",
        },
        relevant_docs={"q1": ["c1"], "q2": ["c1"], "q3": ["c2", "c3"], "q4": ["c3"]},
        passage_docs={"c1": "doc-a", "c2": "doc-a", "c3": "doc-b", "c4": "doc-b"},
        split={"q1": "train", "q2": "train", "q3": "val", "q4": "val"},
        extra={"note": "kept"},
    )


def test_normalise_ignores_case_punctuation_and_spacing():
    assert normalise_question("  What's   the CAPITAL?! ") == normalise_question("whats the capital")


def test_exact_duplicates_flag_later_copies_of_the_first():
    questions = {"a": "Where is the port?", "b": "Who built it?", "c": "where is the PORT", "d": "Where is the port ?"}
    assert find_duplicates(questions) == {"c": Duplicate("a", "exact", 1.0), "d": Duplicate("a", "exact", 1.0)}


def test_near_duplicates_by_character_trigrams_without_embeddings():
    questions = {
        "a": "What is the population of Toronto?",
        "b": "What is the populaton of Toronto?",
        "c": "What is the population of Montreal?",
        "d": "How many people live in Toronto?",
    }
    found = find_duplicates(questions)
    assert set(found) == {"b"}  # a typo is near; another city or a paraphrase is not
    assert (found["b"].of, found["b"].kind) == ("a", "near")
    assert 0.75 <= found["b"].score < 1
    assert find_duplicates(questions, threshold=1.0) == {}  # Jaccard held to 1.0 - 0.15
    assert set(find_duplicates(questions, threshold=0.75)) == {"b", "c"}


def test_near_duplicates_by_embedding_cosine_compare_with_kept_questions_only():
    questions = {"a": "one", "b": "two", "c": "three", "d": "four"}
    embeddings = np.array([[1.0, 0.0], [0.95, 0.31], [0.81, 0.59], [0.0, 1.0]])  # a~b (0.95), b~c (0.95), a-c 0.81
    found = find_duplicates(questions, threshold=0.9, embeddings=embeddings)
    assert list(found) == ["b"]  # c is close to b, but b is dropped, and c is far from the kept a
    assert found["b"] == Duplicate("a", "near", pytest.approx(0.95, abs=1e-3))
    with pytest.raises(ValueError, match="3 embeddings for 4 questions"):
        find_duplicates(questions, embeddings=embeddings[:3])


def test_duplicate_search_over_5000_questions_is_fast():
    rng = np.random.default_rng(0)
    topics = ["harbour", "bridge", "museum", "climate", "economy", "history", "schools", "parks"]
    questions = {
        f"q{i}": f"What does the report say about the {topics[i % 8]} of town {rng.integers(10**6)} "
        f"in year {1800 + i % 200}?"
        for i in range(5000)
    }
    questions["copy"] = questions["q17"].upper()
    start = time.perf_counter()
    found = find_duplicates(questions)
    assert time.perf_counter() - start < 20  # blocked vectorised similarity, a few seconds on a busy core
    assert found["copy"] == Duplicate("q17", "exact", 1.0)
    embeddings = rng.normal(size=(len(questions), 64))
    start = time.perf_counter()
    assert find_duplicates(questions, embeddings=embeddings)["copy"].kind == "exact"
    assert time.perf_counter() - start < 20


def test_questions_table_shows_passages_duplicates_and_locations():
    dataset = draft()
    chunks = {"c1": Chunk("c1", "doc-a", "...", page=3), "c2": Chunk("c2", "doc-a", "...", section="Port")}
    table = questions_table(dataset, chunks)
    assert list(table.columns) == [
        "query_id",
        "question",
        "chunk_id",
        "document",
        "passage",
        "duplicate",
        "page",
        "section",
    ]
    assert table["query_id"].tolist() == ["q1", "q2", "q3", "q4"]
    assert table["chunk_id"].tolist() == ["c1", "c1", "c2", "c3"]  # a question's first relevant passage
    assert table.loc[0, "passage"] == "Toronto has 2.8 million people."
    assert table["duplicate"].tolist() == ["", "exact of q1", "", ""]
    assert table["page"].tolist()[:2] == [3, 3] and pd.isna(table.loc[3, "page"])
    assert table.loc[2, "section"] == "Port"
    near = questions_table(dataset, duplicates={"q4": Duplicate("q3", "near", 0.931)})
    assert "page" not in near.columns
    assert near["duplicate"].tolist() == ["", "", "", "near q3 (0.93)"]


def test_apply_table_applies_edits_deletions_and_additions():
    dataset = draft()
    table = questions_table(dataset)
    table.loc[0, "question"] = "  How many people live in Toronto?  "
    table = table[table["query_id"] != "q2"]  # deleted row
    table.loc[3, "chunk_id"] = "c4"  # q4 now points at another passage
    added = pd.DataFrame([{"query_id": None, "question": "What is in the museum?", "chunk_id": "c4"}])
    curated = apply_table(dataset, pd.concat([table, added], ignore_index=True))

    new_ids = [q for q in curated.queries if q not in dataset.queries]
    assert len(new_ids) == 1
    assert list(curated.queries) == ["q1", "q3", "q4", new_ids[0]]
    assert curated.queries["q1"] == "How many people live in Toronto?"
    assert curated.relevant_docs == {"q1": ["c1"], "q3": ["c2", "c3"], "q4": ["c4"], new_ids[0]: ["c4"]}
    assert curated.split == {"q1": "train", "q3": "val", "q4": "val"}  # new questions are split on accept
    assert (curated.corpus, curated.passage_docs, curated.extra) == (
        dataset.corpus,
        dataset.passage_docs,
        dataset.extra,
    )
    assert list(dataset.queries) == ["q1", "q2", "q3", "q4"]  # the original is untouched


def test_apply_table_names_the_bad_row():
    dataset = draft()
    empty = questions_table(dataset)
    empty.loc[2, "question"] = "   "
    with pytest.raises(DatasetError, match="row 3: the question is empty"):
        apply_table(dataset, empty)
    blank_new = pd.concat([questions_table(dataset), pd.DataFrame([{"question": float("nan"), "chunk_id": "c1"}])])
    with pytest.raises(DatasetError, match="row 5: the question is empty"):
        apply_table(dataset, blank_new)
    unknown = questions_table(dataset)
    unknown.loc[1, "chunk_id"] = "c99"
    with pytest.raises(DatasetError, match=r"row 2 \('what is the population of toronto'\): 'c99' is not a passage"):
        apply_table(dataset, unknown)
    no_passage = pd.concat([questions_table(dataset), pd.DataFrame([{"question": "New?", "chunk_id": None}])])
    with pytest.raises(DatasetError, match=r"row 5 \('New\?'\): no passage chosen"):
        apply_table(dataset, no_passage)
    twice = pd.concat([questions_table(dataset)] * 2)
    with pytest.raises(DatasetError, match="row 5: query id 'q1' appears twice"):
        apply_table(dataset, twice)
    with pytest.raises(DatasetError, match="lacks the column"):
        apply_table(dataset, questions_table(dataset).drop(columns=["chunk_id"]))


def test_apply_table_rejects_a_table_left_without_questions():
    dataset = draft()
    with pytest.raises(DatasetError, match="no questions left"):
        apply_table(dataset, questions_table(dataset).iloc[0:0])


def test_drop_duplicates_keeps_the_originals():
    dataset = draft()
    cleaned = drop_duplicates(dataset, find_duplicates(dataset.queries))
    assert list(cleaned.queries) == ["q1", "q3", "q4"]
    assert "q2" not in cleaned.relevant_docs and "q2" not in cleaned.split
    assert cleaned.corpus == dataset.corpus


def test_coverage_per_document():
    dataset = draft()
    table = coverage(dataset)
    assert list(table.columns) == ["document", "passages", "passages_with_questions", "questions"]
    rows = {r.document: (r.passages, r.passages_with_questions, r.questions) for r in table.itertuples()}
    assert rows == {"doc-a": (2, 2, 3), "doc-b": (2, 1, 2)}  # q3 points into both documents
    dataset.passage_docs = {}
    assert coverage(dataset).to_dict("records") == [
        {"document": "(unknown document)", "passages": 4, "passages_with_questions": 3, "questions": 4}
    ]


# --- accepting a draft --------------------------------------------------------------------------
def _generation_run(workspace, dataset: QADataset) -> str:
    """A finished generation run whose draft is `dataset`, as the worker leaves it."""
    run = workspace.create_run("generate_questions", "questions · topics", {"corpus_id": None, "generator": "offline"})
    path = workspace.run_dir(run.id) / "draft.json"
    dataset.save(path)
    workspace.update_run(run.id, state="succeeded", result={"draft": str(path), "questions": len(dataset.queries)})
    return run.id


def _without_duplicates(dataset: QADataset) -> QADataset:
    return drop_duplicates(dataset, find_duplicates(dataset.queries))


def test_accept_draft_splits_saves_and_marks_the_run_accepted(workspace):
    run_id = _generation_run(workspace, draft())
    record = accept_draft(workspace, run_id, "topics qa", split_by="document", val_ratio=0.5, seed=1, test_ratio=0)
    saved = load_dataset(workspace, record.id)
    assert saved.queries == draft().queries
    sides = {saved.passage_docs[saved.relevant_docs[q][0]]: part for q, part in saved.split.items()}
    assert sorted(sides.values()) == ["train", "val"]  # one document on each side
    assert record.params == {
        "split_by": "document",
        "val_ratio": 0.5,
        "test_ratio": 0,
        "seed": 1,
        "generator": "offline",
        "run_id": run_id,
    }
    accepted = DraftResult.of_run(workspace.get_run(run_id))
    assert (accepted.draft, accepted.questions, accepted.accepted_dataset_id) == (
        str(workspace.run_dir(run_id) / "draft.json"),
        4,
        record.id,
    )


def test_accept_draft_saves_the_curated_version_without_changing_it(workspace):
    run_id = _generation_run(workspace, draft())
    curated = _without_duplicates(draft())
    split_before = dict(curated.split)
    record = accept_draft(workspace, run_id, "curated", curated, split_by="query", val_ratio=0.3)
    assert sorted(load_dataset(workspace, record.id).queries) == ["q1", "q3", "q4"]
    assert curated.split == split_before


def test_a_refused_accept_writes_nothing_and_an_accepted_draft_cannot_be_accepted_again(workspace):
    run_id = _generation_run(workspace, draft())
    save_dataset(workspace, "taken", draft(), None, {})
    with pytest.raises(WorkspaceError, match="already exists"):
        accept_draft(workspace, run_id, "taken")
    with pytest.raises(DatasetError, match="the validation ratio must be between 0 and 1"):
        accept_draft(workspace, run_id, "fresh", val_ratio=1.5)
    assert "accepted_dataset_id" not in workspace.get_run(run_id).result
    assert [d.name for d in workspace.list_datasets()] == ["taken"]

    accept_draft(workspace, run_id, "fresh")
    with pytest.raises(DatasetError, match="already accepted"):
        accept_draft(workspace, run_id, "fresh again")


def test_saved_draft_edits_are_what_is_accepted_later(workspace):
    run_id = _generation_run(workspace, draft())
    save_draft(workspace, run_id, _without_duplicates(draft()))
    assert sorted(load_draft(workspace, run_id).queries) == ["q1", "q3", "q4"]
    record = accept_draft(workspace, run_id, "edited", split_by="query")
    assert record.n_queries == 3


def test_a_run_still_generating_has_no_draft_to_accept(workspace):
    run = workspace.create_run("generate_questions", "still running", {"corpus_id": None})
    with pytest.raises(DatasetError, match="has no draft"):
        accept_draft(workspace, run.id, "too early")
