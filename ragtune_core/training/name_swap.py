"""Name swaps: router questions whose document is renamed, so a selector learns to match names.

A cross-encoder trained on a few cities' questions learns "Berlin goes to vector_tool_berlin" as a fact
about Berlin, and then sends a question about a city it never saw to one of those (docs/decisions.md,
"router name swaps"). A copy of each
question with its document's name replaced by an invented one, in the question and in that document's
tool descriptions alike, and every other document of its pairs renamed too, can only be answered by
reading the names: what routing an unseen document needs, with no preference learnt for or against any
real name. Invented names (not other documents' names) keep the copies from teaching anything about the
dataset's own documents, the validation ones included.

A document's name is read from its tools' descriptions: the longest capitalised phrase that every one
of its descriptions contains and no other document's does ("Berlin" in "... specific aspects of
Berlin (e.g. ...)"). Questions that do not contain it (a nickname, no name at all) get no copy. A
quarter of the copies misspell the invented name in the question, as people do.

QA questions name their document too ("uber 2021 net loss"), where its passages seldom do: a 10-K says
"we". A question encoder trained on one document learns to pass over that document's name alone, and
then follows another document's name to the few passages that spell it ("Uber Eats"). Copies naming an
invented document teach it to pass over any name (`renamed_pairs`). There a name is read from the
questions: the word most of a document's questions use, if its passages use it far less (`names_asked`).
"""

from __future__ import annotations

import random
import re
from collections import Counter

from ..questions.lexicon import STOPWORDS
from ..questions.qa_dataset import QADataset

Triple = tuple[str, str, float]  # (question, passage, label)
MISSPELT_SHARE = 0.25  # copies whose question misspells the invented name
# A QA document's name: a word in this share of its questions at least (and this many), in at most half
# that share of its passages but in one at least ("lyft": 0.43 of Lyft's generated questions, 0.19 of its
# 10-K's chunks). Fewer questions say nothing: in two, any word is in half of them.
NAME_QUESTION_SHARE = 0.2
NAME_QUESTIONS = 10
_WORD = re.compile(r"[a-z][a-z0-9]*(?:[-.][a-z0-9]+)*")

# Capitalised words, with digits or capitals continuing them: "Berlin", "New York City", "Lyft 10-K".
_PHRASE = re.compile(r"[A-Z][\w'’.-]*(?:[ -][A-Z0-9][\w'’.-]*)*")
_ONSETS = (
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "pr",
    "r",
    "s",
    "st",
    "t",
    "tr",
    "v",
    "z",
)
_VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ei")
_CODAS = ("", "", "n", "r", "l", "s", "m", "th")


def document_names(descriptions: dict[str, str], document_of: dict[str, str]) -> dict[str, str]:
    """{document id: its name} for each document whose tools' descriptions name it (see the module)."""
    phrases_of: dict[str, list[set[str]]] = {}
    for tool, description in descriptions.items():
        if tool in document_of:
            phrases_of.setdefault(document_of[tool], []).append(_phrases(description))
    names = {}
    for document, phrase_sets in phrases_of.items():
        others = set().union(*(s for d, sets in phrases_of.items() if d != document for s in sets))
        own = set.intersection(*phrase_sets) - others
        if own:
            names[document] = max(sorted(own), key=len)
    return names


def _phrases(text: str) -> set[str]:
    """Every capitalised phrase of `text` and each run of its words (so "New York City" also gives "New York")."""
    phrases = set()
    for match in _PHRASE.finditer(text):
        words = match.group().split()
        phrases.update(" ".join(words[i:j]) for i in range(len(words)) for j in range(i + 1, len(words) + 1))
    return {p.rstrip(".") for p in phrases if len(p.rstrip(".")) > 1}


def invented_name(rng: random.Random, avoid: set[str]) -> str:
    """A pronounceable name of two or three syllables that is none of `avoid` (lower-cased)."""
    while True:
        name = "".join(
            rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(rng.choice((2, 2, 3)))
        ).capitalize()
        if name.lower() not in avoid:
            return name


def swap_name(text: str, name: str, new_name: str) -> str:
    """`text` with every whole-word `name` (any case) replaced by `new_name`, lower-cased where the
    text wrote the name in lower case ("chicago weather" stays lower case)."""
    return re.sub(
        rf"(?<!\w){re.escape(name)}(?!\w)",
        lambda found: new_name.lower() if found.group().islower() else new_name,
        text,
        flags=re.IGNORECASE,
    )


def as_typed(name: str, rng: random.Random) -> str:
    """`name` as a question types it: misspelt in MISSPELT_SHARE of the draws."""
    return misspelt(name, rng) if rng.random() < MISSPELT_SHARE else name


def misspelt(name: str, rng: random.Random) -> str:
    """`name` with one slip of the keyboard after its first letter: two letters swapped, one left out
    or one doubled, as people type a name they half know ("Seatle", "Vancover", "chicgo")."""
    at = rng.randrange(1, len(name) - 1)
    slip = rng.choice(("swap", "drop", "double"))
    if slip == "swap":
        return name[:at] + name[at + 1] + name[at] + name[at + 2 :]
    return name[:at] + ("" if slip == "drop" else name[at] * 2) + name[at + 1 :]


