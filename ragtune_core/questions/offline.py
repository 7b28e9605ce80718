"""The offline question generator: template questions that pin one fact of a chunk (an amount, a
percentage, a date, a definition, a cause) and carry the chunk's distinctive words, never copying
its sentences. No network, no key.

A question that could be asked of many chunks ("What does the report say about revenue?") teaches
a retriever little, so every candidate is scored by how rare, across the chunks asked about, the
chunk's words it carries are (a word few chunks use marks its chunk), by its kind (one fact before
a loose "what is said about"), and by where its sentence stands: a chunk's opening is what it is
about, and what a retriever that cuts long passages short still reads. The best candidates win,
from different sentences where the chunk allows.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field

from ..corpus.documents import Chunk
from .generators import GeneratedQuestion, GenerationResult, ProgressCallback, check_n

_STOPWORDS = set("""
a about above across after again against all almost along also although always am among an and another any are
around as at away be became because become becomes been before began being below between both but by can could
did do does doing done down due during each either else even ever every few first for from further furthermore
get gets got had has have having he her here hers him his how however i if in including into is it its itself
just last later least less like made make makes many may me might more most much must my near nearly neither
new next no nor not now of off often on once one only onto or other others our ours out over own per perhaps
rather said same several shall she should since so some still such than that the their theirs them then there
therefore these they this those though through thus to today together too toward towards under until up upon
us use used using very via was we well were what whatever when where whereas whether which while who whom
whose why will with within without would yet you your according approximately based known called following
include includes included making part parts two three four five six seven eight nine ten second third year
years time times way ways number numbers total example instance certain various amount amounts period periods
end ended ending result results unless forth pursuant hereby herein hereof hereto hereunder thereof thereto
therein thereunder whereby except excluding regarding concerning respecting understood
""".split())
_NOT_ENTITIES = set("""
january february march april may june july august september october november december monday tuesday
wednesday thursday friday saturday sunday spring summer autumn winter i we our us it its the this these those he
she they his her their
""".split())
_CONNECTORS = {"of", "de", "the", "for", "am", "upon", "von", "van", "del", "la"}
_ROMAN_NUMERALS = {"I", "II", "III", "IV", "V", "VI"}
_VERB_CUES = {"to", "will", "would", "may", "might", "can", "could", "should", "must", "also", "not", "we", "they",
              "it", "he", "she", "who", "which", "that"}
_WORD_NUMBERS = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                 "twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds dozens thousands millions").split()
_NOT_COUNTED = set("""
years decades centuries months weeks days hours minutes seconds times percent others ones thousands millions
hundreds billions dollars euros millimeters millimetres centimeters centimetres meters metres kilometers
kilometres miles feet inches degrees kilograms tons tonnes acres hectares shares
""".split())
_IRREGULAR_PAST = {
    "became": "become", "began": "begin", "built": "build", "won": "win", "lost": "lose", "took": "take",
    "grew": "grow", "fell": "fall", "held": "hold", "made": "make", "left": "leave", "came": "come",
    "gave": "give", "bought": "buy", "sold": "sell", "led": "lead", "rose": "rise", "wrote": "write",
    "saw": "see", "brought": "bring", "met": "meet", "paid": "pay", "spent": "spend",
}
_IRREGULAR_PARTICIPLES = {"built", "made", "held", "known", "given", "taken", "begun", "won", "lost", "sold",
                          "bought", "written", "chosen", "born", "founded", "named", "seen", "brought", "paid"}
_ADVERBS = {"first", "officially", "later", "formally", "also", "again", "once", "eventually", "originally",
            "finally", "subsequently", "soon"}
_FINANCE_METRICS = (
    "cash and cash equivalents", "adjusted ebitda", "net income", "net loss", "net revenue", "gross bookings",
    "operating expenses", "operating loss", "operating income", "free cash flow", "cost of revenue",
    "research and development", "stock-based compensation", "total assets", "total liabilities", "revenue",
    "revenues", "gross margin", "long-term debt", "contribution margin", "net cash", "expenses",
)
_MONEY = re.compile(r"\$\s?\d[\d,.]*(?:\s*(?:million|billion|thousand))?", re.I)
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“(\[A-Z0-9])|\n+")
# Words, numbers, and the punctuation that ends a phrase (so a phrase never spans a comma).
_TOKEN = re.compile(r"\$?\d+(?:[,.]\d+)*%?|[^\W\d_][\w'’\-]*|[,;:()]")
_SCALES = {"million", "billion", "thousand", "hundred"}
_NO_ARTICLE_ENDINGS = ("ism", "ness", "ics")
_CHANGE_WORDS = {"increase": "increase", "increased": "increase", "grew": "increase", "rose": "increase",
                 "decrease": "decrease", "decreased": "decrease", "declined": "decrease", "fell": "decrease"}


# Question templates by kind. {metric}, {term}, {a}... are the chunk's own words; the templates'
# words never count towards a question's specificity.
_TEMPLATES = {
    "definition": ('What does "{term}" mean?', 'How is "{term}" defined?', 'What is the definition of "{term}"?'),
    "named": ('What is referred to as "{term}"?', 'What does "{term}" refer to?'),
    "amount": ("How much was {metric}{detail}{when}?", "What was the amount of {metric}{detail}{when}?"),
    "holding": ("How much {metric} did {subject} have{when}?",),
    "rate": ("What was {metric}{when}?",),
    "share": ("What percentage of {whole} {tail}?",),
    "change": ("By what percentage did {metric} {change}{when}?",),
    "cause": ("What drove {subject}{when}?", "What explains {subject}{when}?", "What caused {subject}{when}?"),
    "year": ("What happened with {a} in {year}?", "What changed for {a} in {year}?"),
    "heading": ('Under "{heading}", what is said about {a}?', 'What does the section "{heading}" say about {a}?'),
    "relation": ("How {be} {a} related to {b}?", "What links {a} and {b}?", "How do {a} and {b} relate?"),
    "topic": ("What does the {source} say about {a}?", "What details are given about {a}?"),
}
# Fixed phrasings built in code, listed so that their words do not count as the chunk's either.
_CODE_WORDS = ("When was were did What year was it when How many does have By what percentage did increase decrease "
               "What was the company's report text in as of for with due to")
_TEMPLATE_WORDS = {w for t in (*[t for ts in _TEMPLATES.values() for t in ts], _CODE_WORDS)
                   for w in re.findall(r"\w+", re.sub(r"\{\w+\}", " ", t).lower())}
# One fact beats a loose "what is said about": a candidate's specificity is weighed by its kind.
_KIND_WEIGHTS = {"definition": 1.5, "named": 1.3, "amount": 1.5, "holding": 1.5, "rate": 1.5, "share": 1.5,
                 "change": 1.5, "finance": 1.5, "count": 1.3, "cause": 1.5, "event": 1.5, "year": 1.2,
                 "heading": 1.1, "relation": 1.0, "topic": 0.6}
_ENOUGH = 1.6  # specificity past which a kind that pins a fact is preferred to more rare words
_LATE_WEIGHT = 0.5  # a fact past the chunk's opening words
_SAME_KIND_WEIGHT = 0.85  # a kind already asked of the chunk
_SAME_SENTENCE_WEIGHT = 0.6  # a sentence already asked about
_RARE_WORDS_COUNTED = 4  # a question's specificity: its chunk's rarest words, this many at most

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_AS_OF = re.compile(rf"\b(?:as of|at|on) ((?:{_MONTHS}) \d{{1,2}}, (?:19|20)\d\d)")
_PERIOD = re.compile(rf"\b(?:for|during|in) the (?:fiscal )?(?:year|quarter|three months|six months|nine months) "
                     rf"ended ((?:{_MONTHS}) \d{{1,2}}, (?:19|20)\d\d)")
_MEANS = re.compile(r"[“\"]([^”\"\n]{2,60})[”\"]\s+(?:shall\s+)?(?:means?|has the meaning|have the meanings?|"
                    r"refers? to|is defined)\b")
_NAMED = re.compile(r"\((?:(?:the|each|collectively|together|individually|and|or),?\s+)*(?:an?\s+)?"
                    r"[“\"]([^”\"\n]{2,50})[”\"]")
_CAUSES = re.compile(r"\b(?:due to|driven by|attributable to|the result of|a result of|caused by|because of)\b")
_CAUSE_SUBJECT = re.compile(r"^(?:the|our|its)\s+(.{3,80}?)\s+(?:was|were|is|are|has been|have been)?\s*"
                            r"(?:primarily|mainly|largely|partially|partly|principally|substantially)?\s*$", re.I)
_NUMBERED_HEADING = re.compile(r"(?m)^\s*(?:\d+(?:\.\d+)*\.?|\([a-z0-9]+\)|Item \d+[A-Z]?\.)\s+"
                               r"([A-Z][^.\n\d]{3,60})\.(?=\s)")
# Words between an amount and what it measures ("revenue was $3.2 billion", "a deficit of $23.6 billion").
_LINKS = {"of", "was", "were", "is", "are", "totaled", "totalled", "totaling", "amounted", "to", "approximately",
          "about", "nearly", "roughly", "by", "at", "aggregate", "reached", "be", "been", "an", "a", "the", "had",
          "our", "its", "their", "over", "under", "than", "more", "less", "least"}
_PREPOSITIONS = ("in", "for", "from", "of", "on", "under", "related to", "associated with")
# Words in -ing that name things or qualify them ("operating expenses"); other -ing words are verbs.
_ING_WORDS = set("""
operating outstanding existing remaining underlying accounting advertising financing ridesharing marketing pricing
funding lending licensing training trading recurring pending offering offerings housing processing consulting banking
manufacturing engineering reporting borrowing servicing spending building planning shipping ticketing carpooling
parking charging computing matching mapping booking bookings listing hosting billing rating earnings warning
closing opening meeting hearing filing filings holding holdings setting settings proceeding proceedings ceiling
funding leasing vesting netting hedging clearing routing dispatching onboarding ride-sharing ride-hailing
""".split())
_IVE_NOUNS = {"derivative", "derivatives", "executive", "executives", "initiative", "initiatives", "incentive",
              "incentives", "alternative", "alternatives", "representative", "representatives", "objective",
              "objectives", "directive", "directives", "narrative", "perspective", "collective", "detective",
              "motive", "archive", "prerogative", "relative", "relatives", "native"}
_LY_NOUNS = {"supply", "family", "assembly", "monopoly", "anomaly", "reply", "rally", "italy", "july", "ally", "apply",
             "oligopoly", "butterfly", "quarterly", "weekly", "monthly", "daily"}
_RATE_HEADS = {"rate", "rates", "margin", "margins", "ratio", "yield", "volatility", "percentage", "share", "growth",
               "return", "interest", "stake", "discount", "premium", "churn", "utilization", "retention", "take"}
_AFTER_MODAL = re.compile(r"\b(?:will|may|could|would|shall|must|can|cannot|might|should|to)\s+([a-z]{3,})\b")
_AFTER_DETERMINER = re.compile(r"\b(?:the|a|an|our|its|their|this|these|those|each|any|such|no|his|her|your)\s+"
                               r"([a-z]{3,})\b", re.I)
_VERB_TAILS = {"was", "were", "is", "are", "came", "come", "had", "have", "has"}


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
        after_modals = {w for t in texts for w in _AFTER_MODAL.findall(t)}
        after_determiners = {w for t in texts for w in _AFTER_DETERMINER.findall(t)}
        return cls(len(chunks), Counter(w for t in texts for w in set(_words(t))),
                   Counter(w for t in texts for w in set(re.findall(r"\b[a-z]\w*", t))),
                   after_modals - after_determiners)

    def is_verb(self, word: str) -> bool:
        """ "involve", "terminates", "evolves": a verb this corpus never uses as a noun."""
        if word in self.verbs:
            return True
        stems = (word[:-1], word[:-2]) if word.endswith("es") else (word[:-1],) if word.endswith("s") else ()
        return any(stem in self.verbs for stem in stems)

    def rarity(self, word: str) -> float:
        """Inverse document frequency scaled to 1 for a word of one chunk; 0 for stopwords and
        template words."""
        if word in _STOPWORDS or word in _TEMPLATE_WORDS or len(word) < 2:
            return 0.0
        top = math.log((self.chunks + 1) / 1.5)
        return min(1.0, max(0.0, math.log((self.chunks + 1) / (self.counts.get(word, 0) + 0.5)) / top))

    def is_proper(self, name: str) -> bool:
        """A name, not a capitalised common word: the chunks seldom write its words in lower case."""
        words = [w for w in _words(name) if w not in _CONNECTORS]
        return bool(words) and all(self.lowercase[w] <= 0.25 * self.counts[w] for w in words)


@dataclass
class _Sentence:
    text: str
    tokens: list[str]
    offset: int  # the chunk's words before it
    names: list[str] = field(default_factory=list)
    phrases: list[str] = field(default_factory=list)  # its key phrases, names included, most distinctive first


@dataclass
class _Facts:
    """What a chunk offers to ask about."""

    sentences: list[_Sentence]
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
        return _possessive(self.main) if self.main else "the"


@dataclass
class _Candidate:
    text: str
    kind: str
    sentence: int  # the index of the sentence it asks about


class OfflineQuestionGenerator:
    """Template questions from a chunk's own vocabulary: no network, no key, deterministic per seed."""

    copy_run_limit = 8  # a question never repeats this many consecutive words of its chunk
    opening_words = 180  # facts in a chunk's first words (about 240 tokens) are preferred

    def __init__(self, seed: int = 0):
        self.seed = seed

    def generate(self, chunks: list[Chunk], n_per_chunk: int,
                 on_progress: ProgressCallback | None = None) -> GenerationResult:
        check_n(n_per_chunk)
        vocabulary = Vocabulary.of(chunks)  # what is rare is judged against every chunk asked about
        result = GenerationResult()
        asked: set[str] = set()  # across chunks, so overlapping chunks do not share questions
        for done, chunk in enumerate(chunks, start=1):
            questions = self.questions_for(chunk, n_per_chunk, exclude=asked, vocabulary=vocabulary)
            if questions:
                asked.update(q.lower() for q in questions)
                result.questions.extend(GeneratedQuestion(chunk.chunk_id, q) for q in questions)
            else:
                result.failures.append((chunk.chunk_id, "the chunk has too little text to ask about"))
            if on_progress:
                on_progress(done, len(chunks), len(result.failures))
        return result

    def questions_for(self, chunk: Chunk, n: int, exclude: set[str] = frozenset(),
                      vocabulary: Vocabulary | None = None) -> list[str]:
        """Up to n questions about the chunk, most specific first. Without a vocabulary (the
        corpus's word counts) a word is judged against the chunk alone, so only stopwords and
        template words count as common."""
        rng = random.Random(f"{self.seed}:{chunk.chunk_id}:{chunk.text[:200]}")
        facts = _facts(chunk, vocabulary or Vocabulary.of([chunk]))
        if facts is None:
            return []
        candidates = [c for kind in _KINDS for c in kind(facts, rng)]
        forbidden = _ngrams(_words(chunk.text), self.copy_run_limit)
        scored = []
        for candidate in candidates:
            key = candidate.text.lower()
            if key in exclude or _ngrams(_words(candidate.text), self.copy_run_limit) & forbidden:
                continue
            late = facts.sentences[candidate.sentence].offset >= self.opening_words
            score = (min(_ENOUGH, _specificity(candidate.text, facts))
                     * _KIND_WEIGHTS[candidate.kind] * (_LATE_WEIGHT if late else 1.0) * rng.uniform(0.85, 1.0))
            scored.append((score, candidate))
        return [c.text for c in _pick(scored, n)]


