"""Offline wording variety for router queries: what a document offers to be named and asked by, and
how a query is phrased, so the generated queries read like users' rather than like one template.

From a document's own text: its aliases ("Nicknamed the "Bayou City", ... Houston", "Tokyo was
originally known as Edo", "Lisbon (Portuguese: Lisboa)"), its topics (its section headings: "== Economy =="
becomes "economy") and the landmarks it alone names in its corpus. From those: summary requests, some
listing aspects ("Give me the big picture of Berlin: its history, economy and transport"), specific
questions that sound broad but ask about one section ("What is Berlin's economy like?") or one landmark,
a document named by title, alias or, where a landmark only it names points at it, not at all, and
styles: terse keywords, long conversational requests, lower case, no question mark, a typo. Every query
still names or uniquely points at its one document (`points_at`). Deterministic per seed, no network.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field, replace

from ..corpus.documents import Document

# Headings that are no topic of the document: the apparatus around an article.
_NOT_TOPICS = {"see also", "notes", "references", "external links", "further reading", "bibliography", "citations",
               "sources", "explanatory notes", "cited references", "guides", "footnotes", "works cited", "contents",
               "gallery", "primary sources", "secondary sources"}
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
# Words after which a capitalised word still starts the question rather than a name.
_QUESTION_WORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how", "is", "are", "was",
                   "were", "does", "do", "did", "can", "could", "should", "would", "will", "has", "have", "had",
                   "name", "describe", "explain", "list", "in", "according", "tell", "give", "regarding", "about",
                   "the", "a", "an", "i", "summarize", "summarise", "provide", "write", "outline", "briefly"}
_NAME = r"[A-ZÀ-Ý][\w'’\-]*(?:\s+(?:of|the|de|da|do|del|am|an|von)?\s*[A-ZÀ-Ý][\w'’\-]*){0,4}"
_CAPITALISED = re.compile(r"(?<![\w'’])[A-ZÀ-Ý][\w'’\-]*(?:\s+(?:(?:of|the|de|da|am|von)\s+)?[A-ZÀ-Ý][\w'’\-]*)*")
_WORD = re.compile(r"[^\W\d_][\w'’\-]*")

# Probabilities of the optional touches a query gets (each drawn independently).
P_ALIAS = 0.12  # name the document by an alias of its own, where it has one...
# A name a selector cannot have learnt for a document it never saw (a nickname, a landmark) is its only
# pointer in few queries: a validation document's such queries are guesses.
P_ALIAS_ALONE = 0.25  # ... without its title, else with the title after it: "the Bayou City (Houston)"
P_NAMELESS = 0.25  # leave the document unnamed when a landmark only it mentions points at it
P_LOWER = 0.2
P_NO_END_MARK = 0.25
P_TYPO = 0.06  # one letter off in one word of the query
P_PREFIX = 0.12
P_SUFFIX = 0.08
P_TERSE = 0.12  # a specific question cut to its keywords
SECTION_SHARE = 0.3  # of a document's specific questions, the share asked about a section as a whole
P_CONTEXT = 0.25  # a summary request put after who asks and why (_CONTEXTS)...
P_CONTEXT_SECTION = 0.4  # ... a section question (as many specific questions get one as summary requests)
P_CONTEXT_SPECIFIC = 0.1  # ... a question asked of a chunk
LANDMARK_SHARE = 0.15  # ... and the share asked about one of its landmarks
MAX_LANDMARKS = 8
_LANDMARK_CANDIDATES = 200  # the most mentioned place names checked for being this document's alone
# A name is a landmark (a built place of one city; not a lake or a river that others share, a people, an
# event or an institution anywhere) when it ends with one of these words or starts with one of _LANDMARK_FIRST.
_LANDMARK_LAST = set("""
tower gate platz park field airport bridge square market museum palace castle stadium centre center hall station
hill hills monastery cathedral church street avenue expressway zoo garden gardens pier wharf library forum arena
theatre theater building plaza quarter district
""".split())
_LANDMARK_FIRST = {"Castle", "Museum", "Avenida", "Rua", "Praça", "Fort"}
_NOT_LANDMARK_FIRST = {"Battle", "War", "Siege", "Treaty", "Episcopal", "Catholic", "Anglican", "Methodist", "Baptist",
                       "Orthodox", "Lutheran", "Presbyterian", "Lake", "Mount", "River", "Port", "Greater", "Great",
                       "Government", "International", "Central", "Imperial", "National", "Federal", "State", "City"}


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
        return (_count_phrase(own, name, 3 if single else 2) >= (3 if single else 2)
                and not any(_count_phrase(text, name, 1) for text in others))


def _count_phrase(text: str, phrase: str, enough: int) -> int:
    """How often `phrase` occurs in `text` as a word or phrase (not inside a longer word), counting up to
    `enough` (str.find: a regular expression is slow on a long document)."""
    count, start = 0, text.find(phrase)
    while start >= 0 and count < enough:
        end = start + len(phrase)
        if (start == 0 or not text[start - 1].isalnum() and text[start - 1] != "_") and (
                end == len(text) or not text[end].isalnum() and text[end] != "_"):
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
            document.doc_id, document.title.strip(), tuple(aliases[document.doc_id]), (), tuple(topics), tuple(aspects),
            _place(document.text[:400]), other_names, (document.text, *(o.text for o in others)))
        profiles[document.doc_id] = replace(profile, landmarks=tuple(find_landmarks(profile)))
    return profiles


def is_landmark(name: str) -> bool:
    """Does the name read as a built place of one city, of two words or more (see _LANDMARK_LAST)?"""
    words = re.sub(r"^the\s+", "", name, flags=re.IGNORECASE).split()
    return (len(words) >= 2 and words[0] not in _NOT_LANDMARK_FIRST
            and (words[-1].lower() in _LANDMARK_LAST or words[0] in _LANDMARK_FIRST))


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
    for match in re.finditer(rf"[Nn]icknamed\s+(?:the\s+)?((?:\"[^\"\n]{{2,40}}\"[,\s]*(?:and\s+|or\s+)?)+){t}\b", text):
        found += re.findall(r"\"([^\"\n]+)\"", match.group(1))
    # The city has had several nicknames ..., such as the Windy City, Chi-Town, Second City, and ...
    for match in re.finditer(rf"(?:^|(?<=[.!?]\s))(?:{t}|The city|It)\b[^.!?\n]{{0,80}}?\bnicknames\b[^.!?\n]{{0,60}}?"
                             r"\b(?:such as|including)\s+([^.;:!?\n]+)", text, re.MULTILINE):
        found += [re.sub(r"^(?:and|or)\s+", "", item.strip()) for item in re.split(r",|\s+and\s+|\s+or\s+", match.group(1))]
    # Houston received the official nickname of "Space City" / Boston has been called the "Athens of America"
    for match in re.finditer(rf"\b{t}(?:\s+(?:has|had|have|also|been|was|is|often|sometimes|received|earned|got|"
                             r"the|an?|its|official|unofficial))+\s+(?:nickname|called|dubbed)\s+(?:of\s+)?(?:the\s+)?"
                             r"\"([^\"\n]{2,40})\"(?!\s*\((?:also|not))", text):
        found.append(match.group(1))
    # Tokyo, then known as Edo / Tokyo was originally known as Edo / Lisbon, officially ... / (Portuguese: Lisboa)
    for match in re.finditer(rf"\b{t}(?:,|\s+was|\s+is)?(?:\s+(?:formerly|originally|once|also|often|"
                             rf"sometimes|popularly))*\s+(?:known|called|nicknamed|referred\s+to)(?:\s+as)?\s+(?:the\s+)?"
                             rf"\"?({_NAME})\"?", text):
        found.append(match.group(1))
    for match in re.finditer(rf"\b{t}\b(?:\s*\([^)\n]*\))?,\s+officially\s+(?:the\s+)?({_NAME})", text):
        found.append(match.group(1))
    lead = text[:600]
    for match in re.finditer(rf"\b{t}\s*\([^)\n]*?\b[A-Z][a-z]+:\s+([A-ZÀ-Ý][a-zà-ÿ\-]+(?:\s+[A-ZÀ-Ý][a-zà-ÿ\-]+)?)", lead):
        found.append(match.group(1))
    # Chicago metropolitan area, often colloquially called "Chicagoland"
    for match in re.finditer(rf"\b{t}\b[\w\s]{{0,25}},\s+(?:often\s+|also\s+)?(?:colloquially\s+)?called\s+\"([^\"\n]{{2,40}})\"", text):
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
    if not heading or any(c.isdigit() for c in heading) or len(heading) > 40 or not _WORD.match(heading):
        return None
    words = heading.split()
    # Sentence-case headings are common nouns ("Government and politics"), as is a lone word the text
    # writes in lower case or never capitalises mid-sentence ("Economy"); "Bay Street" and "Alfama" are
    # names and keep their capitals.
    if not all(w.islower() or not w[0].isalpha() for w in words[1:]):
        return heading
    if (len(words) == 1 and re.search(rf"[a-z,;]\s+{re.escape(heading)}\b", text)
            and not re.search(rf"\b{re.escape(heading.lower())}\b", text)):
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
    return any(_one_edit(w.lower(), title.lower()) for w in _WORD.findall(question))


def points_at(question: str, profile: DocumentProfile) -> bool:
    """Does the question name the document (title, alias, the title one letter off) or a name only it
    mentions, and no other document of the corpus by title or alias?"""
    if any(mentions(question, other) for other in profile.others):
        return False
    return (mentions(question, profile.title) or any(mentions(question, a) for a in profile.aliases)
            or _names_title_with_typo(question, profile.title) or bool(unique_names_in(question, profile)))


def unique_names_in(question: str, profile: DocumentProfile) -> list[str]:
    """The names in the question (capitalised phrases past its opening question words) only its document mentions."""
    names = []
    for match in _CAPITALISED.finditer(question):
        words = match.group(0).split()
        while words and words[0].lower() in _QUESTION_WORDS:
            words = words[1:]  # "What" in "What is Puget Sound known for?", "Regarding" etc.
        name = re.sub(r"['’]s$", "", " ".join(words))
        if name and not mentions(name, profile.title) and profile.is_unique_name(name):
            names.append(name)
    return names


def _pick_name(profile: DocumentProfile, rng: random.Random) -> str:
    """The title, or now and then one of the document's aliases, alone or followed by the title."""
    if profile.aliases and rng.random() < P_ALIAS:
        alias = rng.choice(profile.aliases)
        return alias if rng.random() < P_ALIAS_ALONE else f"{alias} ({profile.title})"
    return profile.title


