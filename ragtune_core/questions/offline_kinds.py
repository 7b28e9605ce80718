"""The kinds of offline question (definition, amount, rate, change, cause, event, heading,
relation, topic): each turns a chunk's facts into candidate questions."""

from __future__ import annotations

import random
import re

from .lexicon import (
    ADVERBS,
    AS_OF,
    CAUSE_SUBJECT,
    CAUSES,
    CHANGE_WORDS,
    CONNECTORS,
    FINANCE_METRICS,
    ING_WORDS,
    IRREGULAR_PARTICIPLES,
    IRREGULAR_PAST,
    LINKS,
    MEANS,
    MONEY,
    NAMED,
    NO_ARTICLE_ENDINGS,
    NOT_COUNTED,
    PERIOD,
    PREPOSITIONS,
    RATE_HEADS,
    SCALES,
    STOPWORDS,
    TEMPLATES,
    TOKEN,
    VERB_TAILS,
    WORD_NUMBERS,
    YEAR,
)
from .offline_facts import Candidate, Facts, Sentence, is_content_word, is_modifier, possessive, words_of


# Question kinds: each turns a chunk's facts into candidates -------------------------------------
def _definition_questions(facts: Facts, rng: random.Random) -> list[Candidate]:
    """'"Immaterial Subsidiary" means ...' -> 'What does "Immaterial Subsidiary" mean?';
    '(the "2025 Notes")' -> 'What is referred to as "2025 Notes"?'."""
    questions = []
    for i, sentence in enumerate(facts.sentences):
        for pattern, kind in ((MEANS, "definition"), (NAMED, "named")):
            for match in pattern.finditer(sentence.text):
                term = " ".join(match.group(1).split()).strip(" ,.;:")
                if 1 <= len(term.split()) <= 6 and re.search(r"[^\W\d_]{3}", term):
                    questions.append(Candidate(rng.choice(TEMPLATES[kind]).format(term=term), kind, i))
    return questions


def _amount_questions(facts: Facts, rng: random.Random) -> list[Candidate]:
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
            is_percent = token[0].isdigit() and (token.endswith("%") or tokens[k + 1 : k + 2] == ["percent"])
            if not (is_money or is_percent):
                continue
            end = k + 1 + (k + 1 < len(tokens) and tokens[k + 1].lower() in (*SCALES, "percent"))
            for kind, question in _amount_question(facts, sentence, k, end, is_money, when):
                questions.append(Candidate(rng.choice(TEMPLATES[kind]).format(**question), kind, i))
    return questions


def _amount_question(facts: Facts, sentence: Sentence, k: int, end: int, is_money: bool, when: str):
    tokens = sentence.tokens
    left = _phrase_before(tokens, k, sentence)
    change_at = next((j for j in range(k - 1, max(k - 7, -1), -1) if tokens[j] in CHANGE_WORDS), None)
    if not is_money and change_at is not None and _is_past_change(tokens[change_at]):
        metric = _phrase_before(tokens, change_at, sentence, linked=False)
        if metric:
            yield (
                "change",
                {"metric": _owned(facts, metric, sentence), "change": CHANGE_WORDS[tokens[change_at]], "when": when},
            )
        return
    if left:
        detail = _prep_phrase(tokens, end)
        if is_money and not detail and left.lower() in FINANCE_METRICS:
            return  # the finance questions ask it
        when = "" if YEAR.search(detail) else when
        if is_money or left.split()[-1].lower() in RATE_HEADS:
            kind = "amount" if is_money else "rate"
            yield kind, {"metric": _owned(facts, left, sentence), "detail": detail, "when": when}
        return
    if not is_money:
        if tokens[end : end + 1] == ["of"]:
            whole, after = _phrase_after(tokens, end + 1)
            tail = _verb_tail(tokens, after)
            if whole and tail:
                yield "share", {"whole": whole, "tail": tail}
        return
    right, after = _phrase_after(tokens, end, articles=False)
    if right:
        detail = _prep_phrase(tokens, after)
        yield "amount", {"metric": f"the {right}", "detail": detail, "when": "" if YEAR.search(detail) else when}
    elif tokens[end : end + 1] == ["in"] and facts.subject:
        held, _ = _phrase_after(tokens, end + 1)
        if held:
            yield "holding", {"metric": held, "subject": facts.subject, "when": when}