def _pick(scored: list[tuple[float, _Candidate]], n: int) -> list[_Candidate]:
    """The best candidates, a sentence or a kind already asked about counting less."""
    chosen: list[_Candidate] = []
    remaining = list(scored)
    sentences: Counter = Counter()
    kinds: Counter = Counter()
    while remaining and len(chosen) < n:
        _, best = max(remaining, key=lambda item: (
            item[0] * _SAME_KIND_WEIGHT ** kinds[item[1].kind] * _SAME_SENTENCE_WEIGHT ** sentences[item[1].sentence],
            item[1].text))
        remaining = [item for item in remaining if item[1].text.lower() != best.text.lower()]
        chosen.append(best)
        sentences[best.sentence] += 1
        kinds[best.kind] += 1
    return chosen


def _specificity(question: str, facts: _Facts) -> float:
    """How much the question's words of its chunk mark that chunk: the rarity of the rarest few."""
    rarities = sorted((facts.vocabulary.rarity(w) for w in set(_words(question)) if w in facts.words), reverse=True)
    return sum(rarities[:_RARE_WORDS_COUNTED])


def _facts(chunk: Chunk, vocabulary: Vocabulary) -> _Facts | None:
    sentences, offset = [], 0
    for text in _SENTENCE_END.split(chunk.text):
        if text.strip():
            tokens = [re.sub(r"(?<=s)['’]$", "", t) for t in _TOKEN.findall(re.sub(r"\$\s+(?=\d)", "$", text))]
            sentences.append(_Sentence(text.strip(), tokens, offset))
        offset += len(text.split())
    if sum(_is_content_word(t) for s in sentences for t in s.tokens) < 4:
        return None
    lowercase_words = set(re.findall(r"\b[a-z][\w'’\-]*", chunk.text))
    for sentence in sentences:
        sentence.names = _entities(sentence.tokens, chunk.text, lowercase_words)
        sentence.phrases = _phrases(sentence, vocabulary)
    # Mentions are counted in the raw text, so "Berlin's" and "Berlin-Brandenburg" count for Berlin.
    entity_counts = Counter({e: len(re.findall(rf"\b{re.escape(e)}\b", chunk.text)) for s in sentences for e in s.names})
    first = next((s.names[0] for s in sentences if s.names), None)
    # The chunk is about a name it mentions more than once; on a tie, the one it opens with.
    recurring = [e for e, count in entity_counts.most_common()
                 if count >= 2 and vocabulary.is_proper(e) and not e.isupper()]
    main = max(recurring, key=lambda e: (entity_counts[e], e == first)) if recurring else None
    source = "report" if _MONEY.search(chunk.text) or any(m in chunk.text.lower() for m in _FINANCE_METRICS) else "text"
    return _Facts(sentences=sentences, main=main, source=source, headings=_headings(chunk, sentences),
                  words=set(_words(chunk.text)), vocabulary=vocabulary)


