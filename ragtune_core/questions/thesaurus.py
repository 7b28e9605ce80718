"""Everyday words for a document's own: what the offline generator's plain-words questions say
instead of the chunk's terms, so a retriever learns the meaning and not only the spelling.

Three sources: plain words for common business and finance terms (EVERYDAY); the corpus's own
abbreviations ("Research and development (R&D)" gives "R&D" for the long form and the long form for
"R&D"); and WordNet's synonyms, read from the database files of Debian's `wordnet-base` (or the
folder in $RAGTUNE_WORDNET), for nouns with one sense in common use only (WordNet's tagged-sense
counts), so "customers" gives "clients" and "complaint" (a grievance or an illness) nothing.
Without WordNet the other two still work.

WordNet's synonyms are kept only where the bundled embedding model finds them close to the word
(`model_closeness`, cosine at least MIN_CLOSENESS): on two 10-Ks, one sense in use still gave
"facility" -> "installation", "borrowings" -> "adoptions", "fair" -> "carnival" (0.24, 0.24, 0.19),
where "customers" -> "clients" and "attorney" -> "lawyer" score 0.72 and 0.89.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from functools import cache, lru_cache
from pathlib import Path

WORDNET_DIRS = ("/usr/share/wordnet", "/usr/local/share/wordnet", "/usr/share/wordnet/dict")
MIN_CLOSENESS = 0.5  # the least cosine between a word and a WordNet synonym kept for it
POS_FILES = {"n": "noun"}  # adjectives and verbs: their synonyms are mostly another sense's
# "Full Name (ABBR)" or "Full Name ("ABBR")": the abbreviation's letters start the name's words.
ABBREVIATION = re.compile(
    r"((?:[A-Za-z][\w\-]*[ ,]+(?:and |of |& )?){1,6})"
    r"\(\s*(?:the\s+)?[“\"]?([A-Z][A-Za-z&]{1,7})[”\"]?\s*\)"
)


# Plain words for the terms of business and finance writing, where WordNet has none in common use.
EVERYDAY = {
    "revenue": ("sales", "income"),
    "revenues": ("sales", "income"),
    "net loss": ("losses", "money lost"),
    "net income": ("profit", "earnings"),
    "expenses": ("costs", "spending"),
    "expense": ("cost", "spending"),
    "operating expenses": ("running costs",),
    "cost of revenue": ("direct costs",),
    "general and administrative": ("overhead",),
    "sales and marketing": ("marketing spending", "advertising"),
    "stock-based compensation": ("equity pay", "stock awards"),
    "cash and cash equivalents": ("cash on hand",),
    "liabilities": ("debts", "obligations"),
    "indebtedness": ("debt", "borrowing"),
    "borrowings": ("loans",),
    "litigation": ("lawsuits", "court cases"),
    "legal proceedings": ("lawsuits", "court cases"),
    "employees": ("staff", "workers"),
    "headcount": ("staff numbers",),
    "personnel": ("staff",),
    "acquisition": ("purchase", "takeover"),
    "acquisitions": ("purchases", "takeovers"),
    "divestiture": ("sale of a business",),
    "regulations": ("rules", "laws"),
    "regulatory": ("legal",),
    "compliance": ("following the rules",),
    "competitors": ("rivals",),
    "competition": ("rivals",),
    "impairment": ("write-down",),
    "repurchase": ("buyback",),
    "dividends": ("payouts",),
    "restructuring": ("reorganization", "layoffs"),
    "fiscal year": ("year",),
    "intellectual property": ("patents",),
    "cybersecurity": ("hacking",),
    "security breaches": ("hacks",),
    "data privacy": ("personal data",),
    "headquarters": ("main office",),
    "subsidiaries": ("units",),
    "shareholders": ("investors",),
    "stockholders": ("investors",),
    "interest rate": ("borrowing cost",),
    "inflation": ("rising prices",),
    "liquidity": ("cash available",),
    "capital expenditures": ("investment spending",),
    "consumers": ("people",),
    "incentives": ("bonuses", "rewards"),
    "fees": ("charges",),
    "pricing": ("prices",),
    "growth": ("increase",),
    "decreased": ("went down", "fell"),
    "increased": ("went up", "rose"),
    "terminate": ("end",),
    "termination": ("ending",),
    "commence": ("start",),
    "approximately": ("about",),
}


def wordnet_dir() -> Path | None:
    """The folder of WordNet's database files, or None where it is not installed."""
    for folder in (os.environ.get("RAGTUNE_WORDNET"), *WORDNET_DIRS):
        if folder and (Path(folder) / "index.noun").is_file():
            return Path(folder)
    return None


# closeness(word, candidates): the cosine of each candidate to the word
Closeness = Callable[[str, tuple[str, ...]], Sequence[float]]