_NAMING_FORMS = (
    "Regarding {name}, {question}",
    "{name}: {question}",
    "About {name}: {question}",
    "{body} in {name}?",
    "{body} ({name})?",
    "In {name}, {question}",
    "{body}, in the case of {name}?",
    "Speaking of {name}, {question}",
)
_OPENERS_KEPT_CAPITALISED = re.compile(r"^(?:I\b|[A-Z]{2,}|(?!(?:%s)\b)[A-Z][\w'’\-]*\s+[A-Z])" % "|".join(
    w.capitalize() for w in sorted(_QUESTION_WORDS)))


def name_question(question: str, profile: DocumentProfile, rng: random.Random, nameless: bool = True) -> str | None:
    """A generated specific question made to point at its document: as it is when it names the title
    (or with an alias in the title's place), now and then unnamed when a landmark only its document
    mentions points at it, else with the title or an alias put in one of several ways. None when it
    names another document: it would not have one right tool."""
    if any(mentions(question, other) for other in profile.others):
        return None
    name = _pick_name(profile, rng)
    if mentions(question, profile.title):
        if name == profile.title:
            return question
        return _put_alias(question, profile.title, name)
    if nameless and any(is_landmark(n) for n in unique_names_in(question, profile)) and rng.random() < P_NAMELESS:
        return question
    form = rng.choice(_NAMING_FORMS)
    body = question.rstrip(" ?.!")
    lowered = _lowered_opening(body, profile)
    if "{body}" in form:
        return form.format(name=name, body=body)
    return form.format(name=name, question=lowered)


