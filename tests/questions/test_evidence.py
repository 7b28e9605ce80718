"""Evidence-phrase evaluation sets: the file's schema, matching phrases to chunks, the dataset they make.

Every file here is invented for the test (a made-up ferry company); none reads ../shared."""

import json

import pytest

from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.questions.evidence import (
    EvidenceError,
    import_evidence_set,
    is_evidence_file,
    match_evidence,
    normalise,
    parse_evidence_set,
    read_evidence_file,
)
from ragtune_core.questions.qa_dataset import (
    DatasetError,
    QADataset,
    load_dataset,
    refuse_evaluation_only,
    split_dataset,
    update_dataset,
)

CHUNKS = [
    Chunk("ferry#0", "ferry", "Quillfeather Ferries carried 4.2 million passengers in 2030, up 12% on the year."),
    Chunk("ferry#1", "ferry", "Fuel costs rose to $18.5\nmillion as the fleet added two vessels."),
    Chunk("ferry#2", "ferry", "We rely on third- party shipyards for hull maintenance."),
    Chunk("ferry#3", "ferry", "The Harbour Authority\u2019s levy was renewed for five years."),
    Chunk("ferry#4", "ferry", "As said above, we carried 4.2 million passengers in 2030 on four routes."),
]

QUESTIONS = [
    {
        "id": "f1",
        "question": "quillfeather passengers 2030",
        "evidence": "carried 4.2 million passengers in 2030",
        "style": "terse",
        "page": 3,
    },
    {
        "id": "f2",
        "question": "what did they pay for diesel",
        "evidence": "Fuel costs rose to $18.5 million",
        "style": "synonym",
    },
    {"id": "f3", "question": "Who keeps the hulls in shape?", "evidence": "third-party shipyards", "style": "analyst"},
    {"id": "f4", "question": "port fees", "evidence": "harbour authority's  LEVY was renewed", "style": "topic"},
    {"id": "f5", "question": "ferry dividend", "evidence": "a dividend of 40 cents per share", "style": "terse"},
]


def evidence_file(questions=QUESTIONS, **top) -> dict:
    return {"source": "ferries.pdf", "about": "invented for tests", "questions": questions, **top}


# --- the file ------------------------------------------------------------------------------------
def test_a_good_file_parses_with_optional_fields():
    evidence = parse_evidence_set(evidence_file(), "ferries.json")
    assert [q.id for q in evidence.questions] == ["f1", "f2", "f3", "f4", "f5"]
    assert (evidence.questions[0].page, evidence.questions[1].page, evidence.questions[1].style) == (3, None, "synonym")
    assert evidence.source == "ferries.pdf"
    minimal = parse_evidence_set({"questions": [{"id": "a", "question": "q?", "evidence": "word"}]})
    assert minimal.questions[0].style is None and minimal.source is None


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["questions"][1].pop("evidence"), "ferries.json: questions[1]: missing evidence"),
        (
            lambda d: d["questions"][2].update(question="  "),
            "ferries.json: questions[2].question: expected a non-empty",
        ),
        (
            lambda d: d["questions"][0].update(page="three"),
            "ferries.json: questions[0].page: expected an integer or null",
        ),
        (lambda d: d["questions"][3].update(evidense="x"), "ferries.json: questions[3]: unknown field(s) evidense"),
        (
            lambda d: d["questions"][4].update(id="f2"),
            "ferries.json: questions[4].id: 'f2' is also the id of questions[1]",
        ),
        (lambda d: d["questions"][0].update(evidence="..."), "ferries.json: questions[0].evidence: expected a phrase"),
        (
            lambda d: d["questions"][1].update(style=7),
            "ferries.json: questions[1].style: expected a string or null, got 7",
        ),
        (lambda d: d.update(questions=[]), "ferries.json: questions: expected at least one question"),
        (lambda d: d.update(notes="?"), "ferries.json: unknown field(s) notes"),
    ],
)
def test_errors_name_the_file_and_the_field(change, message):
    data = json.loads(json.dumps(evidence_file()))
    change(data)
    with pytest.raises(EvidenceError) as caught:
        parse_evidence_set(data, "ferries.json")
    assert message in str(caught.value)
    assert isinstance(caught.value, DatasetError)  # every caller of datasets already handles it


def test_a_file_that_is_not_json_is_named():
    with pytest.raises(EvidenceError, match="ferries.json is not valid JSON"):
        read_evidence_file(b'{"questions": [', "ferries.json")


def test_the_evidence_shape_is_told_from_a_llama_index_file():
    assert is_evidence_file(evidence_file())
    assert is_evidence_file({"questions": "oops"})  # meant as one: parse_evidence_set says what is wrong
    assert not is_evidence_file({"queries": {}, "corpus": {}, "relevant_docs": {}})
    assert not is_evidence_file([{"questions": []}])


# --- matching --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw, typed",
    [
        ("Fuel  COSTS\nrose", "fuel costs rose"),
        ("the Authority\u2019s \u201clevy\u201d", 'the authority\'s "levy"'),
        ("third- party", "third-party"),
        ("Weighted-\nAverage", "weighted-average"),
        ("main\u00adtenance", "maintenance"),
        ("\ufb01nancial\u00a0year", "financial year"),
        ("2029\u20132030 \u2014 restated", "2029-2030 - restated"),
        ("costs - including fuel", "costs - including fuel"),  # a dash between spaces is not a broken word
    ],
)
def test_normalise_makes_pdf_text_read_as_typed(raw, typed):
    assert normalise(raw) == typed


