"""The offline question generator: template questions phrased around a chunk's own entities,
years, quantities and key phrases, never copying its sentences. No network, no key."""

from __future__ import annotations

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
end ended ending result results
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

# Templates by kind. {main}: the chunk's main entity; {topic}: a key phrase; {entity}: another name.
_TOPIC_TEMPLATES = (
    "What does the {source} say about {topic}?",
    "What is said about {topic} in connection with {main}?",
    "What role does {topic} play for {main}?",
    "Why {be} {topic} significant for {main}?",
    "How {be} {topic} described for {main}?",
    "What details are given about {topic}?",
)
_SECTION_TEMPLATE = "In the part about {section}, what is said about {topic}?"
_ENTITY_TEMPLATES = (
    "What is {entity} known for?",
    "What is the significance of {entity} for {main}?",
    "What does the {source} tell us about {entity}?",
    "How is {entity} connected to {main}?",
)


@dataclass
class _Sentence:
    text: str
    tokens: list[str]
    names: list[str] = field(default_factory=list)


@dataclass
class _Facts:
    """What a chunk offers to ask about."""

    sentences: list[_Sentence]
    main: str | None  # the name the chunk is about, if one stands out
    entities: list[str]  # other names, most mentioned first
    topics: list[str]  # key common-noun phrases, best first
    source: str  # "report" for financial text, else "text"
    section: str | None

    @property
    def subject(self) -> str | None:
        """Who figures and counts belong to: the main name, or in a report "the company"."""
        return self.main or ("the company" if self.source == "report" else None)


class OfflineQuestionGenerator:
    """Template questions from a chunk's own vocabulary: no network, no key, deterministic per seed."""

    copy_run_limit = 8  # a question never repeats this many consecutive words of its chunk

    def __init__(self, seed: int = 0):
        self.seed = seed

    def generate(self, chunks: list[Chunk], n_per_chunk: int,
                 on_progress: ProgressCallback | None = None) -> GenerationResult:
        check_n(n_per_chunk)
        result = GenerationResult()
        asked: set[str] = set()  # across chunks, so overlapping chunks do not share questions
        for done, chunk in enumerate(chunks, start=1):
            questions = self.questions_for(chunk, n_per_chunk, exclude=asked)
            if questions:
                asked.update(q.lower() for q in questions)
                result.questions.extend(GeneratedQuestion(chunk.chunk_id, q) for q in questions)
            else:
                result.failures.append((chunk.chunk_id, "the chunk has too little text to ask about"))
            if on_progress:
                on_progress(done, len(chunks), len(result.failures))
        return result

    def questions_for(self, chunk: Chunk, n: int, exclude: set[str] = frozenset()) -> list[str]:
        rng = random.Random(f"{self.seed}:{chunk.chunk_id}:{chunk.text[:200]}")
        facts = _facts(chunk)
        if facts is None:
            return []
        by_kind = [kind(facts, rng) for kind in (_year_questions, _quantity_questions, _finance_questions,
                                                 _entity_questions, _topic_questions)]
        for candidates in by_kind:
            rng.shuffle(candidates)
        rng.shuffle(by_kind)
        forbidden = _ngrams(_words(chunk.text), self.copy_run_limit)
        chosen: list[str] = []
        # Round-robin over kinds, so the questions a chunk gets are of different sorts.
        while len(chosen) < n and any(by_kind):
            for candidates in by_kind:
                while candidates and len(chosen) < n:
                    question = candidates.pop()
                    key = question.lower()
                    if key in exclude or key in (c.lower() for c in chosen):
                        continue
                    if _ngrams(_words(question), self.copy_run_limit) & forbidden:
                        continue
                    chosen.append(question)
                    break
        return chosen


def _facts(chunk: Chunk) -> _Facts | None:
    sentences = [_Sentence(s.strip(), _TOKEN.findall(s)) for s in _SENTENCE_END.split(chunk.text) if s.strip()]
    if sum(_is_content_word(t) for s in sentences for t in s.tokens) < 4:
        return None
    lowercase_words = set(re.findall(r"\b[a-z][\w'’\-]*", chunk.text))
    for sentence in sentences:
        sentence.names = _entities(sentence.tokens, chunk.text, lowercase_words)
    # Mentions are counted in the raw text, so "Berlin's" and "Berlin-Brandenburg" count for Berlin.
    entity_counts = Counter({e: len(re.findall(rf"\b{re.escape(e)}\b", chunk.text)) for s in sentences for e in s.names})
    entities = [e for e, _ in entity_counts.most_common()]
    first = next((s.names[0] for s in sentences if s.names), None)
    # The chunk is about a name it mentions more than once; on a tie, the one it opens with.
    recurring = [e for e in entities if entity_counts[e] >= 2]
    main = max(recurring, key=lambda e: (entity_counts[e], e == first)) if recurring else None
    source = "report" if _MONEY.search(chunk.text) or any(m in chunk.text.lower() for m in _FINANCE_METRICS) else "text"
    return _Facts(
        sentences=sentences,
        main=main,
        entities=[e for e in entities if not main or (main not in e and e not in main)],
        topics=_topics(sentences),
        source=source,
        section=(chunk.section or "").strip(" =#") or None,
    )


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