def rename_identifier(identifier: str, name: str, new_name: str) -> str:
    """A tool name with the name in it, as an identifier writes it, replaced: "vector_tool_new_york" with
    ("New York", "Drailo") gives "vector_tool_drailo"; unchanged when it does not hold the name."""
    return re.sub(re.escape(_slug(name)), _slug(new_name), identifier, flags=re.IGNORECASE)


def _slug(text: str) -> str:
    return re.sub(r"\W+", "_", text.lower()).strip("_")


def named_in(text: str, name: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, flags=re.IGNORECASE) is not None


class NameSwapper:
    """Copies of one question's labelled pairs with the right document's name invented anew each time."""

    def __init__(self, descriptions: dict[str, str], document_of: dict[str, str], copies: int, seed: int):
        self.names = document_names(descriptions, document_of)
        self.descriptions, self.document_of, self.copies = descriptions, document_of, copies
        self.rng = random.Random(seed)
        self.avoid = {name.lower() for name in self.names.values()}

    def renames(self, question: str, right: list[str]) -> bool:
        """Whether `question` names the document of its right tool (and so gets copies)."""
        name = self.names.get(self.document_of.get(right[0])) if right else None
        return bool(name) and named_in(question, name)

    def renamings(self, question: str, right: list[str], tools: list[str]) -> list[tuple[str, dict[str, str]]]:
        """`copies` renamings of `question`: (the question naming its document by a new invented name,
        {document: invented name} for every named document of `tools`); none when the question does not
        name its document. A share of the questions misspell the name; the tools always spell it right."""
        if not self.renames(question, right):
            return []
        document = self.document_of[right[0]]
        renamings = []
        for _ in range(self.copies):
            new_names = {
                d: invented_name(self.rng, self.avoid)
                for d in dict.fromkeys(self.document_of.get(tool) for tool in tools)
                if d in self.names
            }
            typed = as_typed(new_names[document], self.rng)
            renamings.append((swap_name(question, self.names[document], typed), new_names))
        return renamings

    def described(self, tool: str, new_names: dict[str, str]) -> str:
        """The tool's description with its document's name replaced as `new_names` says."""
        document = self.document_of.get(tool)
        description = self.descriptions[tool]
        return (
            swap_name(description, self.names[document], new_names[document]) if document in new_names else description
        )

    def copies_of(self, question: str, right: list[str], pairs: list[tuple[str, float]]) -> list[Triple]:
        """`renamings` of (question, [(tool id, label)]) as labelled triples: every document the pairs'
        tools belong to renamed in their descriptions, the right one in the question too."""
        return [
            (renamed, self.described(tool, new_names), label)
            for renamed, new_names in self.renamings(question, right, [tool for tool, _ in pairs])
            for tool, label in pairs
        ]


def names_asked(questions_of: dict[str, list[str]], passages_of: dict[str, list[str]]) -> dict[str, str]:
    """{document id: the name its questions call it by} for each document whose questions share a word
    that its passages spell, far less often (see the module); question words ("what", "how") are no names."""
    names = {}
    for document, questions in questions_of.items():
        asked = Counter(word for question in questions for word in set(_WORD.findall(question.lower())))
        passages = passages_of.get(document, [])
        for word, count in asked.most_common():
            share = count / len(questions)
            if share < NAME_QUESTION_SHARE or count < NAME_QUESTIONS:
                break
            if word in STOPWORDS:
                continue
            written = sum(named_in(passage, word) for passage in passages)
            if 0 < written <= share / 2 * len(passages):
                names[document] = word
                break
    return names


def renamed_pairs(train: QADataset, copies: int, seed: int) -> list[tuple[str, str]]:
    """The train part's (question, passage id) pairs, then `copies` of each pair whose question names its
    document (`names_asked`, from this part), naming an invented document instead. A QA dataset's."""
    pairs = [(train.queries[q], p) for q in train.queries for p in train.relevant_docs[q]]
    document = {passage: train.passage_docs.get(passage, passage) for passage in train.corpus}
    questions_of: dict[str, list[str]] = {}
    for question, passage in pairs:
        questions_of.setdefault(document[passage], []).append(question)
    passages_of: dict[str, list[str]] = {}
    for passage, text in train.corpus.items():
        if document[passage] in questions_of:
            passages_of.setdefault(document[passage], []).append(text)
    names = names_asked(questions_of, passages_of) if copies else {}
    rng, avoid = random.Random(seed), set(names.values())
    renamed = []
    for question, passage in pairs:
        name = names.get(document[passage])
        for _ in range(copies if name and named_in(question, name) else 0):
            renamed.append((swap_name(question, name, as_typed(invented_name(rng, avoid), rng)), passage))
    return pairs + renamed