def test_relevant_passages_are_the_chunks_holding_the_phrase():
    match = match_evidence(parse_evidence_set(evidence_file()), CHUNKS, "ferries.json", "fleet")
    dataset = match.dataset
    assert dataset.relevant_docs == {
        "f1": ["ferry#0", "ferry#4"],  # the phrase is in two chunks: both are right
        "f2": ["ferry#1"],  # across a line break
        "f3": ["ferry#2"],  # a compound word broken over a line
        "f4": ["ferry#3"],
    }  # a typographic apostrophe, case and spaces
    assert dataset.corpus == {c.chunk_id: c.text for c in CHUNKS}  # every chunk, matched or not
    assert dataset.passage_docs == {c.chunk_id: "ferry" for c in CHUNKS}
    assert dataset.queries["f3"] == "Who keeps the hulls in shape?"
    assert dataset.evaluation_only and dataset.split == {} and dataset.kind == "qa"
    assert dataset.styles == {"f1": "terse", "f2": "synonym", "f3": "analyst", "f4": "topic"}
    assert dataset.extra["evidence"]["f4"] == "harbour authority's  LEVY was renewed"
    assert dataset.extra["pages"] == {"f1": 3}


def test_questions_no_chunk_holds_are_reported_not_dropped_silently():
    match = match_evidence(parse_evidence_set(evidence_file()), CHUNKS, "ferries.json", "fleet")
    assert [q.id for q in match.left_out] == ["f5"] and match.matched == 4 and match.total == 5
    summary = match.summary()
    assert (summary["questions"], summary["matched"], summary["left_out"]) == (5, 4, 1)
    assert summary["left_out_examples"] == [{"id": "f5", "evidence": "a dividend of 40 cents per share"}]
    assert summary["styles"] == {"terse": 1, "synonym": 1, "analyst": 1, "topic": 1}
    assert summary["max_passages_per_question"] == 2
    assert match.dataset.extra["left_out"] == {"f5": "a dividend of 40 cents per share"}


def test_no_question_matching_is_an_error_naming_the_file_and_corpus():
    nowhere = [{"id": "x1", "question": "q", "evidence": "words that are in no chunk"}]
    with pytest.raises(EvidenceError) as caught:
        match_evidence(parse_evidence_set(evidence_file(nowhere)), CHUNKS, "ferries.json", "fleet")
    message = str(caught.value)
    assert message.startswith("ferries.json: none of the 1 evidence phrases is in a chunk of corpus 'fleet'")
    assert "x1: 'words that are in no chunk'" in message


# --- in the workspace ------------------------------------------------------------------------
@pytest.fixture
def fleet(workspace):
    document = Document("ferry", "Quillfeather annual report", "text:ferries.txt", " ".join(c.text for c in CHUNKS))
    return save_corpus(workspace, "fleet", [document], CHUNKS, {})


def test_import_saves_an_evaluation_only_dataset_that_round_trips(workspace, fleet):
    record, match = import_evidence_set(
        workspace, parse_evidence_set(evidence_file()), "ferry-hw", "fleet", "ferries.json"
    )
    assert (record.corpus_id, record.n_queries, record.kind) == (fleet.id, 4, "qa")
    assert record.params == {"imported": "ferries.json", "evaluation_only": True, "matched": 4, "left_out": 1}
    loaded = load_dataset(workspace, record.id)
    assert loaded == match.dataset
    assert loaded.evaluation_only and loaded.styles == match.dataset.styles
    assert QADataset.from_json_dict(loaded.to_json_dict()).extra == match.dataset.extra


def test_import_needs_a_corpus_and_saves_nothing_on_error(workspace, fleet):
    evidence = parse_evidence_set(evidence_file())
    with pytest.raises(EvidenceError, match="ferries.json is an evidence-phrase set: it needs the corpus"):
        import_evidence_set(workspace, evidence, "ferry-hw", None, "ferries.json")
    with pytest.raises(ValueError, match="ghost"):
        import_evidence_set(workspace, evidence, "ferry-hw", "ghost", "ferries.json")
    assert workspace.list_datasets() == []


def test_an_evaluation_only_dataset_is_never_split_nor_trained_on(workspace, fleet):
    record, _ = import_evidence_set(workspace, parse_evidence_set(evidence_file()), "ferry-hw", fleet.id, "f.json")
    dataset = load_dataset(workspace, record.id)
    with pytest.raises(DatasetError, match="never split"):
        split_dataset(dataset, 0.5, "query")
    dataset.split = {q: "train" for q in dataset.queries}
    with pytest.raises(DatasetError, match="evaluation-only dataset has no train/validation split"):
        update_dataset(workspace, record.id, dataset)
    assert load_dataset(workspace, record.id).split == {}
    with pytest.raises(DatasetError, match="dataset 'ferry-hw' is an evaluation-only set"):
        refuse_evaluation_only(dataset, "ferry-hw")
    refuse_evaluation_only(QADataset({"q": "?"}, {"p": "."}, {"q": ["p"]}), "plain")  # any other: no objection


def test_a_stored_dataset_with_damaged_styles_is_named_on_load(tmp_path):
    data = match_evidence(parse_evidence_set(evidence_file()), CHUNKS).dataset.to_json_dict()
    data["ragtune"]["extra"]["styles"]["f1"] = 3
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r'dataset.json: ragtune.extra.styles\["f1"\]: expected a string, got 3'):
        QADataset.load(path)
