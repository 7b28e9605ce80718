"""What a chunk offers the offline generator to ask about: its sentences, names, key phrases
and headings, and how rare its words are among the chunks asked about."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

from ..corpus.documents import Chunk
from .lexicon import (
    AFTER_DETERMINER,
    AFTER_MODAL,
    CONNECTORS,
    FINANCE_METRICS,
    ING_WORDS,
    IRREGULAR_PAST,
    IVE_NOUNS,
    LY_NOUNS,
    MONEY,
    NOT_COUNTED,
    NOT_ENTITIES,
    NOT_NAMES_ALONE,
    NUMBERED_HEADING,
    ROMAN_NUMERALS,
    SCALES,
    SENTENCE_END,
    STOPWORDS,
    TEMPLATE_WORDS,
    TOKEN,
    VERB_CUES,
    WORD_NUMBERS,
)


@dataclass
class Vocabulary:
    """How many of the chunks asked about use each word: a word few chunks use marks its chunk."""

    chunks: int
    counts: Counter  # word (lower case) -> chunks using it
    lowercase: Counter  # word -> chunks writing it in lower case ("delivery" is no name, "Lyft" is)
    verbs: set[str]  # words only ever seen as verbs: after "may" or "to", never after "the"

    @classmethod
    def of(cls, chunks: list[Chunk]) -> Vocabulary:
        texts = [c.text for c in chunks]
        after_modals = {w for t in texts for w in AFTER_MODAL.findall(t)}
        after_determiners = {w for t in texts for w in AFTER_DETERMINER.findall(t)}
        return cls(
            len(chunks),
            Counter(w for t in texts for w in set(words_of(t))),
            Counter(w for t in texts for w in set(re.findall(r"\b[a-z]\w*", t))),
            after_modals - after_determiners,
        )

    def is_verb(self, word: str) -> bool:
        """ "involve", "terminates", "evolves": a verb this corpus never uses as a noun."""
        if word in self.verbs:
            return True
        stems = (word[:-1], word[:-2]) if word.endswith("es") else (word[:-1],) if word.endswith("s") else ()
        return any(stem in self.verbs for stem in stems)

    def rarity(self, word: str) -> float:
        """Inverse document frequency scaled to 1 for a word of one chunk; 0 for stopwords and
        template words."""
        if word in STOPWORDS or word in TEMPLATE_WORDS or len(word) < 2:
            return 0.0
        top = math.log((self.chunks + 1) / 1.5)
        return min(1.0, max(0.0, math.log((self.chunks + 1) / (self.counts.get(word, 0) + 0.5)) / top))

    def is_proper(self, name: str) -> bool:
        """A name, not a capitalised common word: the chunks seldom write its words in lower case."""
        words = [w for w in words_of(name) if w not in CONNECTORS]
        return bool(words) and all(self.lowercase[w] <= 0.25 * self.counts[w] for w in words)


@dataclass
class Sentence:
    text: str
    tokens: list[str]
    offset: int  # the chunk's words before it
    names: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)  # its key phrases, names included, most distinctive first


@dataclass
class Facts:
    """What a chunk offers to ask about."""

    sentences: list[Sentence]
    main: str | None  # the name the chunk is about, if one stands out
    source: str  # "report" for financial text, else "text"
    headings: list[tuple[str, int]]  # (heading, index of the first sentence under it)
    words: set[str]  # the chunk's words, lower case
    vocabulary: Vocabulary

    @property
    def subject(self) -> str | None:
        """Who figures and counts belong to: the main name, or in a report "the company"."""
        return self.main or ("the company" if self.source == "report" else None)

    @property
    def owner(self) -> str:
        """ "Lyft's", or "the" when the chunk is about no one name."""
        return possessive(self.main) if self.main else "the"


@dataclass
class Candidate:
    text: str
    kind: str
    sentence: int  # the index of the sentence it asks about


def chunk_facts(chunk: Chunk, vocabulary: Vocabulary) -> Facts | None:
    sentences, offset = [], 0
    for text in SENTENCE_END.split(chunk.text):
        if text.strip():
            tokens = [re.sub(r"(?<=s)['’]$", "", t) for t in TOKEN.findall(re.sub(r"\$\s+(?=\d)", "$", text))]
            sentences.append(Sentence(text.strip(), tokens, offset))
        offset += len(text.split())
    if sum(is_content_word(t) for s in sentences for t in s.tokens) < 4:
        return None
    lowercase_words = set(re.findall(r"\b[a-z][\w'’\-]*", chunk.text))
    for sentence in sentences:
        sentence.names = _entities(sentence.tokens, chunk.text, lowercase_words)
        sentence.phrases = _phrases(sentence, vocabulary)
    # Mentions are counted in the raw text, so "Berlin's" and "Berlin-Brandenburg" count for Berlin.
    entity_counts = Counter(
        {e: len(re.findall(rf"\b{re.escape(e)}\b", chunk.text)) for s in sentences for e in s.names}
    )
    first = next((s.names[0] for s in sentences if s.names), None)
    # The chunk is about a name it mentions more than once; on a tie, the one it opens with.
    recurring = [
        e for e, count in entity_counts.most_common() if count >= 2 and vocabulary.is_proper(e) and not e.isupper()
    ]
    main = max(recurring, key=lambda e: (entity_counts[e], e == first)) if recurring else None
    source = "report" if MONEY.search(chunk.text) or any(m in chunk.text.lower() for m in FINANCE_METRICS) else "text"
    return Facts(
        sentences=sentences,
        main=main,
        source=source,
        headings=_headings(chunk, sentences),
        words=set(words_of(chunk.text)),
        vocabulary=vocabulary,
    )


def _entities(tokens: list[str], chunk_text: str, lowercase_words: set[str]) -> list[str]:
    """Names: runs of capitalised words ("Humboldt University of Berlin"). Left out: a sentence's
    first word unless the chunk capitalises it mid-sentence too ("Members of ..."), headings made
    of words the chunk also uses in lower case ("Net Cash"), nationality adjectives ("American city"), and a
    document's parts alone ("Item", "the Company")."""
    found, i = [], 0
    while i < len(tokens):
        if not _is_name_word(tokens[i]) or (
            i == 0 and not _name_at_sentence_start(tokens[0], chunk_text, lowercase_words)
        ):
            i += 1
            continue
        run = [tokens[i]]
        j = i + 1
        while j < len(tokens) and len(run) < 5 and not run[-1].endswith(("'s", "’s")):
            if _is_name_word(tokens[j]) or tokens[j] in ROMAN_NUMERALS:
                run.append(tokens[j])
            elif tokens[j] in CONNECTORS and j + 1 < len(tokens) and _is_name_word(tokens[j + 1]):
                run.extend(tokens[j : j + 2])
                j += 1
            else:
                break
            j += 1
        name = re.sub(r"['’]s$", "", " ".join(run))
        words = [w.lower() for w in name.split() if w not in CONNECTORS]
        is_heading = all(w in lowercase_words for w in words)
        is_adjective = (
            len(run) == 1
            and name.endswith(("an", "ese", "ish"))
            and j < len(tokens)
            and tokens[j].islower()
            and is_content_word(tokens[j])
        )
        if len(name) > 2 and not is_heading and not is_adjective and name.lower() not in NOT_NAMES_ALONE:
            found.append(name)
        i = j
    return found


