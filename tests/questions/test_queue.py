"""The curation queue ranks the questions worth a look, each with its reasons and candidates."""

import re

import pytest

from ragtune_core.questions.qa_dataset import DatasetError, QADataset
from ragtune_core.questions.queue import Curation, build_queue, curated
from ragtune_core.questions.wording import wording_problems

PASSAGES = {
    "etna": "Mount Etna in Sicily erupted in 2021 and covered Catania with ash.",
    "vesuvius": "Vesuvius erupted in 79 and buried Pompeii.",
    "bread": "Sourdough bread rises with wild yeast kept alive by the baker.",
    "bread-2": "Wild yeast makes sourdough bread rise slowly overnight.",
    "acme": "Acme employs 4,000 global employees across its offices.",
}
QUESTIONS = {  # query id -> (question, labelled passage, split part)
    "clean": ("When did Mount Etna erupt?", "etna", "train"),
    "mislabelled": ("What did Vesuvius bury?", "etna", "train"),
    "misrouted": ("Which city did Etna cover with ash?", "etna", "val"),
    "disagree": ("What did the eruption cover?", "etna", "train"),
    "ambiguous": ("What makes sourdough bread rise?", "bread", "train"),
    "offline": ("How many global employees does United States have?", "acme", "train"),
    "duplicate": ("When did Mount Etna erupt ?", "etna", "train"),
}


def dataset() -> QADataset:
    return QADataset(
        {q: text for q, (text, _, _) in QUESTIONS.items()},
        dict(PASSAGES),
        {q: [label] for q, (_, label, _) in QUESTIONS.items()},
        split={q: part for q, (_, _, part) in QUESTIONS.items()},
    )


def scores_picking(picks: dict[str, str], close: tuple[str, ...] = ()) -> dict[str, dict[str, float]]:
    """A scorer's scores: 0.9 for its pick of each question, 0.5 for the rest (0.89 for the others of
    a question in `close`)."""
    return {
        q: {p: 0.9 if p == picks.get(q, QUESTIONS[q][1]) else (0.89 if q in close else 0.5) for p in PASSAGES}
        for q in QUESTIONS
    }


SCORES = {
    "base": scores_picking({"mislabelled": "vesuvius", "disagree": "vesuvius"}, close=("clean",)),
    "tuned": scores_picking({"mislabelled": "vesuvius", "misrouted": "vesuvius"}),
}


def test_each_kind_of_flag_is_found_and_a_clean_question_is_not():
    queue = {item.query_id: {r.code for r in item.reasons} for item in build_queue(dataset(), SCORES, ("tuned",))}
    assert queue["mislabelled"] == {"mislabelled", "wording"}  # its passage never mentions Vesuvius either
    assert queue["misrouted"] == {"misrouted", "disagree"}
    assert "disagree" in queue["disagree"]
    assert queue["ambiguous"] == {"ambiguous"}  # "bread-2" holds every word of it too
    assert queue["offline"] == {"wording"}
    assert queue["duplicate"] == {"duplicate"}
    assert queue["clean"] == {"close"}  # only the base scorer's two top scores are close


def test_the_queue_is_ranked_by_its_reasons_weight():
    queue = build_queue(dataset(), SCORES, ("tuned",))
    assert [item.priority for item in queue] == sorted((item.priority for item in queue), reverse=True)
    assert queue[0].query_id == "mislabelled" and queue[-1].query_id in {"clean", "ambiguous"}  # 4 + 2.5 first
    assert [item.query_id for item in build_queue(dataset(), SCORES, ("tuned",), limit=2)] == [
        item.query_id for item in queue[:2]
    ]


def test_a_misroute_counts_only_for_a_model_tuned_on_the_dataset_and_a_validation_question():
    queue = {item.query_id: {r.code for r in item.reasons} for item in build_queue(dataset(), SCORES)}
    assert "misrouted" not in queue["misrouted"]