def _phrase_before(tokens: list[str], k: int, sentence: Sentence, linked: bool = True) -> str | None:
    """The noun phrase an amount at tokens[k] measures, over link words ("revenue was", "deficit of")
    when `linked`; None when the word before is a verb."""
    j = k - 1
    skipped = 0
    while j >= 0 and tokens[j].lower() in LINKS:
        j, skipped = j - 1, skipped + 1
    if linked and not skipped:
        return None
    words: list[str] = []
    while j >= 0 and len(words) < 4 and is_content_word(tokens[j]) and tokens[j] not in CHANGE_WORDS:
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
        if is_content_word(token) and not _is_verb_like(token):
            words.append(token)
        elif (
            token in ("of", "and")
            and words
            and "and" not in words
            and "of" not in words
            and j + 1 < len(tokens)
            and is_content_word(tokens[j + 1])
        ):
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
    for prep in PREPOSITIONS:
        words = prep.split()
        if tokens[start : start + len(words)] == words:
            phrase, _ = _phrase_after(tokens, start + len(words))
            return f" {prep} {_article(phrase)}" if phrase else ""
    return ""


def _verb_tail(tokens: list[str], start: int) -> str | None:
    """ "came from rideshare" after "5% of revenue": up to four words opening with a verb."""
    if start >= len(tokens) or not (tokens[start] in VERB_TAILS or _is_verb_like(tokens[start])):
        return None
    words = []
    for token in tokens[start : start + 4]:
        if not re.match(r"[^\W\d_]", token) or token in CONNECTORS - {"of", "the"}:
            break
        words.append(token)
    while words and words[-1].lower() in STOPWORDS:
        words.pop()
    return " ".join(words) if len(words) >= 2 else None


def _is_past_change(word: str) -> bool:
    """ "increased", "grew", "fell": a change in the past tense (not the noun "increase")."""
    return word in CHANGE_WORDS and word.endswith(("ed", "ew", "ose", "ell"))


def _is_head(word: str) -> bool:
    """Can the word end a noun phrase?"""
    lower = word.lower()
    return not (_is_verb_like(word) or is_modifier(lower) or (lower.endswith("ing") and lower not in ING_WORDS))


def _is_verb_like(word: str) -> bool:
    lower = word.lower()
    return lower in CHANGE_WORDS or lower in IRREGULAR_PAST or (word.islower() and lower.endswith(("ed", "ly")))


def _owned(facts: Facts, phrase: str, sentence: Sentence) -> str:
    """ "Lyft's revenue" when the sentence names the chunk's main name, else "the revenue"."""
    return f"{facts.owner if facts.main in sentence.names else 'the'} {phrase}"


def _be(phrase: str) -> str:
    """ "is" or "are", by whether the phrase looks plural."""
    return "are" if phrase.endswith("s") and not phrase.endswith(("ss", "us", "is")) else "is"


def _article(phrase: str) -> str:
    return phrase if phrase[0].isupper() or phrase.endswith(NO_ARTICLE_ENDINGS) else f"the {phrase}"


def _when(text: str) -> str:
    """ " as of December 31, 2021", " in the year ended ...", " in 2021" or "": when the sentence's figures hold."""
    if match := AS_OF.search(text):
        return f" as of {match.group(1)}"
    if match := PERIOD.search(text):
        return f" in the period ended {match.group(1)}"
    years = YEAR.findall(text)
    return f" in {years[0]}" if years else ""


