"""What each document of a corpus offers to be named and asked by, read from its own text.

Its aliases ("Nicknamed the "Bayou City", ... Houston", "Tokyo was originally known as Edo", "Lisbon
(Portuguese: Lisboa)"), its topics (its section headings: "== Economy ==" becomes "economy"), the
landmarks it alone names in its corpus, and whether a query names it (`points_at`): by title, alias,
the title one letter off, or a name only it mentions, and no other document. `phrasing` words queries
from these profiles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ...corpus.documents import Document

# Headings that are no topic of the document: the apparatus around an article.
_NOT_TOPICS = {
    "see also",
    "notes",
    "references",
    "external links",
    "further reading",
    "bibliography",
    "citations",
    "sources",
    "explanatory notes",
    "cited references",
    "guides",
    "footnotes",
    "works cited",
    "contents",
    "gallery",
    "primary sources",
    "secondary sources",
}
# Sections about the name itself, too narrow to list as an aspect of the whole in a summary request.
_NOT_ASPECTS = re.compile(r"\b(?:etymology|toponymy|nicknames?|name)\b", re.IGNORECASE)
# Endings of single words that name a people or read as adjectives ("Whites", "Turkish", "Dutch").
_NOT_A_PLACE_ENDINGS = ("s", "an", "ese", "ish", "ic", "ian", "ean", "ch", "ist")
_ARTICLES = {"the", "a", "an"}
_PLACE = re.compile(r"\b(city|capital|town|village|metropolis|municipality|country|island|seaport)\b", re.IGNORECASE)


def _place(opening: str) -> str | None:
    """What a document's opening says its subject is, when a place: "city", "town", "country"..."""
    match = _PLACE.search(opening)
    if match is None:
        return None
    word = match.group(1).lower()
    return "city" if word in ("capital", "metropolis", "municipality", "seaport") else word


# Words that open a question ("What ...", "Name ..."): lowered when a question is put after "Regarding {title}, ".
QUESTION_OPENERS = {
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "is",
    "are",
    "was",
    "were",
    "does",
    "do",
    "did",
    "can",
    "could",
    "should",
    "would",
    "will",
    "has",
    "have",
    "had",
    "name",
    "describe",
    "explain",
    "list",
    "in",
    "according",
}
# Words after which a capitalised word still starts the question rather than a name.
QUESTION_WORDS = QUESTION_OPENERS | {
    "tell",
    "give",
    "regarding",
    "about",
    "the",
    "a",
    "an",
    "i",
    "summarize",
    "summarise",
    "provide",
    "write",
    "outline",
    "briefly",
}
_NAME = r"[A-ZÀ-Ý][\w'’\-]*(?:\s+(?:of|the|de|da|do|del|am|an|von)?\s*[A-ZÀ-Ý][\w'’\-]*){0,4}"
_CAPITALISED = re.compile(r"(?<![\w'’])[A-ZÀ-Ý][\w'’\-]*(?:\s+(?:(?:of|the|de|da|am|von)\s+)?[A-ZÀ-Ý][\w'’\-]*)*")
WORD = re.compile(r"[^\W\d_][\w'’\-]*")

MAX_LANDMARKS = 8
_LANDMARK_CANDIDATES = 200  # the most mentioned place names checked for being this document's alone
# A name is a landmark (a built place of one city; not a lake or a river that others share, a people, an
# event or an institution anywhere) when it ends with one of these words or starts with one of _LANDMARK_FIRST.
_LANDMARK_LAST = set(
    """
tower gate platz park field airport bridge square market museum palace castle stadium centre center hall station
hill hills monastery cathedral church street avenue expressway zoo garden gardens pier wharf library forum arena
theatre theater building plaza quarter district
""".split()
)
_LANDMARK_FIRST = {"Castle", "Museum", "Avenida", "Rua", "Praça", "Fort"}
_NOT_LANDMARK_FIRST = {
    "Battle",
    "War",
    "Siege",
    "Treaty",
    "Episcopal",
    "Catholic",
    "Anglican",
    "Methodist",
    "Baptist",
    "Orthodox",
    "Lutheran",
    "Presbyterian",
    "Lake",
    "Mount",
    "River",
    "Port",
    "Greater",
    "Great",
    "Government",
    "International",
    "Central",
    "Imperial",
    "National",
    "Federal",
    "State",
    "City",
}


