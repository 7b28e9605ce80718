"""Name swaps: a router question's document renamed in the question and in its tools, so a
cross-encoder learns to match names rather than remember its training documents."""

import random

from ragtune_core.evaluation.reranking import first_stage
from ragtune_core.questions.qa_dataset import QADataset
from ragtune_core.training.config import CrossEncoderTrainConfig, EmbeddingTrainConfig
from ragtune_core.training.cross_encoder import labelled_pairs
from ragtune_core.training.name_swap import (
    NameSwapper,
    document_names,
    invented_name,
    names_asked,
    renamed_pairs,
    swap_name,
)
from ragtune_core.training.register import planned_schedule
from tests.training.test_cross_encoder import CITIES, router_dataset

DESCRIPTIONS = {
    "v-ny": "Useful for questions related to specific aspects of New York City (e.g. the history).",
    "s-ny": "Useful for any requests that require a holistic summary of EVERYTHING about New York City.",
    "v-sp": "Useful for questions related to specific aspects of São Paulo (e.g. the history).",
    "s-sp": "Useful for any requests that require a holistic summary of EVERYTHING about São Paulo.",
    "v-lyft": "Facts from the Lyft 10-K.",
    "odd": "Useful for anything at all.",
}
DOCUMENTS = {"v-ny": "ny", "s-ny": "ny", "v-sp": "sp", "s-sp": "sp", "v-lyft": "lyft", "odd": "odd"}


def test_a_documents_name_is_the_longest_phrase_only_its_tools_share():
    assert document_names(DESCRIPTIONS, DOCUMENTS) == {
        "ny": "New York City",
        "sp": "São Paulo",
        "lyft": "Lyft 10-K",
    }  # "odd" names nothing of its own


def test_names_are_swapped_as_whole_words_in_any_case():
    assert (
        swap_name("Is new york city big? New Yorkers say so.", "New York", "Brastor")
        == "Is brastor city big? New Yorkers say so."
    )
    rng = random.Random(1)
    names = {invented_name(rng, {"berlin"}) for _ in range(200)}
    assert len(names) > 150 and all(name[0].isupper() and name.isalpha() for name in names)


def test_each_copy_renames_every_document_of_its_pairs_and_the_question(monkeypatch):
    from ragtune_core.training import name_swap

    monkeypatch.setattr(name_swap, "MISSPELT_SHARE", 0.0)  # names as the tools spell them (see the typo test)
    swapper = NameSwapper(DESCRIPTIONS, DOCUMENTS, copies=2, seed=0)
    pairs = [("s-ny", 1.0), ("v-ny", 0.0), ("s-sp", 0.0), ("odd", 0.0)]
    copies = swapper.copies_of("Summarize New York City for me", ["s-ny"], pairs)
    assert len(copies) == 8 and [label for _, _, label in copies] == [1.0, 0.0, 0.0, 0.0] * 2
    first_name = copies[0][0].removeprefix("Summarize ").removesuffix(" for me")
    assert first_name != "New York City" and copies[0][1] == DESCRIPTIONS["s-ny"].replace("New York City", first_name)
    assert copies[1][1] == DESCRIPTIONS["v-ny"].replace("New York City", first_name)
    other_name = copies[2][1].removeprefix(DESCRIPTIONS["s-sp"].split("São Paulo")[0]).removesuffix(".")
    assert other_name not in ("São Paulo", first_name)  # the wrong document is renamed too, apart
    assert copies[3][1] == DESCRIPTIONS["odd"]  # a document that names nothing stays as it is
    assert copies[4][0] != copies[0][0]  # each copy invents its own names
    assert swapper.copies_of("Summarize the Big Apple for me", ["s-ny"], pairs) == []  # a nickname: no copy


def test_cross_encoder_pairs_gain_renamed_copies_and_the_schedule_counts_them():
    from tests.training.test_cross_encoder import AngleEmbedder

    dataset = router_dataset()
    dataset.passage_docs = {tool["id"]: tool["document_id"] for tool in dataset.extra["tools"]}
    texts = [*dataset.queries.values(), *dataset.corpus.values()]
    embedder = AngleEmbedder({text: i for i, text in enumerate(texts)})
    ranked = first_stage(embedder, dataset, "train")
    plain, swapped = labelled_pairs(ranked, 1), labelled_pairs(ranked, 1, name_swaps=1, seed=3)
    named = [triple for triple in swapped if any(city in triple[0] for city in CITIES)]
    assert named == plain and len(swapped) == 2 * len(plain)  # every question names its city: one copy each
    renamed = [triple for triple in swapped if triple not in named]
    assert not any(city in question for question, _, _ in renamed for city in CITIES)
    assert not any(city in passage for _, passage, _ in renamed for city in CITIES)  # every tool renamed
    assert labelled_pairs(ranked, 1, name_swaps=1, seed=3) == swapped  # the seed fixes the names
    with_copies = planned_schedule(dataset, CrossEncoderTrainConfig(batch_size=4, epochs=1, name_swaps=1))
    without = planned_schedule(dataset, CrossEncoderTrainConfig(batch_size=4, epochs=1, name_swaps=0))
    assert with_copies.steps_per_epoch == 2 * without.steps_per_epoch
    dataset.kind = "qa"  # passages of a QA corpus are not tools: no copies
    assert labelled_pairs(first_stage(embedder, dataset, "train"), 1, name_swaps=2) == labelled_pairs(
        first_stage(embedder, dataset, "train"), 1
    )