def _name_at_sentence_start(token: str, chunk_text: str, lowercase_words: set[str]) -> bool:
    """A capitalised first word is a name if the chunk never writes it in lower case and either
    capitalises it mid-sentence or starts with it more than once ("Lyft reported ... Lyft expects")."""
    if token.lower() in lowercase_words:
        return False
    return bool(re.search(rf"[^.!?\n]\s{re.escape(token)}\b", chunk_text)) or chunk_text.count(token) >= 2


def _is_name_word(token: str) -> bool:
    return (
        len(token) > 1 and token[0].isupper() and token.lower() not in STOPWORDS and token.lower() not in NOT_ENTITIES
    )


def _phrases(sentence: Sentence, vocabulary: Vocabulary) -> list[str]:
    """The sentence's names and key phrases (runs of up to three lower-case content words ending in
    a noun-like word), the most distinctive first: a phrase counts its rarest word whole and the
    others half."""
    found = list(sentence.names)
    run: list[str] = []
    previous = ""
    for token in [*sentence.tokens, "."]:
        # A word right after a name or "to" is most likely a verb ("Lyft expects", "to remain"),
        # and so is a word in -ing that is not a known noun or modifier ("resulting", "selecting").
        usable = (
            is_content_word(token)
            and token.islower()
            and not _precedes_verb(previous)
            and (not token.endswith("ing") or token in ING_WORDS)
            and not is_adverb(token)
            and not vocabulary.is_verb(token)
        )
        previous = token
        if usable and len(run) < 4:
            run.append(token)
            continue
        while run and is_modifier(run[-1]):
            run.pop()
        if run and len(" ".join(run)) > 4 and not (len(run) == 1 and run[0] in NOT_COUNTED):
            found.append(" ".join(run))
        run = [token] if usable else []

    def rarity(phrase: str) -> float:
        values = sorted((vocabulary.rarity(w) for w in words_of(phrase)), reverse=True)
        return values[0] + sum(values[1:]) / 2 if values else 0.0

    ranked = sorted(dict.fromkeys(found), key=lambda p: (-rarity(p), p))
    return [p for p in ranked if rarity(p) > 0]


