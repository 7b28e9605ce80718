"""The styles people search in, for the offline generator: a question about a fact (offline_kinds),
keywords, a question about what a passage is about, and a question in plain words instead of the
document's terms. A retriever trained on one style learns that style; users type all of them.

Each style turns a chunk's facts into candidates; `offline.OfflineQuestionGenerator` asks each chunk
in several styles.
"""

from __future__ import annotations

import random
import re
from collections import Counter

from .lexicon import STOPWORDS, TEMPLATES, YEAR
from .offline_facts import Candidate, Facts, possessive, words_of
from .offline_kinds import FACT_KINDS, KINDS
from .thesaurus import Thesaurus

FACT, KEYWORD, TOPIC, PLAIN = "fact", "keyword", "topic", "plain"
STYLES = (FACT, KEYWORD, TOPIC, PLAIN)
OPENING_SENTENCES = 3  # what a passage is about is said in its first sentences
MAX_KEYWORDS = 7
RISK = re.compile(r"\b(?:risks?|adversely|could harm|uncertain\w*|may not be able)\b", re.I)


def document_names(facts_of_chunks: list[tuple[str, Facts]], titles: dict[str, str] | None = None) -> dict[str, str]:
    """Each document's own name (a 10-K's company, an article's city): the name in its title
    ("lyft_2021.pdf" -> "Lyft") where its chunks use it, else the proper name its chunks mention
    most. Reports say "we", so a chunk alone seldom names what it is about."""
    counts: dict[str, Counter] = {}
    for doc_id, facts in facts_of_chunks:
        names = {n for s in facts.sentences for n in s.names if facts.vocabulary.is_proper(n) and not n.isupper()}
        counts.setdefault(doc_id, Counter()).update(names)
    found = {doc: c.most_common(1)[0][0] for doc, c in counts.items() if c}
    for doc, title in (titles or {}).items():
        name = title_name(title)
        if name and any(name.lower() == n.lower() for n in counts.get(doc, ())):
            found[doc] = next(n for n in counts[doc] if n.lower() == name.lower())
    return found


def title_name(title: str) -> str | None:
    """The name a document's title gives: its words but file extensions, numbers and form codes."""
    words = [
        w
        for w in re.split(r"[\s_\-]+", re.sub(r"\.\w{2,4}$", "", title))
        if w and not re.search(r"\d", w) and w.lower() not in STOPWORDS
    ]
    return " ".join(words[:3]) or None


def style_candidates(
    facts: Facts, rng: random.Random, styles: tuple[str, ...], name: str | None, thesaurus: Thesaurus
) -> dict[str, list[Candidate]]:
    """Candidates of each style asked for. Fact questions alone include the loose kinds (a heading,
    two related phrases), so that a chunk without a fact still gets a question."""
    if styles == (FACT,):
        return {FACT: [c for kind in KINDS for c in kind(facts, rng)]}
    facts_asked = [c for kind in FACT_KINDS for c in kind(facts, rng)]
    makers = {
        FACT: lambda: facts_asked,
        KEYWORD: lambda: keyword_queries(facts, rng, name),
        TOPIC: lambda: topic_queries(facts, rng, name),
        PLAIN: lambda: plain_queries(facts_asked, facts, rng, name, thesaurus),
    }
    return {style: makers[style]() for style in styles}


def keyword_queries(facts: Facts, rng: random.Random, name: str | None) -> list[Candidate]:
    """ "lyft insurance reserves 2021": a sentence's most distinctive phrases, sometimes with the
    document's name or the year its figures are for, in lower case."""
    found = []
    for i, sentence in enumerate(facts.sentences):
        phrases = [p for p in sentence.phrases if not name or p.lower() != name.lower()]
        if not phrases:
            continue
        words = phrases[: 1 + (len(phrases) > 1 and rng.random() < 0.5)]
        years = YEAR.findall(sentence.text)
        if years and rng.random() < 0.6:
            words.append(years[0])
        if name and rng.random() < 0.6:
            words.insert(0, name)
        text = joined_hyphens(" ".join(" ".join(words).lower().split()[:MAX_KEYWORDS]))
        found.append(Candidate(text, KEYWORD, i))
    return found


