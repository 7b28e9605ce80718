"""Synthetic questions for chunks: the training and evaluation data of every later step.

Two generators share one interface (`QuestionGenerator`):
- `OfflineQuestionGenerator` needs no network or key: it phrases templated questions around the
  chunk's own entities, years, quantities and key phrases, never copying its sentences;
- `LLMQuestionGenerator` asks any OpenAI-compatible endpoint with a LlamaIndex-style prompt and
  caches each chunk's answer, so a repeated or interrupted run never pays for a chunk twice.

`generate_questions` runs one over a workspace corpus and returns a `QADataset`; it backs both the
background job ("generate_questions") and the CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Protocol

from .documents import Chunk
from .llm import Completion, LLMConfig, Outcome, Usage, complete_many, estimate_cost, estimate_tokens
from .qa_dataset import QADataset
from .workspace import Workspace

DEFAULT_QA_PROMPT = (
    "Context information is below.\n"
    "---------------------\n"
    "{context_str}\n"
    "---------------------\n"
    "Given the context information and not prior knowledge, generate only questions based on the below query.\n"
    "You are a Teacher/Professor. Your task is to setup {num_questions_per_chunk} questions for an upcoming "
    "quiz/examination. The questions should be diverse in nature across the document. Restrict the questions "
    "to the context information provided."
)
GENERATORS = ("offline", "llm")
MAX_QUESTIONS_PER_CHUNK = 20
# What a completion costs in tokens per question asked, for cost previews.
ESTIMATED_TOKENS_PER_QUESTION = 30
# Question ids are derived from (chunk, question), so regenerating the same data gives the same ids.
_QUESTION_ID_NAMESPACE = uuid.UUID("6f1c2a52-5d0e-4c36-9a57-2b7f0e1d9c11")

ProgressCallback = Callable[[int, int, int], None]  # (chunks done, chunks in all, chunks failed)


class GenerationError(ValueError):
    """Generation settings or input that cannot work; the message names the field or chunk."""


@dataclass
class GeneratedQuestion:
    chunk_id: str
    question: str


@dataclass
class GenerationResult:
    questions: list[GeneratedQuestion] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (chunk_id, why)
    usage: Usage = field(default_factory=Usage)
    cached: int = 0  # chunks answered from the cache, at no cost

    def summary(self) -> dict:
        return {"questions": len(self.questions), "failures": len(self.failures),
                "usage": self.usage.to_dict(), "cached": self.cached}


class QuestionGenerator(Protocol):
    def generate(self, chunks: list[Chunk], n_per_chunk: int,
                 on_progress: ProgressCallback | None = None) -> GenerationResult: ...


# prompts and answers -----------------------------------------------------------------------------
def render_prompt(template: str, context_str: str, num_questions_per_chunk: int) -> str:
    """Fill the template's {context_str} and {num_questions_per_chunk}; other braces stay as written,
    so a template may show JSON examples."""
    if "{context_str}" not in template:
        raise GenerationError("the prompt template must contain {context_str}, where the chunk's text goes")
    return template.replace("{context_str}", context_str).replace(
        "{num_questions_per_chunk}", str(num_questions_per_chunk))


_FENCE = re.compile(r"^\s*```[\w-]*\s*$", re.M)
_LIST_MARKER = re.compile(
    r"^\s*(?:\*\*)?(?:(?:Q(?:uestion)?\s*\d+\s*[:.)\-]?)|\(?\d+\s*[.):\-]|\(\d+\)|[-*•·–])(?:\*\*)?\s+", re.I)
_INTERROGATIVES = {
    "what", "when", "where", "who", "whom", "whose", "which", "why", "how", "is", "are", "was", "were", "do",
    "does", "did", "can", "could", "should", "would", "will", "has", "have", "had",
    "explain", "describe", "name", "list", "identify", "compare", "discuss",
}
_QUOTES = "\"'“”‘’`*"


def parse_questions(text: str, limit: int) -> list[str]:
    """The questions in a model's answer: numbered or bulleted lines, or a JSON list.

    Preambles, answers and blank lines are dropped; numbering and quotes are stripped; repeats
    (ignoring case and spacing) are kept once; at most `limit` are returned.
    """
    text = _FENCE.sub("", text or "").strip()
    candidates = _json_questions(text)
    if candidates is None:
        candidates = [_strip_marker(line) for line in text.splitlines()]
    questions, seen = [], set()
    for candidate in candidates:
        key = " ".join(candidate.lower().split())
        if _looks_like_question(candidate) and key not in seen:
            seen.add(key)
            questions.append(candidate)
    return questions[:limit]


def _json_questions(text: str) -> list[str] | None:
    if not text.startswith(("[", "{")):
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None
    if isinstance(data, dict):
        data = data.get("questions", [])
    if not isinstance(data, list):
        return None
    items = [item.get("question", "") if isinstance(item, dict) else item for item in data]
    return [_strip_marker(item) for item in items if isinstance(item, str)]


def _strip_marker(line: str) -> str:
    line = line.strip()
    previous = None
    while previous != line:  # "1. **Q1:** ..." carries more than one marker
        previous = line
        line = _LIST_MARKER.sub("", line).strip().strip(_QUOTES).strip()
    return " ".join(line.split())


def _looks_like_question(line: str) -> bool:
    words = line.split()
    if len(words) < 3 or line.endswith(":"):
        return False
    return line.endswith("?") or words[0].lower().strip(",") in _INTERROGATIVES


# the offline generator ---------------------------------------------------------------------------
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
        _check_n(n_per_chunk)
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


# the LLM generator ---------------------------------------------------------------------------------
class LLMQuestionGenerator:
    """Questions from an OpenAI-compatible model, each chunk's answer cached on disk.

    The cache key covers what decides the answer (model, endpoint, prompt template, chunk text,
    questions asked for), so a changed prompt asks again while a repeated run costs nothing.
    Failed chunks are not cached: the next run retries them.
    """

    def __init__(self, config: LLMConfig, prompt_template: str = DEFAULT_QA_PROMPT, cache_dir: Path | None = None):
        render_prompt(prompt_template, "", 1)  # a template without {context_str} fails here, before any request
        self.config = config
        self.prompt_template = prompt_template
        self.cache_dir = Path(cache_dir) if cache_dir else None

    def generate(self, chunks: list[Chunk], n_per_chunk: int,
                 on_progress: ProgressCallback | None = None) -> GenerationResult:
        _check_n(n_per_chunk)
        result = GenerationResult()
        answers: dict[str, list[str]] = {}
        to_ask = []
        for chunk in chunks:
            cached = self._cached(chunk, n_per_chunk)
            if cached is not None:
                answers[chunk.chunk_id] = cached
                result.cached += 1
            elif not chunk.text.strip():
                result.failures.append((chunk.chunk_id, "the chunk is empty"))
            else:
                to_ask.append(chunk)
        done = len(chunks) - len(to_ask)
        if on_progress:
            on_progress(done, len(chunks), len(result.failures))

        def on_done(outcome: Outcome) -> None:
            nonlocal done
            chunk = to_ask[outcome.index]
            questions, error = self._questions(outcome, n_per_chunk)
            if questions:
                answers[chunk.chunk_id] = questions
                self._store(chunk, n_per_chunk, questions)
            else:
                result.failures.append((chunk.chunk_id, error))
            done += 1
            if on_progress:
                on_progress(done, len(chunks), len(result.failures))

        prompts = [[{"role": "user", "content": render_prompt(self.prompt_template, c.text, n_per_chunk)}]
                   for c in to_ask]
        outcomes = complete_many(self.config, prompts, on_done=on_done) if prompts else []
        for outcome in outcomes:
            if isinstance(outcome, Completion):
                result.usage.add(outcome.prompt_tokens, outcome.completion_tokens)
        result.questions = [GeneratedQuestion(c.chunk_id, q) for c in chunks for q in answers.get(c.chunk_id, [])]
        return result

    @staticmethod
    def _questions(outcome: Outcome, n: int) -> tuple[list[str], str]:
        if not isinstance(outcome, Completion):
            return [], outcome.message
        questions = parse_questions(outcome.content, n)
        if not questions:
            return [], f"the model's answer held no questions: {outcome.content[:80]!r}"
        return questions, ""

    def cache_key(self, chunk: Chunk, n: int) -> str:
        parts = [self.config.model, self.config.base_url or "", self.prompt_template, chunk.text, n]
        return hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()

    def _cache_path(self, chunk: Chunk, n: int) -> Path | None:
        if self.cache_dir is None:
            return None
        key = self.cache_key(chunk, n)
        return self.cache_dir / key[:2] / f"{key}.json"

    def _cached(self, chunk: Chunk, n: int) -> list[str] | None:
        path = self._cache_path(chunk, n)
        if path is None or not path.exists():
            return None
        try:
            questions = json.loads(path.read_text(encoding="utf-8"))["questions"]
        except (OSError, ValueError, KeyError, TypeError):
            return None  # a damaged entry is asked again and rewritten
        return questions if isinstance(questions, list) and questions else None

    def _store(self, chunk: Chunk, n: int, questions: list[str]) -> None:
        path = self._cache_path(chunk, n)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")  # two runs may store the same chunk at once
        tmp.write_text(json.dumps({"model": self.config.model, "questions": questions}), encoding="utf-8")
        tmp.replace(path)


def _check_n(n_per_chunk: int) -> None:
    if not 1 <= n_per_chunk <= MAX_QUESTIONS_PER_CHUNK:
        raise GenerationError(f"n_per_chunk must be between 1 and {MAX_QUESTIONS_PER_CHUNK}, not {n_per_chunk}")


def estimate_llm_usage(chunks: list[Chunk], n_per_chunk: int, prompt_template: str = DEFAULT_QA_PROMPT) -> Usage:
    """Tokens an LLM run would use, before it runs (for a cost preview with llm.estimate_cost)."""
    prompt_tokens = estimate_tokens(render_prompt(prompt_template, c.text, n_per_chunk) for c in chunks)
    return Usage(prompt_tokens, len(chunks) * n_per_chunk * ESTIMATED_TOKENS_PER_QUESTION)


# corpus -> dataset -----------------------------------------------------------------------------------
@dataclass
class GenerationRequest:
    """The parameters of a generation run, as the job receives them (no API key, ever)."""

    corpus_id: str
    n_per_chunk: int = 2
    generator: str = "offline"
    llm: LLMConfig | None = None
    prompt_template: str = DEFAULT_QA_PROMPT
    max_chunks: int | None = None
    chunk_ids: list[str] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.generator not in GENERATORS:
            raise GenerationError(f"generator must be one of {', '.join(GENERATORS)}, not {self.generator!r}")
        if self.generator == "llm" and self.llm is None:
            raise GenerationError("llm: the LLM generator needs a base URL and model")
        _check_n(self.n_per_chunk)
        if self.max_chunks is not None and self.max_chunks < 1:
            raise GenerationError(f"max_chunks must be at least 1, not {self.max_chunks}")
        render_prompt(self.prompt_template, "", 1)

    @classmethod
    def from_params(cls, params: dict) -> GenerationRequest:
        unknown = sorted(set(params) - {f.name for f in fields(cls)})
        if unknown:
            raise GenerationError(f"unknown generation parameter(s): {', '.join(unknown)}")
        if "corpus_id" not in params:
            raise GenerationError("corpus_id: which corpus to generate questions for is required")
        llm = params.get("llm")
        return cls(**{**params, "llm": LLMConfig.from_public_dict(llm) if llm else None,
                      "prompt_template": params.get("prompt_template") or DEFAULT_QA_PROMPT})

    def to_params(self) -> dict:
        """JSON-ready parameters for jobs.start_job; the key travels in `self.llm.secret_env()`."""
        params = {f.name: getattr(self, f.name) for f in fields(self)}
        params["llm"] = self.llm.to_public_dict() if self.llm else None
        return params

    def make_generator(self, cache_dir: Path | None) -> QuestionGenerator:
        if self.generator == "offline":
            return OfflineQuestionGenerator(self.seed)
        return LLMQuestionGenerator(self.llm, self.prompt_template, cache_dir)


def select_chunks(chunks: list[Chunk], max_chunks: int | None = None, chunk_ids: list[str] | None = None) -> list[Chunk]:
    """The chunks to ask about: those named, else all; with max_chunks, an even spread over the
    corpus (the first N would all come from its first documents)."""
    if chunk_ids:
        by_id = {c.chunk_id: c for c in chunks}
        missing = [c for c in chunk_ids if c not in by_id]
        if missing:
            raise GenerationError(f"chunk_ids: not in this corpus: {', '.join(missing[:5])}")
        chunks = [by_id[c] for c in chunk_ids]
    if max_chunks is None or max_chunks >= len(chunks):
        return list(chunks)
    return [chunks[i * len(chunks) // max_chunks] for i in range(max_chunks)]


def build_dataset(chunks: list[Chunk], generated: list[GeneratedQuestion]) -> QADataset:
    """A QADataset whose corpus is every chunk given (the retrieval corpus, distractors included)
    and whose queries each point at the chunk they were asked about."""
    by_id = {c.chunk_id: c for c in chunks}
    queries, relevant = {}, {}
    for item in generated:
        if item.chunk_id not in by_id:
            raise GenerationError(f"question {item.question!r} names chunk {item.chunk_id!r}, which is not in the corpus")
        qid = str(uuid.uuid5(_QUESTION_ID_NAMESPACE, f"{item.chunk_id}\n{item.question}"))
        queries[qid] = item.question
        relevant[qid] = [item.chunk_id]
    dataset = QADataset(queries=queries, corpus={c.chunk_id: c.text for c in chunks}, relevant_docs=relevant,
                        passage_docs={c.chunk_id: c.doc_id for c in chunks})
    dataset.validate()
    return dataset


def generate_questions(ws: Workspace, request: GenerationRequest,
                       on_progress: ProgressCallback | None = None) -> tuple[QADataset, GenerationResult]:
    """Run a request over its corpus; raises GenerationError when no chunk got a question."""
    ws.get_corpus(request.corpus_id)  # an unknown corpus is named before anything runs
    chunks = ws.load_chunks(request.corpus_id)
    selected = select_chunks(chunks, request.max_chunks, request.chunk_ids)
    if not selected:
        raise GenerationError(f"corpus {request.corpus_id!r} has no chunks to ask about")
    generator = request.make_generator(ws.dir("cache", "questions"))
    result = generator.generate(selected, request.n_per_chunk, on_progress)
    if not result.questions:
        chunk_id, why = result.failures[0]
        raise GenerationError(f"no questions were generated: {len(result.failures)} chunks failed, "
                              f"e.g. chunk {chunk_id!r}: {why}")
    return build_dataset(chunks, result.questions), result


def run_generation_job(ctx, params: dict) -> dict:
    """The worker task "generate_questions": writes the draft dataset to the run's draft.json."""
    request = GenerationRequest.from_params(params)
    dataset, result = generate_questions(ctx.workspace, request, on_progress=job_progress(ctx))
    return save_draft(ctx, dataset, result, request.llm)


def job_progress(ctx) -> ProgressCallback:
    """A worker task's progress for a generator: chunks done of all, and how many failed."""
    return lambda done, total, failed: ctx.progress(done, total, f"{failed} failed")


def save_draft(ctx, dataset: QADataset, result: GenerationResult, llm: LLMConfig | None, **counts) -> dict:
    """How a generating worker task ends: each failure as an event, the dataset saved as the run's
    draft.json, and the summary (with `counts` added to the generation's own, and the LLM's cost)."""
    for item_id, why in result.failures:
        ctx.emit("failure", chunk_id=item_id, message=why)
    draft = ctx.run_dir / "draft.json"
    dataset.save(draft)
    summary = {"draft": str(draft), **result.summary(), **counts}
    if llm is not None:
        summary["cost_usd"] = estimate_cost(llm, result.usage.prompt_tokens, result.usage.completion_tokens)
    return summary