class Thesaurus:
    """Common synonyms of a word (WordNet, most frequent sense, kept where `closeness` finds them close)
    and the corpus's abbreviations."""

    def __init__(
        self,
        abbreviations: dict[str, str] | None = None,
        wordnet: Path | None = None,
        closeness: Closeness | None = None,
    ):
        self.abbreviations = dict(abbreviations or {})
        self.wordnet = wordnet
        self.closeness = closeness or model_closeness

    @classmethod
    def of(cls, texts: Iterable[str]) -> Thesaurus:
        return cls(find_abbreviations(texts), wordnet_dir())

    def alternatives(self, phrase: str) -> list[str]:
        """Other ways to say `phrase` (lower case): its abbreviation or long form, then synonyms of
        the phrase as a whole (WordNet knows "net income", "stock option"). A phrase's last word
        alone is not looked up: out of context its synonyms are often another sense's."""
        lower = phrase.lower()
        found = [self.abbreviations[lower]] if lower in self.abbreviations else []
        found += EVERYDAY.get(lower, ())
        if self.wordnet is not None:
            found += self._close_synonyms(lower)
        return [f for f in dict.fromkeys(found) if f != lower]

    def _close_synonyms(self, word: str) -> tuple[str, ...]:
        synonyms = _synonyms(self.wordnet, word.replace(" ", "_"))
        scores = self.closeness(word, synonyms) if synonyms else []
        return tuple(s for s, score in zip(synonyms, scores, strict=True) if score >= MIN_CLOSENESS)


@lru_cache(maxsize=50_000)
def model_closeness(word: str, candidates: tuple[str, ...]) -> tuple[float, ...]:
    """The bundled embedding model's cosine between `word` and each candidate, kept for every Thesaurus (the
    Questions page makes one for each chunk it asks about again)."""
    from ..store.models import load_embedder

    vectors = load_embedder(None).encode(
        [word, *candidates], normalize_embeddings=True, convert_to_tensor=True, show_progress_bar=False
    )
    return tuple((vectors[1:] @ vectors[0]).tolist())


def find_abbreviations(texts: Iterable[str]) -> dict[str, str]:
    """Long form <-> abbreviation, both lower case, for abbreviations whose letters are the
    initials of the words before them ("Adjusted Earnings Before ... (EBITDA)" is not one)."""
    pairs: dict[str, str] = {}
    for text in texts:
        for match in ABBREVIATION.finditer(text):
            long_form = _long_form(match.group(1), match.group(2))
            if long_form:
                short = match.group(2)
                pairs.setdefault(long_form.lower(), short)
                pairs.setdefault(short.lower(), long_form.lower())
    return pairs


def _long_form(words_before: str, short: str) -> str | None:
    letters = [c.lower() for c in short if c.isalpha()]
    words = [w for w in re.split(r"[ ,]+", words_before.strip()) if w]
    significant = [w for w in words if w.lower() not in ("and", "of", "&")]
    for start in range(len(words)):
        tail = words[start:]
        initials = [w[0].lower() for w in tail if w.lower() not in ("and", "of", "&")]
        if initials == letters and len(significant) >= 2 and len(tail) >= 2:
            return " ".join(tail)
    return None


@cache
def _index(folder: Path, pos: str) -> dict[str, tuple[int, list[int]]]:
    """lemma -> (senses tagged in WordNet's corpus, synset offsets by frequency) for one part of speech."""
    index = {}
    with (folder / f"index.{POS_FILES[pos]}").open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith(" "):
                continue  # the licence header
            fields = line.split()
            pointers = int(fields[3])
            tagged = int(fields[5 + pointers])
            index[fields[0]] = (tagged, [int(o) for o in fields[6 + pointers :]])
    return index


@lru_cache(maxsize=50_000)
def _synonyms(folder: Path, word: str) -> tuple[str, ...]:
    """Common words for a word with one sense in common use (WordNet's tagged-sense count is 1), nouns
    first: synonyms that are themselves in use, no proper names, at most three. A plural gets plural
    synonyms ("customers" -> "clients")."""
    for lemma, plural in _lemmas(word):
        for pos in POS_FILES:
            entry = _index(folder, pos).get(lemma)
            if entry is None or entry[0] != 1:
                continue  # untagged (rare), or several senses in use: which one the document means is a guess
            words = _synset_words(folder, pos, entry[1][0])
            common = [
                w
                for w in dict.fromkeys(words)
                if w != lemma and not w[0].isupper() and _index(folder, pos).get(w, (0, []))[0] > 0
            ]
            if common:
                words = [w.replace("_", " ") for w in common[:3]]
                return tuple(dict.fromkeys(_plural(w) for w in words)) if plural and pos == "n" else tuple(words)
    return ()


def _plural(word: str) -> str:
    """ "clients" for "client"; a word already plural as WordNet lists it ("dealings") stays."""
    return word if word.endswith("s") else word + "s"


def _lemmas(word: str) -> list[tuple[str, bool]]:
    """(base form, whether `word` is its plural): the word itself, then "-s"/"-es"/"-ies" taken off."""
    found = [(word, False)]
    if word.endswith("ies"):
        found.append((word[:-3] + "y", True))
    elif word.endswith("es"):
        found += [(word[:-1], True), (word[:-2], True)]
    elif word.endswith("s") and not word.endswith("ss"):
        found.append((word[:-1], True))
    return found


def _synset_words(folder: Path, pos: str, offset: int) -> list[str]:
    """The words of the synset at byte `offset` of data.<pos>."""
    with (folder / f"data.{POS_FILES[pos]}").open("rb") as data:
        data.seek(offset)
        fields = data.readline().decode("utf-8", errors="replace").split()
    count = int(fields[3], 16)
    return [re.sub(r"\(\w+\)$", "", fields[4 + 2 * i]) for i in range(count)]