def _entities(tokens: list[str], chunk_text: str, lowercase_words: set[str]) -> list[str]:
    """Names: runs of capitalised words ("Humboldt University of Berlin"). Left out: a sentence's
    first word unless the chunk capitalises it mid-sentence too ("Members of ..."), headings made
    of words the chunk also uses in lower case ("Net Cash"), and nationality adjectives ("American city")."""
    found, i = [], 0
    while i < len(tokens):
        if not _is_name_word(tokens[i]) or (i == 0 and not _name_at_sentence_start(tokens[0], chunk_text, lowercase_words)):
            i += 1
            continue
        run = [tokens[i]]
        j = i + 1
        while j < len(tokens) and len(run) < 5 and not run[-1].endswith(("'s", "’s")):
            if _is_name_word(tokens[j]) or tokens[j] in _ROMAN_NUMERALS:
                run.append(tokens[j])
            elif tokens[j] in _CONNECTORS and j + 1 < len(tokens) and _is_name_word(tokens[j + 1]):
                run.extend(tokens[j:j + 2])
                j += 1
            else:
                break
            j += 1
        name = re.sub(r"['’]s$", "", " ".join(run))
        words = [w.lower() for w in name.split() if w not in _CONNECTORS]
        is_heading = all(w in lowercase_words for w in words)
        is_adjective = (len(run) == 1 and name.endswith(("an", "ese", "ish")) and j < len(tokens)
                        and tokens[j].islower() and _is_content_word(tokens[j]))
        if len(name) > 2 and not is_heading and not is_adjective:
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
    return len(token) > 1 and token[0].isupper() and token.lower() not in _STOPWORDS and token.lower() not in _NOT_ENTITIES


