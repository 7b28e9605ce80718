import pytest

from ragtune_core.evaluation.lexical import LexicalIndex, words


def test_words_keep_figures_whole_and_leave_out_question_words():
    assert words("What was Lyft's 2021 revenue of $3,208.3 million?") == [
        "lyft",
        "s",
        "2021",
        "revenue",
        "3,208.3",
        "million",
    ]


def test_a_rare_word_counts_for_more_than_a_common_one():
    index = LexicalIndex(("revenue grew", "revenue fell", "revenue held", "express drive grew"))
    common, rare = index.scores("revenue", [0]), index.scores("express", [3])
    assert 0.0 < common[0] < rare[0]


def test_a_passage_without_the_questions_words_scores_nothing_and_more_matches_score_more():
    index = LexicalIndex(("net loss for 2021", "net loss", "the weather was fine", "loss"))
    scores = index.scores("uber 2021 net loss", [0, 1, 2])
    assert scores[2] == 0.0 and scores[0] > scores[1] > 0.0


def test_a_long_passage_scores_less_for_the_same_match():
    index = LexicalIndex(("drivers", "drivers " + "filler " * 50, "riders"))
    short, long = index.scores("drivers", [0, 1])
    assert short > long > 0.0


def test_an_empty_corpus_or_question_is_no_error():
    assert LexicalIndex(()).scores("anything", []).tolist() == []
    assert LexicalIndex(("text",)).scores("the of", [0]).tolist() == pytest.approx([0.0])