def _cause_questions(facts: Facts, rng: random.Random) -> list[Candidate]:
    """ "The increase in operating expenses was primarily due to ..." -> "What drove the increase in
    operating expenses?"; "Delivery revenue increased primarily attributable to ..." -> "What drove
    the increase in Delivery revenue?"."""
    questions = []
    for i, sentence in enumerate(facts.sentences):
        match = CAUSES.search(sentence.text)
        if not match:
            continue
        before = re.split(r"[,;:(]", sentence.text[: match.start()])[0].strip()
        tokens = TOKEN.findall(before)
        change_at = next((j for j, t in enumerate(tokens) if _is_past_change(t)), None)
        subject = None
        if change_at:
            metric = _phrase_before(tokens, change_at, sentence, linked=False)
            if metric:
                subject = f"the {CHANGE_WORDS[tokens[change_at]]} in {_owned(facts, metric, sentence)}"
        elif (
            (found := CAUSE_SUBJECT.match(before))
            and len(found.group(1).split()) <= 7
            and not re.search(r"\d|\b(?:we|it|they|this|that|which)\b", found.group(1), re.I)
        ):
            subject = f"the {found.group(1)}"
        if subject:
            template = rng.choice(TEMPLATES["cause"])
            questions.append(Candidate(template.format(subject=subject, when=_when(sentence.text)), "cause", i))
    return questions


def _year_questions(facts: Facts, rng: random.Random) -> list[Candidate]:
    questions = []
    for i, sentence in enumerate(facts.sentences):
        years = YEAR.findall(sentence.text)
        if not years:
            continue
        event = _event_question(sentence)
        if event:
            questions.append(Candidate(event, "event", i))
        elif sentence.phrases:
            template = rng.choice(TEMPLATES["year"])
            questions.append(Candidate(template.format(a=_article(sentence.phrases[0]), year=years[0]), "year", i))
    return questions


def _event_question(sentence: Sentence) -> str | None:
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
        if verb in IRREGULAR_PAST:
            return f"When did {name} {IRREGULAR_PAST[verb]} {' '.join(obj)}?"
        return f"What year was it when {name} {verb} {' '.join(obj)}?"
    return None


def _find(tokens: list[str], words: list[str]) -> int | None:
    for i in range(len(tokens) - len(words) + 1):
        if tokens[i : i + len(words)] == words:
            return i
    return None


def _take_adverbs(tokens: list[str], start: int) -> list[str]:
    taken = []
    while start + len(taken) < len(tokens) and tokens[start + len(taken)].lower() in ADVERBS and len(taken) < 2:
        taken.append(tokens[start + len(taken)])
    return taken


def _is_participle(word: str) -> bool:
    return word in IRREGULAR_PARTICIPLES or (word.islower() and word.endswith("ed") and len(word) > 4)


def _is_past(word: str) -> bool:
    return word in IRREGULAR_PAST or (word.islower() and word.endswith("ed") and len(word) > 4)


def _object_words(tokens: list[str], start: int) -> list[str]:
    """A short object after a verb: an optional article, then up to three words, stopping at a
    preposition, a number or the end of the clause."""
    words = []
    for token in tokens[start : start + 4]:
        lower = token.lower()
        is_article = lower in ("the", "a", "an") and not words
        if not is_article and (not is_content_word(token) or (words and lower.endswith(("ing", "ed")))):
            break
        words.append(token)
    return words if any(w.lower() not in ("the", "a", "an") for w in words) else []


def _quantity_questions(facts: Facts, rng: random.Random) -> list[Candidate]:
    """ "3.85 million inhabitants" -> "How many inhabitants does Berlin have?"; "killed 500 people"
    -> "How many people were killed?"."""
    questions = []
    for i, sentence in enumerate(facts.sentences):
        tokens = sentence.tokens
        for k, token in enumerate(tokens):
            if not (token[0].isdigit() or token.lower() in WORD_NUMBERS):
                continue
            noun = _counted_noun(tokens, k + 1)
            if noun is None:
                continue
            before = next((t for t in reversed(tokens[:k]) if t.lower() not in STOPWORDS), "")
            if before.islower() and before.endswith("ed") and len(before) > 4:
                questions.append(Candidate(f"How many {noun} were {before}?", "count", i))
            elif facts.main:
                questions.append(Candidate(f"How many {noun} does {facts.main} have?", "count", i))
    return questions