def _phrases(sentence: _Sentence, vocabulary: Vocabulary) -> list[str]:
    """The sentence's names and key phrases (runs of up to three lower-case content words ending in
    a noun-like word), the most distinctive first: a phrase counts its rarest word whole and the
    others half."""
    found = list(sentence.names)
    run: list[str] = []
    previous = ""
    for token in [*sentence.tokens, "."]:
        # A word right after a name or "to" is most likely a verb ("Lyft expects", "to remain"),
        # and so is a word in -ing that is not a known noun or modifier ("resulting", "selecting").
        usable = (_is_content_word(token) and token.islower() and not _precedes_verb(previous)
                  and (not token.endswith("ing") or token in _ING_WORDS) and not _is_adverb(token)
                  and not vocabulary.is_verb(token))
        previous = token
        if usable and len(run) < 4:
            run.append(token)
            continue
        while run and _is_modifier(run[-1]):
            run.pop()
        if run and len(" ".join(run)) > 4 and not (len(run) == 1 and run[0] in _NOT_COUNTED):
            found.append(" ".join(run))
        run = [token] if usable else []

    def rarity(phrase: str) -> float:
        values = sorted((vocabulary.rarity(w) for w in _words(phrase)), reverse=True)
        return values[0] + sum(values[1:]) / 2 if values else 0.0

    ranked = sorted(dict.fromkeys(found), key=lambda p: (-rarity(p), p))
    return [p for p in ranked if rarity(p) > 0]