def _lowered_opening(text: str, profile: DocumentProfile) -> str:
    """The text to follow an opening ("Regarding Berlin, what ..."): its first letter in lower case
    unless its first word is a name ("I", "MIT", "Rice University", the document's title or alias)."""
    if _OPENERS_KEPT_CAPITALISED.match(text):
        return text
    first = re.sub(r"['’]s$", "", text.split(" ", 1)[0])
    names = {w for n in (profile.title, *profile.aliases) for w in n.split() if w[:1].isupper()}
    return text if first in names else text[:1].lower() + text[1:]


def _put_alias(question: str, title: str, alias: str) -> str:
    def replacement(match: re.Match) -> str:
        at_start = match.start() == 0
        return alias[0].upper() + alias[1:] if at_start else alias

    return re.sub(rf"(?<![\w\-]){re.escape(title)}(?![\w\-])", replacement, question, flags=re.IGNORECASE)


# section questions and summary requests --------------------------------------------------------------
# Questions about one section that sound broad: the vector tool's, as the summary tool's description says.
SECTION_TEMPLATES = (
    "What is {name}'s {topic} like?",
    "What's the {topic} like in {name}?",
    "Tell me about {topic} in {name}.",
    "How would you describe the {topic} of {name}?",
    "Can you give me an overview of {name}'s {topic}?",
    "What should I know about {topic} in {name}?",
    "Describe {topic} in {name}.",
    "I'm curious about {topic} in {name}, what can you tell me?",
    "What can you tell me about {name}'s {topic}?",
    "Summarize what is known about {topic} in {name}.",
    "Summarize {name}'s {topic}.",
    "Give me a short summary of {topic} in {name}.",
    "How does {name} do when it comes to {topic}?",
    "Give me some information on {topic} in {name}.",
    "Explain the {topic} of {name} to me.",
    "What is there to know about {name}'s {topic}?",
    "{name} {topic}",
    "{topic} in {name}",
    "{name} - {topic}?",
    "info on {name} {topic}",
    "I'm writing a short piece on {topic} and would like to know how things stand in {name} specifically. "
    "What can you find?",
    "Could you walk me through {topic} in {name}? Only that part, please.",
)