def _counted_noun(tokens: list[str], start: int) -> str | None:
    """What a number counts ("island chains"): up to two modifiers and a plural noun, after an
    optional scale word ("million")."""
    i = start + (start < len(tokens) and tokens[start] in SCALES)
    for end in range(i, min(i + 3, len(tokens))):
        token = tokens[end]
        if not (token.islower() and is_content_word(token)):
            return None
        if token.endswith("s") and not token.endswith(("ss", "us", "is")) and token not in NOT_COUNTED:
            return " ".join(tokens[i : end + 1])
    return None


def _finance_questions(facts: Facts, rng: random.Random) -> list[Candidate]:
    """ "Revenue was $3.2 billion in 2021, up 36%" -> "What was Lyft's revenue in 2021?" and
    "By what percentage did Lyft's revenue increase in 2021?"."""
    questions = []
    for i, sentence in enumerate(facts.sentences):
        owner = possessive(facts.main if facts.main in sentence.names else "the company")
        lower = sentence.text.lower()
        metric = next((m for m in FINANCE_METRICS if re.search(rf"\b{re.escape(m)}\b", lower)), None)
        if not metric:
            continue
        years = YEAR.findall(sentence.text)
        when = f" in {years[0]}" if years else ""
        if MONEY.search(sentence.text):
            questions.append(Candidate(f"What was {owner} {metric}{when}?", "finance", i))
        change = next((CHANGE_WORDS[w] for w in re.findall(r"[a-z]+", lower) if w in CHANGE_WORDS), None)
        if change and "%" in sentence.text:
            questions.append(Candidate(f"By what percentage did {owner} {metric} {change}{when}?", "finance", i))
    return questions


def _heading_questions(facts: Facts, rng: random.Random) -> list[Candidate]:
    """'Under "Source of Payments", what is said about the general funds?': a heading and a key
    phrase of the sentences under it."""
    questions = []
    for heading, first in facts.headings:
        heading_words = set(words_of(heading))
        for i in range(first, min(first + 3, len(facts.sentences))):
            phrase = next((p for p in facts.sentences[i].phrases if not set(words_of(p)) & heading_words), None)
            if phrase:
                template = rng.choice(TEMPLATES["heading"])
                questions.append(Candidate(template.format(heading=heading, a=_article(phrase)), "heading", i))
    return questions


def _relation_questions(facts: Facts, rng: random.Random) -> list[Candidate]:
    """ "How is the shelter-at-home orders related to the Mobility offerings?": a sentence's two most
    distinctive phrases."""
    questions = []
    for i, sentence in enumerate(facts.sentences):
        if not sentence.phrases:
            continue
        a = sentence.phrases[0]
        for b in [p for p in sentence.phrases[1:] if not set(words_of(p)) & set(words_of(a))][:2]:
            template = rng.choice(TEMPLATES["relation"])
            questions.append(Candidate(template.format(a=_article(a), b=_article(b), be=_be(a)), "relation", i))
    return questions


def _topic_questions(facts: Facts, rng: random.Random) -> list[Candidate]:
    """The loosest kind, for chunks that offer little else: "What does the text say about X?"."""
    return [
        Candidate(rng.choice(TEMPLATES["topic"]).format(a=_article(s.phrases[0]), source=facts.source), "topic", i)
        for i, s in enumerate(facts.sentences)
        if s.phrases
    ]


FACT_KINDS = (
    _definition_questions,
    _amount_questions,
    _finance_questions,
    _quantity_questions,
    _cause_questions,
    _year_questions,
)
# Loose kinds, for a chunk that offers no fact: the keyword and topic styles ask such chunks better.
LOOSE_KINDS = (_heading_questions, _relation_questions, _topic_questions)
KINDS = FACT_KINDS + LOOSE_KINDS