def topic_queries(facts: Facts, rng: random.Random, name: str | None) -> list[Candidate]:
    """What a passage is about: its section heading or the key phrase of its opening, and the terms
    it defines ("what is express drive"), in the words of a search box."""
    owner = (name or ("the company" if facts.source == "report" else "it")).lower()
    fill = {"owner": owner, "owner_s": possessive(owner) if name else "the company's"}

    def about(topic: str, sentence: int, is_name: bool = False) -> str:
        # A name is asked about, not what it handles or how it could hurt ("how could black-scholes hurt
        # uber"); risks only where the topic's own sentence speaks of them, and not of a topic that names
        # its risk already ("credit risk").
        risky = RISK.search(facts.sentences[sentence].text) and "risk" not in topic
        templates = TEMPLATES["name" if is_name else "risk" if risky else "about"]
        return rng.choice(templates).format(topic=topic, **fill)

    found = []
    for heading, first in facts.headings:
        if len(heading.split()) <= 6:
            found.append(Candidate(about(heading.lower(), first), "about", first))
    for i, sentence in enumerate(facts.sentences[:OPENING_SENTENCES]):
        phrases = [p for p in sentence.phrases if not name or p.lower() != name.lower()]
        if phrases:
            topic = joined_hyphens(phrases[0].lower())
            found.append(Candidate(about(topic, i, phrases[0] in sentence.names), "about", i))
    for candidate in FACT_KINDS[0](facts, rng):  # defined terms
        term = re.search(r'"([^"]+)"', candidate.text)
        if term:
            found.append(
                Candidate(
                    rng.choice(TEMPLATES["define"]).format(term=term.group(1).lower()), "about", candidate.sentence
                )
            )
    return found


def joined_hyphens(text: str) -> str:
    """A word a PDF broke at its hyphen joined again: "up- front" -> "up-front" ("pre- and post-tax" stays)."""
    return re.sub(r"(?<=\w)- (?!(?:and|or|to)\b)(?=\w)", "-", text)


def plain_queries(
    facts_asked: list[Candidate], facts: Facts, rng: random.Random, name: str | None, thesaurus: Thesaurus
) -> list[Candidate]:
    """A fact question in everyday words: the chunk's terms swapped for synonyms or their long form
    or abbreviation, the document's name for "they", in lower case as people type. A question
    with nothing to swap is no plain-words question."""
    found = []
    for candidate in facts_asked:
        text, swapped = candidate.text, 0
        for phrase in _swappable(text, facts, candidate.sentence):
            alternatives = thesaurus.alternatives(phrase)
            if alternatives:
                text = re.sub(rf"\b{re.escape(phrase)}\b", rng.choice(alternatives), text, count=1, flags=re.I)
                swapped += 1
        if not swapped:
            continue
        if name and rng.random() < 0.5:
            text = re.sub(rf"\b{re.escape(name)}(?:'s|’s)?", lambda m: "their" if m.group(0) != name else "they", text)
        text = text.replace('"', "").lower().rstrip("?") + ("?" if rng.random() < 0.5 else "")
        found.append(Candidate(text, PLAIN, candidate.sentence))
    return found


def _swappable(question: str, facts: Facts, sentence: int) -> list[str]:
    """The question's phrases of its chunk, longest first, then its single content words."""
    lower = question.lower()
    phrases = [p for p in facts.sentences[sentence].phrases if " " in p and p.lower() in lower]
    singles = [w for w in words_of(question) if w in facts.words and w not in STOPWORDS and len(w) > 3]
    return sorted(set(phrases), key=len, reverse=True) + list(dict.fromkeys(singles))
