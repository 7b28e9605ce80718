"""Offline wording variety for router queries, so the generated queries read like users' rather than
like one template.

From each document's profile (`profiles`: aliases, topics, landmarks): summary requests, some listing
aspects ("Give me the big picture of Berlin: its history, economy and transport"), specific questions
that sound broad but ask about one section ("What is Berlin's economy like?") or one landmark, a
document named by title, alias or, where a landmark only it names points at it, not at all, and
styles: terse keywords, long conversational requests, lower case, no question mark, a typo. Every query
still names or uniquely points at its one document (`points_at`). Deterministic per seed, no network.
"""

from __future__ import annotations

import random
import re

from .profiles import QUESTION_WORDS, WORD, DocumentProfile, is_landmark, mentions, points_at, unique_names_in

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
_CAPITALISED_QUESTION_WORDS = "|".join(w.capitalize() for w in sorted(QUESTION_WORDS))
_OPENERS_KEPT_CAPITALISED = re.compile(
    rf"^(?:I\b|[A-Z]{{2,}}|(?!(?:{_CAPITALISED_QUESTION_WORDS})\b)[A-Z][\w'’\-]*\s+[A-Z])"
)


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

# Summary requests without a list of aspects. SUMMARY_TEMPLATES (prompts.py) are the plain ones.
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
    chosen = (
        rng.sample(plain_pool, min(plain, len(plain_pool)))
        + rng.sample(TERSE_SUMMARY_TEMPLATES, min(terse, len(TERSE_SUMMARY_TEMPLATES)))
        + rng.sample(LONG_SUMMARY_TEMPLATES, min(long, len(LONG_SUMMARY_TEMPLATES)))
    )
    requests = [_upper_first_unless_terse(t, t.format(name=_pick_name(profile, rng))) for t in chosen]
    for template in rng.sample(ASPECT_SUMMARY_TEMPLATES, min(with_aspects, len(ASPECT_SUMMARY_TEMPLATES))):
        aspects = rng.sample(profile.aspects, rng.randint(2, min(5, len(profile.aspects))))
        text = template.format(
            name=_pick_name(profile, rng), aspects=_listed(aspects, rng), first=aspects[0], last=aspects[-1]
        )
        requests.append(_upper_first_unless_terse(template, text))
    requests += [
        in_context(profile, ask, rng) for ask in rng.sample(_HOLISTIC_ASKS, min(in_contexts, len(_HOLISTIC_ASKS)))
    ]
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
_PREFIXES = (
    "Quick question: ",
    "Hey, ",
    "I was wondering: ",
    "For a school project, ",
    "Out of curiosity, ",
    "Hi! ",
    "Please help: ",
    "Can you help? ",
    "Question - ",
    "So, ",
)
_SUFFIXES = (" Thanks!", " Thank you.", " Any idea?", " Cheers", " (for a report)", " Just curious.")
_TERSE_DROPPED = set(
    """
what which who whom whose is are was were does do did the a an of for about to in regarding say said tell us text
details given known described connection with connected role play significant significance there that this
speaking case can could would you me please give some information on have has had be been
""".split()
)


def terse(question: str) -> str:
    """A question cut to its keywords: "How many inhabitants does Berlin have?" -> "How many inhabitants Berlin"
    ("how" and "when" stay where they ask for a number or a date)."""
    words = re.findall(r"[\w'’\-]+", question)
    kept = [
        w
        for i, w in enumerate(words)
        if w.lower() not in _TERSE_DROPPED
        and not (w.lower() == "how" and (i + 1 == len(words) or words[i + 1].lower() not in ("many", "much")))
        and not (w.lower() in ("year", "it") and "when" in (x.lower() for x in words))
    ]
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
    words = [m for m in WORD.finditer(text) if len(m.group(0)) >= 5 and m.group(0).isalpha()]
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
        typo = word[:i] + word[i + 1 :]
    elif kind == "double":
        typo = word[:i] + word[i] + word[i:]
    else:
        typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if typo == word:
        typo = word[:i] + word[i + 1 :]
    return text[: match.start()] + typo + text[match.end() :]