def _precedes_verb(token: str) -> bool:
    return bool(token) and (token[0].isupper() or token.lower() in _VERB_CUES)


def _is_content_word(token: str) -> bool:
    lower = token.lower()
    return (token[0].isalpha() and len(token) > 2 and lower not in _STOPWORDS and lower not in _SCALES
            and lower not in _IRREGULAR_PAST and lower.split("-")[0] not in _WORD_NUMBERS and "'" not in token)


def _headings(chunk: Chunk, sentences: list[_Sentence]) -> list[tuple[str, int]]:
    """The chunk's section, numbered headings ("16. Source of Payments.") and title lines
    ("Certain Significant Risks and Uncertainties"), each with the first sentence under it."""
    found = []
    section = (chunk.section or "").strip(" =#")
    if section:
        found.append((section, 0))
    positions = [(m.group(1).strip(), m.end()) for m in _NUMBERED_HEADING.finditer(chunk.text)]
    for match in re.finditer(r"(?m)^[ \t]*([A-Z][^\n]{2,80}?)[ \t]*$", chunk.text):
        line, words = match.group(1), match.group(1).split()
        long_words = [w for w in words if len(w) > 3]
        if (2 <= len(words) <= 10 and not line.endswith((".", ",", ";")) and not re.search(r"[\d:]", line)
                and long_words and sum(w[0].isupper() for w in long_words) >= 0.75 * len(long_words)):
            positions.append((line, match.end()))
    for heading, end in positions:
        offset = len(chunk.text[:end].split())
        first = next((i for i, s in enumerate(sentences) if s.offset >= offset), None)
        if first is not None:
            found.append((heading, first))
    return found


# Question kinds: each turns a chunk's facts into candidates -------------------------------------
def _definition_questions(facts: _Facts, rng: random.Random) -> list[_Candidate]:
    """ '"Immaterial Subsidiary" means ...' -> 'What does "Immaterial Subsidiary" mean?';
    '(the "2025 Notes")' -> 'What is referred to as "2025 Notes"?'."""
    questions = []
    for i, sentence in enumerate(facts.sentences):
        for pattern, kind in ((_MEANS, "definition"), (_NAMED, "named")):
            for match in pattern.finditer(sentence.text):
                term = " ".join(match.group(1).split()).strip(" ,.;:")
                if 1 <= len(term.split()) <= 6 and re.search(r"[^\W\d_]{3}", term):
                    questions.append(_Candidate(rng.choice(_TEMPLATES[kind]).format(term=term), kind, i))
    return questions


def _amount_questions(facts: _Facts, rng: random.Random) -> list[_Candidate]:
    """An amount or percentage with what it measures: "an accumulated deficit of $23.6 billion as of
    December 31, 2021" -> "How much was the accumulated deficit as of December 31, 2021?"; "$4.2
    billion in cash" -> "How much cash did Uber have ...?"; "5% of riders used ..." -> "What
    percentage of riders used ...?"; "Revenue increased $0.8 billion, or 36%" -> "By what
    percentage did Lyft's revenue increase ...?"."""
    questions = []
    for i, sentence in enumerate(facts.sentences):
        tokens, when = sentence.tokens, _when(sentence.text)
        for k, token in enumerate(tokens):
            is_money = token.startswith("$") and len(token) > 1
            is_percent = token[0].isdigit() and (token.endswith("%") or tokens[k + 1:k + 2] == ["percent"])
            if not (is_money or is_percent):
                continue
            end = k + 1 + (k + 1 < len(tokens) and tokens[k + 1].lower() in (*_SCALES, "percent"))
            for kind, question in _amount_question(facts, sentence, k, end, is_money, when):
                questions.append(_Candidate(rng.choice(_TEMPLATES[kind]).format(**question), kind, i))
    return questions