def _topics(sentences: list[_Sentence]) -> list[str]:
    """Key phrases: runs of up to three lower-case content words ending in a noun-like word,
    ranked by how often their words recur in the chunk."""
    freq = Counter(t.lower() for s in sentences for t in s.tokens if _is_content_word(t))
    phrases: Counter = Counter()
    for sentence in sentences:
        run: list[str] = []
        previous = ""
        for token in [*sentence.tokens, "."]:
            # A word right after a name or "to" is most likely a verb ("Lyft expects", "to remain").
            usable = _is_content_word(token) and token.islower() and not _precedes_verb(previous)
            previous = token
            if usable and len(run) < 3:
                run.append(token)
                continue
            while run and run[-1].endswith(("ly", "ed", "ous", "est", "ful", "able", "ern")):
                run.pop()
            if run and len(" ".join(run)) > 4 and not (len(run) == 1 and run[0] in _NOT_COUNTED):
                phrases[" ".join(run)] += sum(freq[w] for w in run) + 2 * (len(run) - 1)
            run = [token] if usable else []
    ranked = [p for p, _ in phrases.most_common()]
    # A phrase inside a better one adds nothing ("transportation" after "public transportation").
    return [p for i, p in enumerate(ranked) if not any(p in better for better in ranked[:i])][:8]


def _precedes_verb(token: str) -> bool:
    return bool(token) and (token[0].isupper() or token.lower() in _VERB_CUES)


def _is_content_word(token: str) -> bool:
    lower = token.lower()
    return (token[0].isalpha() and len(token) > 2 and lower not in _STOPWORDS and lower not in _SCALES
            and lower not in _IRREGULAR_PAST and lower.split("-")[0] not in _WORD_NUMBERS and "'" not in token)


def _year_questions(facts: _Facts, rng: random.Random) -> list[str]:
    questions = []
    for sentence in facts.sentences:
        years = _YEAR.findall(sentence.text)
        if not years:
            continue
        event = _event_question(sentence)
        if event:
            questions.append(event)
        elif facts.main:
            questions.append(f"What happened to {facts.main} in {years[0]}?")
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


def _quantity_questions(facts: _Facts, rng: random.Random) -> list[str]:
    """ "3.85 million inhabitants" -> "How many inhabitants does Berlin have?"; "killed 500 people"
    -> "How many people were killed?"."""
    questions = []
    for sentence in facts.sentences:
        tokens = sentence.tokens
        for i, token in enumerate(tokens):
            if not (token[0].isdigit() or token.lower() in _WORD_NUMBERS):
                continue
            noun = _counted_noun(tokens, i + 1)
            if noun is None:
                continue
            before = next((t for t in reversed(tokens[:i]) if t.lower() not in _STOPWORDS), "")
            if before.islower() and before.endswith("ed") and len(before) > 4:
                questions.append(f"How many {noun} were {before}?")
            elif facts.subject:
                questions.append(f"How many {noun} does {facts.subject} have?")
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


def _finance_questions(facts: _Facts, rng: random.Random) -> list[str]:
    """ "Revenue was $3.2 billion in 2021, up 36%" -> "What was Lyft's revenue in 2021?" and
    "By what percentage did Lyft's revenue increase in 2021?"."""
    owner = f"{facts.subject or 'the company'}'s"
    questions = []
    for sentence in facts.sentences:
        lower = sentence.text.lower()
        metric = next((m for m in _FINANCE_METRICS if re.search(rf"\b{re.escape(m)}\b", lower)), None)
        if not metric:
            continue
        years = _YEAR.findall(sentence.text)
        when = f" in {years[0]}" if years else ""
        if _MONEY.search(sentence.text):
            questions.append(f"What was {owner} {metric}{when}?")
        change = next((_CHANGE_WORDS[w] for w in re.findall(r"[a-z]+", lower) if w in _CHANGE_WORDS), None)
        if change and "%" in sentence.text:
            questions.append(f"By what percentage did {owner} {metric} {change}{when}?")
    return questions


def _entity_questions(facts: _Facts, rng: random.Random) -> list[str]:
    templates = _ENTITY_TEMPLATES if facts.main else [t for t in _ENTITY_TEMPLATES if "{main}" not in t]
    return [rng.choice(templates).format(entity=e, main=facts.main, source=facts.source) for e in facts.entities[:6]]


def _topic_questions(facts: _Facts, rng: random.Random) -> list[str]:
    templates = _TOPIC_TEMPLATES if facts.main else [t for t in _TOPIC_TEMPLATES if "{main}" not in t]
    topics = [t if t.endswith(_NO_ARTICLE_ENDINGS) else f"the {t}" for t in facts.topics]
    questions = [rng.choice(templates).format(topic=t, main=facts.main, source=facts.source, be=_be(t)) for t in topics]
    if facts.section and topics:
        questions.append(_SECTION_TEMPLATE.format(section=facts.section, topic=topics[0]))
    return questions


def _be(phrase: str) -> str:
    """ "is" or "are", by whether the phrase looks plural."""
    return "are" if phrase.endswith("s") and not phrase.endswith(("ss", "us", "is")) else "is"


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _ngrams(words: list[str], n: int) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}