# Summary requests without a list of aspects. SUMMARY_TEMPLATES (datasets.py) are the plain ones.
TERSE_SUMMARY_TEMPLATES = (
    "{name} overview",
    "{name} summary",
    "overview of {name}",
    "{name} in a nutshell",
    "{name}: the big picture",
    "everything about {name}",
    "{name} at a glance",
    "quick rundown on {name}",
    "the gist of {name}",
    "{name} - all the basics",
    "sum up {name}",
    "{name} general info",
)
LONG_SUMMARY_TEMPLATES = (
    "I know almost nothing about {name}. Could you give me a broad overview of it as a whole?",
    "Someone keeps mentioning {name} and I have no idea what it's about. Can you tell me about it in general?",
    "For a presentation I need a general introduction to {name} covering all the main points, not just one "
    "topic. What would you say?",
    "What is {name} like? I'm after the overall picture rather than any single detail.",
    "Tell me about {name}.",
    "I have five minutes before a meeting: give me the essentials of {name}, all of it in short.",
    "Introduce {name} to me as if I had never heard of it.",
    "What's the story of {name}, in broad strokes?",
)
ASPECT_SUMMARY_TEMPLATES = (
    "Give me the big picture of {name}: its {aspects}.",
    "Summarize {name}, covering {aspects}.",
    "Overview of {name} ({aspects})",
    "I'd like a complete overview of {name}, including {aspects}.",
    "Can you give me a summary of {name} that touches on {aspects}?",
    "What are the main things to know about {name}, from {first} to {last}?",
    "{name} overview: {aspects}",
    "Tell me about {name} in general: {aspects} and so on.",
    "Write a broad overview of {name} across {aspects}.",
    "everything about {name} - {aspects}",
    "I need the full picture of {name}. Please cover {aspects}.",
    "Give a general summary of {name} with a bit on {aspects}.",
    "Could you describe {name} as a whole: {aspects}, everything really?",
    "{name}: summary of {aspects}",
    "Brief me on {name} overall, e.g. {aspects}.",
    "What is {name} like overall? I mean {aspects}, the lot.",
)