def _amount_question(facts: _Facts, sentence: _Sentence, k: int, end: int, is_money: bool, when: str):
    tokens = sentence.tokens
    left = _phrase_before(tokens, k, sentence)
    change_at = next((j for j in range(k - 1, max(k - 7, -1), -1) if tokens[j] in _CHANGE_WORDS), None)
    if not is_money and change_at is not None and _is_past_change(tokens[change_at]):
        metric = _phrase_before(tokens, change_at, sentence, linked=False)
        if metric:
            yield "change", {"metric": _owned(facts, metric, sentence), "change": _CHANGE_WORDS[tokens[change_at]],
                             "when": when}
        return
    if left:
        detail = _prep_phrase(tokens, end)
        if is_money and not detail and left.lower() in _FINANCE_METRICS:
            return  # the finance questions ask it
        when = "" if _YEAR.search(detail) else when
        if is_money or left.split()[-1].lower() in _RATE_HEADS:
            kind = "amount" if is_money else "rate"
            yield kind, {"metric": _owned(facts, left, sentence), "detail": detail, "when": when}
        return
    if not is_money:
        if tokens[end:end + 1] == ["of"]:
            whole, after = _phrase_after(tokens, end + 1)
            tail = _verb_tail(tokens, after)
            if whole and tail:
                yield "share", {"whole": whole, "tail": tail}
        return
    right, after = _phrase_after(tokens, end, articles=False)
    if right:
        detail = _prep_phrase(tokens, after)
        yield "amount", {"metric": f"the {right}", "detail": detail, "when": "" if _YEAR.search(detail) else when}
    elif tokens[end:end + 1] == ["in"] and facts.subject:
        held, _ = _phrase_after(tokens, end + 1)
        if held:
            yield "holding", {"metric": held, "subject": facts.subject, "when": when}


def _phrase_before(tokens: list[str], k: int, sentence: _Sentence, linked: bool = True) -> str | None:
    """The noun phrase an amount at tokens[k] measures, over link words ("revenue was", "deficit of")
    when `linked`; None when the word before is a verb."""
    j = k - 1
    skipped = 0
    while j >= 0 and tokens[j].lower() in _LINKS:
        j, skipped = j - 1, skipped + 1
    if linked and not skipped:
        return None
    words: list[str] = []
    while j >= 0 and len(words) < 4 and _is_content_word(tokens[j]) and tokens[j] not in _CHANGE_WORDS:
        words.insert(0, tokens[j])
        j -= 1
    if not words or not _is_head(words[-1]):
        return None
    if j < 0 and words[0] not in sentence.names:
        words[0] = words[0].lower()  # "Revenue was" opens its sentence
    return " ".join(words)


def _phrase_after(tokens: list[str], start: int, articles: bool = True) -> tuple[str | None, int]:
    """A noun phrase from tokens[start] ("the change in fair value" -> "change in fair value"): up
    to four content words, one "of"/"in"/"and" between them at most; and where it ends."""
    j = start
    while articles and j < len(tokens) and tokens[j].lower() in ("the", "our", "its", "their", "a", "an", "such"):
        j += 1
    words: list[str] = []
    while j < len(tokens) and len(words) < 5:
        token = tokens[j]
        if _is_content_word(token) and not _is_verb_like(token):
            words.append(token)
        elif (token in ("of", "and") and words and "and" not in words
              and "of" not in words and j + 1 < len(tokens) and _is_content_word(tokens[j + 1])):
            words.append(token)
        else:
            break
        j += 1
    while words and (words[-1] in ("of", "and") or not _is_head(words[-1])):
        words.pop()
        j -= 1
    return (" ".join(words), j) if words else (None, start)


def _prep_phrase(tokens: list[str], start: int) -> str:
    """ " from the change in fair value" after an amount, or ""."""
    for prep in _PREPOSITIONS:
        words = prep.split()
        if tokens[start:start + len(words)] == words:
            phrase, _ = _phrase_after(tokens, start + len(words))
            return f" {prep} {_article(phrase)}" if phrase else ""
    return ""


def _verb_tail(tokens: list[str], start: int) -> str | None:
    """ "came from rideshare" after "5% of revenue": up to four words opening with a verb."""
    if start >= len(tokens) or not (tokens[start] in _VERB_TAILS or _is_verb_like(tokens[start])):
        return None
    words = []
    for token in tokens[start:start + 4]:
        if not re.match(r"[^\W\d_]", token) or token in _CONNECTORS - {"of", "the"}:
            break
        words.append(token)
    while words and words[-1].lower() in _STOPWORDS:
        words.pop()
    return " ".join(words) if len(words) >= 2 else None


def _is_past_change(word: str) -> bool:
    """ "increased", "grew", "fell": a change in the past tense (not the noun "increase")."""
    return word in _CHANGE_WORDS and word.endswith(("ed", "ew", "ose", "ell"))


def _is_adverb(word: str) -> bool:
    return word.endswith("ly") and len(word) > 4 and word not in _LY_NOUNS


def _is_modifier(word: str) -> bool:
    """An adjective or adverb by its ending: no phrase ends with one."""
    return (word.endswith(("ly", "ed", "ous", "est", "ful", "able", "ible", "ern"))
            or (word.endswith("ive") and word not in _IVE_NOUNS))


def _is_head(word: str) -> bool:
    """Can the word end a noun phrase?"""
    lower = word.lower()
    return not (_is_verb_like(word) or _is_modifier(lower) or (lower.endswith("ing") and lower not in _ING_WORDS))