def test_each_item_shows_the_candidates_with_every_scorers_score():
    item = next(i for i in build_queue(dataset(), SCORES, ("tuned",)) if i.query_id == "mislabelled")
    by_id = {c.id: c for c in item.candidates}
    assert by_id["etna"].labelled and not by_id["vesuvius"].labelled
    assert by_id["vesuvius"].scores == {"base": 0.9, "tuned": 0.9} and by_id["etna"].scores["base"] == 0.5
    assert "every scorer picks vesuvius, not the labelled etna" in item.reasons[0].detail
    assert item.to_dict()["candidates"][0]["text"] == PASSAGES["etna"]


def test_a_router_dataset_names_its_tools_by_name():
    router = dataset()
    router.kind = "router"
    router.extra = {
        "tools": [
            {"id": f"vector:{p}-1a2b", "name": f"{p}_facts", "description": t, "kind": "vector"}
            for p, t in PASSAGES.items()
        ]
    }
    router.corpus = {f"vector:{p}-1a2b": t for p, t in PASSAGES.items()}
    router.relevant_docs = {q: [f"vector:{label}-1a2b"] for q, (_, label, _) in QUESTIONS.items()}
    scores = {
        s: {q: {f"vector:{p}-1a2b": v for p, v in by_p.items()} for q, by_p in by_q.items()}
        for s, by_q in SCORES.items()
    }
    item = next(i for i in build_queue(router, scores) if i.query_id == "mislabelled")
    assert "every scorer picks vesuvius_facts, not the labelled etna_facts" == item.reasons[0].detail
    assert {c.name for c in item.candidates} >= {"etna_facts", "vesuvius_facts"}


def test_without_scores_only_the_texts_reasons_remain():
    codes = {r.code for item in build_queue(dataset()) for r in item.reasons}
    assert codes == {"ambiguous", "wording", "duplicate"}


def test_wording_problems():
    assert wording_problems("How many global employees does United States have?") == ["'United States' without 'the'"]
    assert wording_problems("How many people live in the United States?") == []
    assert wording_problems("When did Mount Etna erupt?", PASSAGES["etna"]) == []
    assert wording_problems("When did Vesuvius erupt?", PASSAGES["etna"]) == ["its passage never mentions 'Vesuvius'"]
    assert wording_problems("What is {title} about?") == ["a placeholder is left in ({title})"]
    assert wording_problems("Where is the the bakery?") == ["'the' is written twice"]


def test_curation_relabels_rewords_and_drops():
    decided = Curation(
        relabel={"mislabelled": "vesuvius", "clean": "etna"},
        reword={"offline": "How many global employees does Acme have?"},
        drop={"duplicate"},
    )
    edited = curated(dataset(), decided)
    assert edited.relevant_docs["mislabelled"] == ["vesuvius"] and edited.relevant_docs["clean"] == ["etna"]
    assert edited.queries["offline"] == "How many global employees does Acme have?"
    assert "duplicate" not in edited.queries and "duplicate" not in edited.split
    assert dataset().relevant_docs["mislabelled"] == ["etna"]  # the original untouched
    assert not Curation() and decided


@pytest.mark.parametrize(
    "curation, problem",
    [
        (Curation(relabel={"clean": "nowhere"}), "question 'clean': 'nowhere' is no passage or tool of this dataset"),
        (Curation(reword={"clean": "  "}), "question 'clean': the new wording is empty"),
        (Curation(drop=set(QUESTIONS)), "at least one"),
    ],
)
def test_a_curation_that_cannot_apply_says_why(curation, problem):
    with pytest.raises(DatasetError, match=re.escape(problem)):
        curated(dataset(), curation)


def test_a_scorer_that_tells_nothing_apart_picks_nothing_and_makes_no_close_call():
    flat = {q: {p: 0.0 for p in PASSAGES} for q in QUESTIONS}  # no word in common with any passage

    def reasons(scores):
        return {item.query_id: {r.code for r in item.reasons} for item in build_queue(dataset(), scores, ("tuned",))}

    assert reasons({"words": flat, **SCORES}) == reasons(SCORES)