# Questions about one landmark, the vector tool's; named by the landmark alone or with the document.
LANDMARK_TEMPLATES = (
    "What is {landmark}?",
    "Tell me about {landmark}.",
    "Why is {landmark} famous?",
    "What is the history of {landmark}?",
    "{landmark} facts",
    "What can visitors see at {landmark}?",
    "Where exactly is {landmark}?",
    "How old is {landmark}?",
    "What is special about {landmark}?",
    "{landmark} - worth a visit?",
)


def landmark_questions(profile: DocumentProfile, n: int, seed: int = 0) -> list[str]:
    """Up to `n` questions about the document's landmarks, one landmark each; some name the document
    too (phrasing.name_question's ways), the others only the landmark, which only this document names."""
    if not profile.landmarks or n <= 0:
        return []
    rng = random.Random(f"{seed}:landmarks:{profile.doc_id}")
    templates = rng.sample(LANDMARK_TEMPLATES, min(n, len(LANDMARK_TEMPLATES)))
    landmarks = rng.sample(profile.landmarks, len(profile.landmarks))
    questions = []
    for i, template in enumerate(templates):
        question = _upper_first(template.format(landmark=landmarks[i % len(landmarks)]))
        if rng.random() >= P_NAMELESS:
            question = name_question(question, profile, rng, nameless=False) or question
        questions.append(question)
    return _distinct(questions)


# Openings that say who asks and why, naming the document; a request about it "as a whole" or one
# section of it follows, so the context alone never tells the summary tool from the vector tool.
_CONTEXTS = (
    "I need to get up to speed on {name} quickly.",
    "I'm writing a report that mentions {name}.",
    "A colleague asked me about {name} and I drew a blank.",
    "I have to give a short talk on {name} tomorrow.",
    "I keep hearing about {name} lately.",
    "Background: I know next to nothing about {name}.",
)
_PLACE_CONTEXTS = (
    "I'm going to {name} for the first time next month.",
    "We might move to {name} next year.",
    "I've got a few free days in {name} soon.",
    "My sister just took a job in {name}.",
    "I'm planning a school trip to {name}.",
    "I've never set foot in {name}.",
)
_HOLISTIC_ASKS = (
    "Can you give me an overview of {it} as a whole?",
    "What should I know about {it} in general?",
    "Give me a general summary, not just one topic.",
    "What is {it} like, all things considered?",
    "Could you sum {it} up for me?",
    "Tell me about {it} overall.",
    "What are the essentials I should know about {it}?",
    "Please give me a general introduction to {it}.",
    "What's the overall picture?",
    "An all-round summary would help.",
    "Describe {it} to me in general terms.",
    "Summarize {it} for me, all of it.",
)
_SECTION_ASKS = (
    "What is the {topic} like there?",
    "How is {it} for {topic}?",
    "What can you tell me about the {topic} of {it}?",
    "I'm only interested in {topic}: what should I know?",
    "Just the {topic}, please. What's it like?",
    "What does {it} have in terms of {topic}?",
    "Describe the {topic} of {it} to me.",
)


def in_context(profile: DocumentProfile, ask: str, rng: random.Random) -> str:
    """`ask` after an opening naming the document; travel openings for places. The ask's {it} becomes
    "it" or, for a place, "the city" (what the document's opening says it is)."""
    contexts = _CONTEXTS + (_PLACE_CONTEXTS if profile.place else ())
    it = f"the {profile.place}" if profile.place and rng.random() < 0.5 else "it"
    return f"{rng.choice(contexts).format(name=_pick_name(profile, rng))} {ask.replace('{it}', it)}"