def _is_verb_like(word: str) -> bool:
    lower = word.lower()
    return lower in _CHANGE_WORDS or lower in _IRREGULAR_PAST or (word.islower() and lower.endswith(("ed", "ly")))


def _owned(facts: _Facts, phrase: str, sentence: _Sentence) -> str:
    """ "Lyft's revenue" when the sentence names the chunk's main name, else "the revenue"."""
    return f"{facts.owner if facts.main in sentence.names else 'the'} {phrase}"


def _be(phrase: str) -> str:
    """ "is" or "are", by whether the phrase looks plural."""
    return "are" if phrase.endswith("s") and not phrase.endswith(("ss", "us", "is")) else "is"


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _article(phrase: str) -> str:
    return phrase if phrase[0].isupper() or phrase.endswith(_NO_ARTICLE_ENDINGS) else f"the {phrase}"


def _when(text: str) -> str:
    """ " as of December 31, 2021", " in the year ended ...", " in 2021" or "": when the sentence's figures hold."""
    if match := _AS_OF.search(text):
        return f" as of {match.group(1)}"
    if match := _PERIOD.search(text):
        return f" in the period ended {match.group(1)}"
    years = _YEAR.findall(text)
    return f" in {years[0]}" if years else ""


def _cause_questions(facts: _Facts, rng: random.Random) -> list[_Candidate]:
    """ "The increase in operating expenses was primarily due to ..." -> "What drove the increase in
    operating expenses?"; "Delivery revenue increased primarily attributable to ..." -> "What drove
    the increase in Delivery revenue?"."""
    questions = []
    for i, sentence in enumerate(facts.sentences):
        match = _CAUSES.search(sentence.text)
        if not match:
            continue
        before = re.split(r"[,;:(]", sentence.text[:match.start()])[0].strip()
        tokens = _TOKEN.findall(before)
        change_at = next((j for j, t in enumerate(tokens) if _is_past_change(t)), None)
        subject = None
        if change_at:
            metric = _phrase_before(tokens, change_at, sentence, linked=False)
            if metric:
                subject = f"the {_CHANGE_WORDS[tokens[change_at]]} in {_owned(facts, metric, sentence)}"
        elif (found := _CAUSE_SUBJECT.match(before)) and len(found.group(1).split()) <= 7 \
                and not re.search(r"\d|\b(?:we|it|they|this|that|which)\b", found.group(1), re.I):
            subject = f"the {found.group(1)}"
        if subject:
            template = rng.choice(_TEMPLATES["cause"])
            questions.append(_Candidate(template.format(subject=subject, when=_when(sentence.text)), "cause", i))
    return questions


def _year_questions(facts: _Facts, rng: random.Random) -> list[_Candidate]:
    questions = []
    for i, sentence in enumerate(facts.sentences):
        years = _YEAR.findall(sentence.text)
        if not years:
            continue
        event = _event_question(sentence)
        if event:
            questions.append(_Candidate(event, "event", i))
        elif sentence.phrases:
            template = rng.choice(_TEMPLATES["year"])
            questions.append(_Candidate(template.format(a=_article(sentence.phrases[0]), year=years[0]), "year", i))
    return questions

def _event_question(sentence: _Sentence) -> str | None:
    """ "X was founded in 1237" -> "When was X founded?"; "X became the capital in 1990" ->
    "When did X become the capital?"; other past tenses -> "What year was it when X offered asylum?"."""
    tokens = sentence.tokens
    for name in sentence.names:
        name_words = name.split()
        start = _find(tokens, name_words)
        if start is None:
            continue
        k = start + len(name_words)
        if k < len(tokens) and tokens[k] in ("was", "were", "is", "are"):
            adverbs = _take_adverbs(tokens, k + 1)
            verb_at = k + 1 + len(adverbs)
            if verb_at < len(tokens) and _is_participle(tokens[verb_at]):
                verb = " ".join([*adverbs, tokens[verb_at], *_object_words(tokens, verb_at + 1)])
                aux = "was" if tokens[k] in ("was", "is") else "were"
                return f"When {aux} {name} {verb}?"
            continue
        adverbs = _take_adverbs(tokens, k)
        verb_at = k + len(adverbs)
        if verb_at >= len(tokens) or not _is_past(tokens[verb_at]):
            continue
        obj = _object_words(tokens, verb_at + 1)
        if not obj:
            continue
        verb = tokens[verb_at]
        if verb in _IRREGULAR_PAST:
            return f"When did {name} {_IRREGULAR_PAST[verb]} {' '.join(obj)}?"
        return f"What year was it when {name} {verb} {' '.join(obj)}?"
    return None


def _find(tokens: list[str], words: list[str]) -> int | None:
    for i in range(len(tokens) - len(words) + 1):
        if tokens[i:i + len(words)] == words:
            return i
    return None


def _take_adverbs(tokens: list[str], start: int) -> list[str]:
    taken = []
    while start + len(taken) < len(tokens) and tokens[start + len(taken)].lower() in _ADVERBS and len(taken) < 2:
        taken.append(tokens[start + len(taken)])
    return taken


def _is_participle(word: str) -> bool:
    return word in _IRREGULAR_PARTICIPLES or (word.islower() and word.endswith("ed") and len(word) > 4)