@dataclass(frozen=True)
class DocumentProfile:
    """What a document offers to name and ask it by (see `profile_documents`)."""

    doc_id: str
    title: str
    aliases: tuple[str, ...] = ()  # as a question would write them ("the Windy City", "Edo")
    landmarks: tuple[str, ...] = ()  # places only it names, most mentioned first ("the Brandenburg Gate")
    topics: tuple[str, ...] = ()  # every section as a topic ("economy", "higher education"), in text order
    aspects: tuple[str, ...] = ()  # the top-level sections' topics, for summary requests listing aspects
    place: str | None = None  # what its opening says it is, when a place ("city", "country"): travel talk fits
    others: tuple[str, ...] = field(default=(), repr=False)  # the other documents' titles and aliases
    texts: tuple[str, ...] = field(default=(), repr=False)  # (this document's text, the other documents' texts)
    _unique: dict = field(default_factory=dict, repr=False, compare=False, hash=False)  # is_unique_name's answers

    def is_unique_name(self, name: str) -> bool:
        """Is `name` a name of this document's alone: a phrase it says at least twice (a single word
        three times) and no other document says? Single words that read as a people or an adjective
        ("Whites", "Catholic", "Turkish") are not: they would not point at one document."""
        if name not in self._unique:
            self._unique[name] = self._is_unique_name(name)
        return self._unique[name]

    def _is_unique_name(self, name: str) -> bool:
        if len(name) < 4 or not self.texts:
            return False
        single = " " not in name
        if single and name.lower().endswith(_NOT_A_PLACE_ENDINGS):
            return False
        own, *others = self.texts
        return _count_phrase(own, name, 3 if single else 2) >= (3 if single else 2) and not any(
            _count_phrase(text, name, 1) for text in others
        )


def _count_phrase(text: str, phrase: str, enough: int) -> int:
    """How often `phrase` occurs in `text` as a word or phrase (not inside a longer word), counting up to
    `enough` (str.find: a regular expression is slow on a long document)."""
    count, start = 0, text.find(phrase)
    while start >= 0 and count < enough:
        end = start + len(phrase)
        if (start == 0 or not text[start - 1].isalnum() and text[start - 1] != "_") and (
            end == len(text) or not text[end].isalnum() and text[end] != "_"
        ):
            count += 1
        start = text.find(phrase, start + 1)
    return count


def profile_documents(documents: list[Document]) -> dict[str, DocumentProfile]:
    """Per document id: its aliases, topics and aspects, knowing the other documents of the corpus."""
    titles = [d.title.strip() for d in documents]
    aliases = {d.doc_id: find_aliases(d, [o for o in documents if o.doc_id != d.doc_id]) for d in documents}
    profiles = {}
    for document in documents:
        others = [o for o in documents if o.doc_id != document.doc_id]
        topics, aspects = section_topics(document, titles)
        other_names = tuple(t for o in others for t in (o.title.strip(), *aliases[o.doc_id]))
        profile = DocumentProfile(
            document.doc_id,
            document.title.strip(),
            tuple(aliases[document.doc_id]),
            (),
            tuple(topics),
            tuple(aspects),
            _place(document.text[:400]),
            other_names,
            (document.text, *(o.text for o in others)),
        )
        profiles[document.doc_id] = replace(profile, landmarks=tuple(find_landmarks(profile)))
    return profiles


def is_landmark(name: str) -> bool:
    """Does the name read as a built place of one city, of two words or more (see _LANDMARK_LAST)?"""
    words = re.sub(r"^the\s+", "", name, flags=re.IGNORECASE).split()
    return (
        len(words) >= 2
        and words[0] not in _NOT_LANDMARK_FIRST
        and (words[-1].lower() in _LANDMARK_LAST or words[0] in _LANDMARK_FIRST)
    )


def find_landmarks(profile: DocumentProfile, limit: int = MAX_LANDMARKS) -> list[str]:
    """The places only this document of the corpus names (twice or more), most mentioned first, with
    "the" where its text mostly writes one ("the Brandenburg Gate", "Potsdamer Platz")."""
    if not profile.texts:
        return []
    text = profile.texts[0]
    counts: dict[str, int] = {}
    for match in _CAPITALISED.finditer(text):
        name = re.sub(r"^(?:The|A|An)\s+", "", match.group(0))
        name = re.sub(r"['’]s$", "", name)
        if is_landmark(name) and not mentions(name, profile.title):
            counts[name] = counts.get(name, 0) + 1
    ranked = sorted((n for n in counts if counts[n] >= 2), key=lambda n: (-counts[n], n))
    landmarks = []
    for name in ranked[:_LANDMARK_CANDIDATES]:
        if len(landmarks) >= limit:
            break
        if profile.is_unique_name(name) and not any(mentions(name, other) for other in profile.others):
            with_article = len(re.findall(rf"\b[Tt]he\s+{re.escape(name)}\b", text))
            landmarks.append(f"the {name}" if 2 * with_article >= counts[name] else name)
    return landmarks