def _precedes_verb(token: str) -> bool:
    return bool(token) and (token[0].isupper() or token.lower() in VERB_CUES)


def is_content_word(token: str) -> bool:
    lower = token.lower()
    return (
        token[0].isalpha()
        and len(token) > 2
        and lower not in STOPWORDS
        and lower not in SCALES
        and lower not in IRREGULAR_PAST
        and lower.split("-")[0] not in WORD_NUMBERS
        and "'" not in token
    )


def _headings(chunk: Chunk, sentences: list[Sentence]) -> list[tuple[str, int]]:
    """The chunk's section, numbered headings ("16. Source of Payments.") and title lines
    ("Certain Significant Risks and Uncertainties"), each with the first sentence under it."""
    found = []
    section = (chunk.section or "").strip(" =#")
    if section:
        found.append((section, 0))
    positions = [(m.group(1).strip(), m.end()) for m in NUMBERED_HEADING.finditer(chunk.text)]
    for match in re.finditer(r"(?m)^[ \t]*([A-Z][^\n]{2,80}?)[ \t]*$", chunk.text):
        line, words = match.group(1), match.group(1).split()
        long_words = [w for w in words if len(w) > 3]
        if (
            2 <= len(words) <= 10
            and not line.endswith((".", ",", ";"))
            and not re.search(r"[\d:]", line)
            and long_words
            and sum(w[0].isupper() for w in long_words) >= 0.75 * len(long_words)
        ):
            positions.append((line, match.end()))
    for heading, end in positions:
        offset = len(chunk.text[:end].split())
        first = next((i for i, s in enumerate(sentences) if s.offset >= offset), None)
        if first is not None:
            found.append((heading, first))
    return found


def is_adverb(word: str) -> bool:
    return word.endswith("ly") and len(word) > 4 and word not in LY_NOUNS


def is_modifier(word: str) -> bool:
    """An adjective or adverb by its ending: no phrase ends with one."""
    return word.endswith(("ly", "ed", "ous", "est", "ful", "able", "ible", "ern")) or (
        word.endswith("ive") and word not in IVE_NOUNS
    )


def possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}
