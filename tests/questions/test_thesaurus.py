import pytest

from ragtune_core.questions.thesaurus import Thesaurus, find_abbreviations, model_closeness, wordnet_dir


def test_abbreviations_pair_a_long_form_with_its_initials_both_ways():
    pairs = find_abbreviations(
        [
            "Our research and development (R&D) spending grew.",
            "filed with the Securities and Exchange Commission (the \u201cSEC\u201d) in May",
            "Adjusted EBITDA (AX) is a measure",
            "Total Vehicle Units (XYZ)",
        ]
    )
    assert pairs["research and development"] == "R&D" and pairs["r&d"] == "research and development"
    assert pairs["sec"] == "securities and exchange commission"
    assert "xyz" not in pairs and "ax" not in pairs  # the letters are not the words' initials


def test_alternatives_come_from_the_corpus_and_everyday_words_without_wordnet():
    thesaurus = Thesaurus.of(["Revenue from our Transportation Network Companies (TNC) grew."])
    thesaurus.wordnet = None
    assert thesaurus.alternatives("TNC") == ["transportation network companies"]
    assert "sales" in thesaurus.alternatives("Revenue")
    assert thesaurus.alternatives("rideshare") == []


@pytest.mark.skipif(wordnet_dir() is None, reason="WordNet (Debian's wordnet-base) is not installed")
def test_wordnet_gives_synonyms_of_a_word_with_one_sense_in_use_only():
    thesaurus = Thesaurus(wordnet=wordnet_dir())
    assert "clients" in thesaurus.alternatives("customers")  # a plural gets plurals
    assert thesaurus.alternatives("complaint") == []  # a grievance or an illness: which one is a guess
    assert thesaurus.alternatives("current") == []


@pytest.mark.skipif(wordnet_dir() is None, reason="WordNet (Debian's wordnet-base) is not installed")
def test_a_wordnet_synonym_is_kept_only_where_the_closeness_finds_it_close():
    def far(word, candidates):
        return [0.0] * len(candidates)

    thesaurus = Thesaurus(wordnet=wordnet_dir(), closeness=far)
    assert thesaurus.alternatives("customers") == []
    assert "sales" in thesaurus.alternatives("revenue")  # plain words of the trade are not WordNet's to judge


@pytest.mark.skipif(wordnet_dir() is None, reason="WordNet (Debian's wordnet-base) is not installed")
def test_the_bundled_model_refuses_another_senses_synonyms():
    thesaurus = Thesaurus(wordnet=wordnet_dir())
    assert thesaurus.alternatives("facility") == []  # not "installation"
    assert thesaurus.alternatives("borrowings") == ["loans"]  # not "adoptions"
    assert "lawyers" in thesaurus.alternatives("attorneys")
    assert thesaurus.alternatives("transactions").count("dealings") == 1  # plural already, not "dealingss"


@pytest.mark.skipif(wordnet_dir() is None, reason="WordNet (Debian's wordnet-base) is not installed")
def test_a_thesaurus_for_each_chunk_shares_the_models_closeness():
    model_closeness.cache_clear()
    for _ in range(2):  # as the Questions page does, asking one chunk again
        Thesaurus(wordnet=wordnet_dir()).alternatives("customers")
    assert model_closeness.cache_info().hits == 1