def section_questions(profile: DocumentProfile, n: int, seed: int = 0) -> list[str]:
    """Up to `n` distinct questions about one section of the document each, sections and wordings
    taken in turn; none when the document has no sections."""
    if not profile.topics or n <= 0:
        return []
    rng = random.Random(f"{seed}:sections:{profile.doc_id}")
    topics = list(profile.topics)
    rng.shuffle(topics)
    templates = list(SECTION_TEMPLATES)
    rng.shuffle(templates)
    questions: list[str] = []
    for i in range(min(n, len(topics) * len(templates))):
        topic = topics[i % len(topics)]
        template = templates[(i + i // len(topics)) % len(templates)]
        if rng.random() < P_CONTEXT_SECTION:
            questions.append(in_context(profile, rng.choice(_SECTION_ASKS).replace("{topic}", topic), rng))
            continue
        question = template.format(name=_pick_name(profile, rng), topic=topic)
        questions.append(_upper_first(question) if not template.startswith("{topic}") else question)
    return _distinct(questions)


def summary_requests(profile: DocumentProfile, n: int, plain_templates: tuple[str, ...], seed: int = 0) -> list[str]:
    """`n` distinct summary requests: plain (`plain_templates` with {title}), terse, long, after an
    opening saying who asks and why, and, for a document with two or more top-level sections, listing
    two to five of its aspects."""
    if n <= 0:
        return []
    rng = random.Random(f"{seed}:summaries:{profile.doc_id}")
    with_aspects = round(n * 0.3) if len(profile.aspects) >= 2 else 0
    terse = round(n * 0.15)
    long = round(n * 0.1)
    in_contexts = round(n * P_CONTEXT)
    plain = max(0, n - with_aspects - terse - long - in_contexts)
    plain_pool = [t.replace("{title}", "{name}") for t in plain_templates]
    chosen = (rng.sample(plain_pool, min(plain, len(plain_pool)))
              + rng.sample(TERSE_SUMMARY_TEMPLATES, min(terse, len(TERSE_SUMMARY_TEMPLATES)))
              + rng.sample(LONG_SUMMARY_TEMPLATES, min(long, len(LONG_SUMMARY_TEMPLATES))))
    requests = [_upper_first_unless_terse(t, t.format(name=_pick_name(profile, rng))) for t in chosen]
    for template in rng.sample(ASPECT_SUMMARY_TEMPLATES, min(with_aspects, len(ASPECT_SUMMARY_TEMPLATES))):
        aspects = rng.sample(profile.aspects, rng.randint(2, min(5, len(profile.aspects))))
        text = template.format(name=_pick_name(profile, rng), aspects=_listed(aspects, rng), first=aspects[0],
                               last=aspects[-1])
        requests.append(_upper_first_unless_terse(template, text))
    requests += [in_context(profile, ask, rng) for ask in rng.sample(_HOLISTIC_ASKS, min(in_contexts, len(_HOLISTIC_ASKS)))]
    requests = _distinct(requests)
    # Short of `n` (few plain templates): fill from the unused plain, terse and long ones.
    spare = [t for t in plain_pool + list(TERSE_SUMMARY_TEMPLATES) + list(LONG_SUMMARY_TEMPLATES) if t not in chosen]
    rng.shuffle(spare)
    while len(requests) < n and spare:
        template = spare.pop()
        requests = _distinct(requests + [_upper_first_unless_terse(template, template.format(name=profile.title))])
    rng.shuffle(requests)
    return requests[:n]


def _listed(items: list[str], rng: random.Random) -> str:
    if len(items) == 1:
        return items[0]
    joiner = rng.choice((", ", ", ", "; ")) if rng.random() < 0.8 else ", "
    last = rng.choice((" and ", ", and ", " & ")) if rng.random() < 0.85 else ", "
    return joiner.join(items[:-1]) + last + items[-1]


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _upper_first_unless_terse(template: str, text: str) -> str:
    return text if template[:1].islower() or template.startswith("{name}") else _upper_first(text)


def _distinct(questions: list[str]) -> list[str]:
    seen, kept = set(), []
    for q in questions:
        key = " ".join(q.lower().split())
        if key not in seen:
            seen.add(key)
            kept.append(q)
    return kept


# styles ------------------------------------------------------------------------------------------------
_PREFIXES = ("Quick question: ", "Hey, ", "I was wondering: ", "For a school project, ", "Out of curiosity, ",
             "Hi! ", "Please help: ", "Can you help? ", "Question - ", "So, ")
_SUFFIXES = (" Thanks!", " Thank you.", " Any idea?", " Cheers", " (for a report)", " Just curious.")
_TERSE_DROPPED = set("""
what which who whom whose is are was were does do did the a an of for about to in regarding say said tell us text
details given known described connection with connected role play significant significance there that this
speaking case can could would you me please give some information on have has had be been
""".split())


def terse(question: str) -> str:
    """A question cut to its keywords: "How many inhabitants does Berlin have?" -> "How many inhabitants Berlin"
    ("how" and "when" stay where they ask for a number or a date)."""
    words = re.findall(r"[\w'’\-]+", question)
    kept = [w for i, w in enumerate(words) if w.lower() not in _TERSE_DROPPED
            and not (w.lower() == "how" and (i + 1 == len(words) or words[i + 1].lower() not in ("many", "much")))
            and not (w.lower() in ("year", "it") and "when" in (x.lower() for x in words))]
    return " ".join(kept) if len(kept) >= 2 else question


def restyle(query: str, rng: random.Random, profile: DocumentProfile, allow_terse: bool = False) -> str:
    """The query with some of: cut to keywords or (`allow_terse`: a specific question) put after who
    asks and why, a conversational opening or ending, one typo, lower case, no end mark. Falls back to
    the query when a touch would stop it pointing at its document."""
    styled = query
    if allow_terse and rng.random() < P_TERSE:
        styled = terse(styled)
    elif allow_terse and rng.random() < P_CONTEXT_SPECIFIC:
        styled = in_context(profile, styled, rng)
    elif rng.random() < P_PREFIX:
        styled = rng.choice(_PREFIXES) + _lowered_opening(styled, profile)
    if rng.random() < P_SUFFIX and styled.rstrip()[-1:] in "?.!":
        styled += rng.choice(_SUFFIXES)
    if rng.random() < P_TYPO:
        styled = with_typo(styled, rng, profile)
    if rng.random() < P_LOWER:
        styled = styled.lower()
    if rng.random() < P_NO_END_MARK:
        styled = styled.rstrip(" ?.!")
    return styled if points_at(styled, profile) else query


def with_typo(text: str, rng: random.Random, profile: DocumentProfile | None = None) -> str:
    """The text with one letter dropped, doubled or swapped with its neighbour in one word of five or
    more letters (never its first letter), and never in the title, an alias or another document's name:
    a misspelt name of a document the selector never saw is beyond it ("Hoston" went to Chicago)."""
    words = [m for m in _WORD.finditer(text) if len(m.group(0)) >= 5 and m.group(0).isalpha()]
    if profile is not None:
        protected = {w.lower() for name in (profile.title, *profile.aliases, *profile.others) for w in name.split()}
        words = [m for m in words if m.group(0).lower() not in protected]
    if not words:
        return text
    match = rng.choice(words)
    word = match.group(0)
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        typo = word[:i] + word[i + 1:]
    elif kind == "double":
        typo = word[:i] + word[i] + word[i:]
    else:
        typo = word[:i] + word[i + 1] + word[i] + word[i + 2:]
    if typo == word:
        typo = word[:i] + word[i + 1:]
    return text[:match.start()] + typo + text[match.end():]


def _one_edit(a: str, b: str) -> bool:
    """Is `a` exactly one drop, insertion or neighbour swap away from `b`?"""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))