# aliases ------------------------------------------------------------------------------------------
def find_aliases(document: Document, others: list[Document] = ()) -> list[str]:
    """Other names the document's text gives its subject: nicknames, former and official names and
    names in another language, said of the title (or of "the city"/"it" opening the sentence). An
    alias that another document mentions, or that holds a title, is left out: it would not point at
    this document alone."""
    title = document.title.strip()
    if not title:
        return []
    t = re.escape(title)
    text = document.text
    found: list[str] = []
    # Nicknamed the "Bayou City", "Space City" and "H-Town", Houston has ...
    for match in re.finditer(
        rf"[Nn]icknamed\s+(?:the\s+)?((?:\"[^\"\n]{{2,40}}\"[,\s]*(?:and\s+|or\s+)?)+){t}\b", text
    ):
        found += re.findall(r"\"([^\"\n]+)\"", match.group(1))
    # The city has had several nicknames ..., such as the Windy City, Chi-Town, Second City, and ...
    for match in re.finditer(
        rf"(?:^|(?<=[.!?]\s))(?:{t}|The city|It)\b[^.!?\n]{{0,80}}?\bnicknames\b[^.!?\n]{{0,60}}?"
        r"\b(?:such as|including)\s+([^.;:!?\n]+)",
        text,
        re.MULTILINE,
    ):
        found += [
            re.sub(r"^(?:and|or)\s+", "", item.strip()) for item in re.split(r",|\s+and\s+|\s+or\s+", match.group(1))
        ]
    # Houston received the official nickname of "Space City" / Boston has been called the "Athens of America"
    for match in re.finditer(
        rf"\b{t}(?:\s+(?:has|had|have|also|been|was|is|often|sometimes|received|earned|got|"
        r"the|an?|its|official|unofficial))+\s+(?:nickname|called|dubbed)\s+(?:of\s+)?(?:the\s+)?"
        r"\"([^\"\n]{2,40})\"(?!\s*\((?:also|not))",
        text,
    ):
        found.append(match.group(1))
    # Tokyo, then known as Edo / Tokyo was originally known as Edo / Lisbon, officially ... / (Portuguese: Lisboa)
    for match in re.finditer(
        rf"\b{t}(?:,|\s+was|\s+is)?(?:\s+(?:formerly|originally|once|also|often|"
        rf"sometimes|popularly))*\s+(?:known|called|nicknamed|referred\s+to)(?:\s+as)?\s+(?:the\s+)?"
        rf"\"?({_NAME})\"?",
        text,
    ):
        found.append(match.group(1))
    for match in re.finditer(rf"\b{t}\b(?:\s*\([^)\n]*\))?,\s+officially\s+(?:the\s+)?({_NAME})", text):
        found.append(match.group(1))
    lead = text[:600]
    for match in re.finditer(
        rf"\b{t}\s*\([^)\n]*?\b[A-Z][a-z]+:\s+([A-ZÀ-Ý][a-zà-ÿ\-]+(?:\s+[A-ZÀ-Ý][a-zà-ÿ\-]+)?)", lead
    ):
        found.append(match.group(1))
    # Chicago metropolitan area, often colloquially called "Chicagoland"
    for match in re.finditer(
        rf"\b{t}\b[\w\s]{{0,25}},\s+(?:often\s+|also\s+)?(?:colloquially\s+)?called\s+\"([^\"\n]{{2,40}})\"", text
    ):
        found.append(match.group(1))
    titles = [title] + [o.title.strip() for o in others if o.title.strip()]
    aliases: list[str] = []
    for raw in found:
        alias = _clean_alias(raw)
        if alias and alias.lower() not in (a.lower() for a in aliases) and _usable_alias(alias, titles, others):
            aliases.append(alias)
    return aliases


def _clean_alias(raw: str) -> str | None:
    alias = " ".join(raw.strip(" \"'“”‘’").split())
    alias = re.sub(r"^(?:the|The)\s+", "", alias)
    words = alias.split()
    if not words or len(alias) > 40 or len(words) > 6 or not alias[0].isupper():
        return None
    if not any(len(w) >= 3 and w.isalpha() and w.lower() not in _ARTICLES for w in re.split(r"[\s\-]", alias)):
        return None  # "the 713": a number, not a name a query could go by
    if len(words) > 1 and any(w in ("City", "Town", "Capital", "Metropolis") for w in words):
        return f"the {alias}"  # "the Windy City", "the City of the Big Shoulders"
    return alias