def test_lower_case_and_misspelt_names_as_people_type_them():
    from ragtune_core.training.name_swap import misspelt

    assert swap_name("chicago weather? Chicago!", "Chicago", "Brastor") == "brastor weather? Brastor!"
    rng = random.Random(0)
    slips = {misspelt("Vancouver", rng) for _ in range(100)}
    assert "Vancouver" not in slips and len(slips) > 10
    assert all(slip[0] == "V" and abs(len(slip) - 9) <= 1 for slip in slips)
    swapper = NameSwapper(DESCRIPTIONS, DOCUMENTS, copies=200, seed=0)
    copies = swapper.copies_of("Summarize São Paulo", ["s-sp"], [("s-sp", 1.0)])
    typed = [question.removeprefix("Summarize ") for question, _, _ in copies]
    named = [description.split("about ")[1].rstrip(".") for _, description, _ in copies]
    wrong = sum(t != n for t, n in zip(typed, named, strict=True))
    assert 30 <= wrong <= 70  # about a quarter misspelt in the question, never in the tool


def _report_dataset() -> QADataset:
    """Two 10-K-like documents whose passages say "we" and whose questions name the company."""
    topics = ["net loss", "insurance reserves", "rider growth", "driver pay", "bike share", "ad revenue"]
    passages = {f"lyft-{i}": f"We report our {topic} for 2021." for i, topic in enumerate(topics)}
    passages["lyft-6"] = "Lyft Rentals lets riders rent a car for a trip."
    passages["uber-0"] = "We recorded revenue of $17.5 billion in 2021."
    questions = {}
    for i, topic in enumerate(topics):
        questions[f"named-{i}"] = (f"lyft {topic} 2021", f"lyft-{i}")
        questions[f"owned-{i}"] = (f"What were Lyft's {topic}?", f"lyft-{i}")
        questions[f"plain-{i}"] = (f"{topic} in 2021", f"lyft-{i}")
    questions["uber"] = ("uber revenue 2021", "uber-0")
    return QADataset(
        queries={q: text for q, (text, _) in questions.items()},
        corpus=passages,
        relevant_docs={q: [p] for q, (_, p) in questions.items()},
        passage_docs={p: p.split("-")[0] for p in passages},
        split={q: "val" if q == "uber" else "train" for q in questions},
    )


def test_a_qa_documents_name_is_the_word_its_questions_use_far_more_than_its_passages():
    train = _report_dataset().subset("train")
    lyft = {"lyft": list(train.queries.values())}
    passages = {"lyft": [text for p, text in train.corpus.items() if p.startswith("lyft")]}
    assert names_asked(lyft, passages) == {"lyft": "lyft"}  # in 12 of 18 questions and 1 of 7 passages
    assert names_asked(lyft, {"lyft": passages["lyft"][:6]}) == {}  # a word no passage spells is no name
    few = {"lyft": list(train.queries.values())[:9]}  # 6 questions name Lyft: too few to tell
    assert names_asked(few, passages) == {}
    # As common in its passages as in its questions: a word of the subject, not a name.
    asked = {"lyft": [f"net {w}" for w in ("loss", "income", "sales", "margin")] * 5}
    assert names_asked(asked, {"lyft": ["Net loss fell.", "Net income rose."]}) == {}


def test_qa_train_pairs_gain_a_copy_naming_an_invented_document_and_the_schedule_counts_it():
    dataset = _report_dataset()
    train = dataset.subset("train")
    pairs = renamed_pairs(train, copies=1, seed=0)
    assert pairs[:18] == [(train.queries[q], train.relevant_docs[q][0]) for q in train.queries]
    copies = pairs[18:]
    assert len(copies) == 12  # the questions naming Lyft, not "net loss in 2021"
    assert not any("lyft" in question.lower() for question, _ in copies)
    assert copies[0][0].endswith(" net loss 2021") and copies[0][1] == "lyft-0"
    assert copies[1][0].startswith("What were ") and copies[1][0].endswith(" net loss?")
    assert renamed_pairs(train, copies=0, seed=0) == pairs[:18]
    assert planned_schedule(dataset, EmbeddingTrainConfig(epochs=1, query_batch_size=30)).steps == 1  # 30 pairs
    assert planned_schedule(dataset, EmbeddingTrainConfig(epochs=1, query_batch_size=20)).steps == 2
    assert planned_schedule(dataset, EmbeddingTrainConfig(epochs=1, query_batch_size=20, name_swaps=0)).steps == 1