def _is_past(word: str) -> bool:
    return word in _IRREGULAR_PAST or (word.islower() and word.endswith("ed") and len(word) > 4)


def _object_words(tokens: list[str], start: int) -> list[str]:
    """A short object after a verb: an optional article, then up to three words, stopping at a
    preposition, a number or the end of the clause."""
    words = []
    for token in tokens[start:start + 4]:
        lower = token.lower()
        is_article = lower in ("the", "a", "an") and not words
        if not is_article and (not _is_content_word(token) or (words and lower.endswith(("ing", "ed")))):
            break
        words.append(token)
    return words if any(w.lower() not in ("the", "a", "an") for w in words) else []


def _quantity_questions(facts: _Facts, rng: random.Random) -> list[_Candidate]:
    """ "3.85 million inhabitants" -> "How many inhabitants does Berlin have?"; "killed 500 people"
    -> "How many people were killed?"."""
    questions = []
    for i, sentence in enumerate(facts.sentences):
        tokens = sentence.tokens
        for k, token in enumerate(tokens):
            if not (token[0].isdigit() or token.lower() in _WORD_NUMBERS):
                continue
            noun = _counted_noun(tokens, k + 1)
            if noun is None:
                continue
            before = next((t for t in reversed(tokens[:k]) if t.lower() not in _STOPWORDS), "")
            if before.islower() and before.endswith("ed") and len(before) > 4:
                questions.append(_Candidate(f"How many {noun} were {before}?", "count", i))
            elif facts.main:
                questions.append(_Candidate(f"How many {noun} does {facts.main} have?", "count", i))
    return questions


def _counted_noun(tokens: list[str], start: int) -> str | None:
    """What a number counts ("island chains"): up to two modifiers and a plural noun, after an
    optional scale word ("million")."""
    i = start + (start < len(tokens) and tokens[start] in _SCALES)
    for end in range(i, min(i + 3, len(tokens))):
        token = tokens[end]
        if not (token.islower() and _is_content_word(token)):
            return None
        if token.endswith("s") and not token.endswith(("ss", "us", "is")) and token not in _NOT_COUNTED:
            return " ".join(tokens[i:end + 1])
    return None


def _finance_questions(facts: _Facts, rng: random.Random) -> list[_Candidate]:
    """ "Revenue was $3.2 billion in 2021, up 36%" -> "What was Lyft's revenue in 2021?" and
    "By what percentage did Lyft's revenue increase in 2021?"."""
    questions = []
    for i, sentence in enumerate(facts.sentences):
        owner = _possessive(facts.main if facts.main in sentence.names else "the company")
        lower = sentence.text.lower()
        metric = next((m for m in _FINANCE_METRICS if re.search(rf"\b{re.escape(m)}\b", lower)), None)
        if not metric:
            continue
        years = _YEAR.findall(sentence.text)
        when = f" in {years[0]}" if years else ""
        if _MONEY.search(sentence.text):
            questions.append(_Candidate(f"What was {owner} {metric}{when}?", "finance", i))
        change = next((_CHANGE_WORDS[w] for w in re.findall(r"[a-z]+", lower) if w in _CHANGE_WORDS), None)
        if change and "%" in sentence.text:
            questions.append(_Candidate(f"By what percentage did {owner} {metric} {change}{when}?", "finance", i))
    return questions


def _heading_questions(facts: _Facts, rng: random.Random) -> list[_Candidate]:
    """ 'Under "Source of Payments", what is said about the general funds?': a heading and a key
    phrase of the sentences under it."""
    questions = []
    for heading, first in facts.headings:
        heading_words = set(_words(heading))
        for i in range(first, min(first + 3, len(facts.sentences))):
            phrase = next((p for p in facts.sentences[i].phrases if not set(_words(p)) & heading_words), None)
            if phrase:
                template = rng.choice(_TEMPLATES["heading"])
                questions.append(_Candidate(template.format(heading=heading, a=_article(phrase)), "heading", i))
    return questions


def _relation_questions(facts: _Facts, rng: random.Random) -> list[_Candidate]:
    """ "How is the shelter-at-home orders related to the Mobility offerings?": a sentence's two most
    distinctive phrases."""
    questions = []
    for i, sentence in enumerate(facts.sentences):
        if not sentence.phrases:
            continue
        a = sentence.phrases[0]
        for b in [p for p in sentence.phrases[1:] if not set(_words(p)) & set(_words(a))][:2]:
            template = rng.choice(_TEMPLATES["relation"])
            questions.append(_Candidate(template.format(a=_article(a), b=_article(b), be=_be(a)), "relation", i))
    return questions


def _topic_questions(facts: _Facts, rng: random.Random) -> list[_Candidate]:
    """The loosest kind, for chunks that offer little else: "What does the text say about X?"."""
    return [_Candidate(rng.choice(_TEMPLATES["topic"]).format(a=_article(s.phrases[0]), source=facts.source),
                       "topic", i)
            for i, s in enumerate(facts.sentences) if s.phrases]


_KINDS = (_definition_questions, _amount_questions, _finance_questions, _quantity_questions, _cause_questions,
          _year_questions, _heading_questions, _relation_questions, _topic_questions)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