def _usable_alias(alias: str, titles: list[str], others: list[Document]) -> bool:
    bare = re.sub(r"^the\s+", "", alias)
    if any(re.search(rf"(?<!\w){re.escape(t)}(?!\w)", bare, re.IGNORECASE) for t in titles):
        return False  # "Tokyo Metropolis" says no more than the title; "Boston Tech" is another thing
    pattern = re.compile(rf"(?<!\w){re.escape(bare)}(?!\w)", re.IGNORECASE)
    return not any(pattern.search(o.text) for o in others)


# topics -----------------------------------------------------------------------------------------
def section_topics(document: Document, titles: list[str] = ()) -> tuple[list[str], list[str]]:
    """(topics, aspects): every section of the document as a topic ("Economy > Companies" gives
    "companies"), and its top-level sections' topics. Left out: reference apparatus, headings with
    figures ("1900 to 1939") and headings naming another document."""
    topics: list[str] = []
    aspects: list[str] = []
    own = document.title.strip().lower()
    for span in document.spans:
        if not span.section:
            continue
        path = [p.strip(" =#") for p in span.section.split(">")]
        if any(p.lower() in _NOT_TOPICS for p in path):
            continue
        for depth, heading in enumerate(path):
            topic = _topic(heading, document.text)
            if topic is None or any(t.strip().lower() in topic.lower() for t in titles if t.strip().lower() != own):
                continue
            if own and own in topic.lower():
                continue  # "Prehistory of Berlin": the title would be said twice
            if topic not in topics:
                topics.append(topic)
            if depth == 0 and topic not in aspects and not _NOT_ASPECTS.search(topic):
                aspects.append(topic)
    return topics, aspects


def _topic(heading: str, text: str) -> str | None:
    heading = " ".join(heading.split())
    if not heading or any(c.isdigit() for c in heading) or len(heading) > 40 or not WORD.match(heading):
        return None
    words = heading.split()
    # Sentence-case headings are common nouns ("Government and politics"), as is a lone word the text
    # writes in lower case or never capitalises mid-sentence ("Economy"); "Bay Street" and "Alfama" are
    # names and keep their capitals.
    if not all(w.islower() or not w[0].isalpha() for w in words[1:]):
        return heading
    if (
        len(words) == 1
        and re.search(rf"[a-z,;]\s+{re.escape(heading)}\b", text)
        and not re.search(rf"\b{re.escape(heading.lower())}\b", text)
    ):
        return heading
    return heading[0].lower() + heading[1:]


# naming ----------------------------------------------------------------------------------------------
def mentions(question: str, name: str) -> bool:
    """Does the question say `name` as a word or phrase, in any case ("the Windy City" also as "Windy City")?"""
    bare = re.sub(r"^the\s+", "", name.strip(), flags=re.IGNORECASE)
    return bool(bare) and re.search(rf"(?<!\w){re.escape(bare)}(?!\w)", question, re.IGNORECASE) is not None


def _names_title_with_typo(question: str, title: str) -> bool:
    if " " in title or len(title) < 5:
        return False
    return any(one_edit(w.lower(), title.lower()) for w in WORD.findall(question))


def points_at(question: str, profile: DocumentProfile) -> bool:
    """Does the question name the document (title, alias, the title one letter off) or a name only it
    mentions, and no other document of the corpus by title or alias?"""
    if any(mentions(question, other) for other in profile.others):
        return False
    return (
        mentions(question, profile.title)
        or any(mentions(question, a) for a in profile.aliases)
        or _names_title_with_typo(question, profile.title)
        or bool(unique_names_in(question, profile))
    )


def unique_names_in(question: str, profile: DocumentProfile) -> list[str]:
    """The names in the question (capitalised phrases past its opening question words) only its document mentions."""
    names = []
    for match in _CAPITALISED.finditer(question):
        words = match.group(0).split()
        while words and words[0].lower() in QUESTION_WORDS:
            words = words[1:]  # "What" in "What is Puget Sound known for?", "Regarding" etc.
        name = re.sub(r"['’]s$", "", " ".join(words))
        if name and not mentions(name, profile.title) and profile.is_unique_name(name):
            names.append(name)
    return names


def one_edit(a: str, b: str) -> bool:
    """Is `a` exactly one drop, insertion or neighbour swap away from `b`?"""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))
