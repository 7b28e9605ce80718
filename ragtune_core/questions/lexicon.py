"""The offline generator's lexicon: word lists, patterns, templates and weights."""

import re

STOPWORDS = set(
    """
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
""".split()
)
NOT_ENTITIES = set(
    """
january february march april may june july august september october november december monday tuesday
wednesday thursday friday saturday sunday spring summer autumn winter i we our us it its the this these those he
she they his her their
""".split()
)
# A document's own parts and its defined "the Company": capitalised, but names only within a longer one.
NOT_NAMES_ALONE = {"company", "item", "part", "note", "exhibit", "section", "schedule", "table"}
CONNECTORS = {"of", "de", "the", "for", "am", "upon", "von", "van", "del", "la"}
ROMAN_NUMERALS = {"I", "II", "III", "IV", "V", "VI"}
VERB_CUES = {
    "to",
    "will",
    "would",
    "may",
    "might",
    "can",
    "could",
    "should",
    "must",
    "also",
    "not",
    "we",
    "they",
    "it",
    "he",
    "she",
    "who",
    "which",
    "that",
}
WORD_NUMBERS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds dozens thousands millions"
).split()
NOT_COUNTED = set(
    """
years decades centuries months weeks days hours minutes seconds times percent others ones thousands millions
hundreds billions dollars euros millimeters millimetres centimeters centimetres meters metres kilometers
kilometres miles feet inches degrees kilograms tons tonnes acres hectares shares
""".split()
)
IRREGULAR_PAST = {
    "became": "become",
    "began": "begin",
    "built": "build",
    "won": "win",
    "lost": "lose",
    "took": "take",
    "grew": "grow",
    "fell": "fall",
    "held": "hold",
    "made": "make",
    "left": "leave",
    "came": "come",
    "gave": "give",
    "bought": "buy",
    "sold": "sell",
    "led": "lead",
    "rose": "rise",
    "wrote": "write",
    "saw": "see",
    "brought": "bring",
    "met": "meet",
    "paid": "pay",
    "spent": "spend",
}
IRREGULAR_PARTICIPLES = {
    "built",
    "made",
    "held",
    "known",
    "given",
    "taken",
    "begun",
    "won",
    "lost",
    "sold",
    "bought",
    "written",
    "chosen",
    "born",
    "founded",
    "named",
    "seen",
    "brought",
    "paid",
}
ADVERBS = {
    "first",
    "officially",
    "later",
    "formally",
    "also",
    "again",
    "once",
    "eventually",
    "originally",
    "finally",
    "subsequently",
    "soon",
}
FINANCE_METRICS = (
    "cash and cash equivalents",
    "adjusted ebitda",
    "net income",
    "net loss",
    "net revenue",
    "gross bookings",
    "operating expenses",
    "operating loss",
    "operating income",
    "free cash flow",
    "cost of revenue",
    "research and development",
    "stock-based compensation",
    "total assets",
    "total liabilities",
    "revenue",
    "revenues",
    "gross margin",
    "long-term debt",
    "contribution margin",
    "net cash",
    "expenses",
)
MONEY = re.compile(r"\$\s?\d[\d,.]*(?:\s*(?:million|billion|thousand))?", re.I)
YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“(\[A-Z0-9])|\n+")
# Words, numbers, and the punctuation that ends a phrase (so a phrase never spans a comma).
TOKEN = re.compile(r"\$?\d+(?:[,.]\d+)*%?|[^\W\d_][\w'’\-]*|[,;:()]")
SCALES = {"million", "billion", "thousand", "hundred"}
NO_ARTICLE_ENDINGS = ("ism", "ness", "ics")
CHANGE_WORDS = {
    "increase": "increase",
    "increased": "increase",
    "grew": "increase",
    "rose": "increase",
    "decrease": "decrease",
    "decreased": "decrease",
    "declined": "decrease",
    "fell": "decrease",
}
# Question templates by kind. {metric}, {term}, {a}... are the chunk's own words; the templates'
# words never count towards a question's specificity.
TEMPLATES = {
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
    # The topic style (offline_styles): what a passage is about, as typed into a search box.
    "about": (
        "what does {owner} say about {topic}",
        "how does {owner} handle {topic}",
        "{topic} overview",
        "what is {owner_s} approach to {topic}",
        "explain {topic}",
    ),
    "risk": ("what are the risks of {topic}", "how could {topic} hurt {owner}", "{topic} risk"),
    "name": ("what does {owner} say about {topic}", "what is said about {topic}"),
    "define": ("what is {term}", "what does {term} mean", "{term} definition"),
}
# Fixed phrasings built in code, listed so that their words do not count as the chunk's either.
CODE_WORDS = (
    "When was were did What year was it when How many does have By what percentage did increase decrease "
    "What was the company's report text in as of for with due to"
)
TEMPLATE_WORDS = {
    w
    for t in (*[t for ts in TEMPLATES.values() for t in ts], CODE_WORDS)
    for w in re.findall(r"\w+", re.sub(r"\{\w+\}", " ", t).lower())
}
# One fact beats a loose "what is said about": a candidate's specificity is weighed by its kind.
KIND_WEIGHTS = {
    "definition": 1.5,
    "named": 1.3,
    "amount": 1.5,
    "holding": 1.5,
    "rate": 1.5,
    "share": 1.5,
    "change": 1.5,
    "finance": 1.5,
    "count": 1.3,
    "cause": 1.5,
    "event": 1.5,
    "year": 1.2,
    "heading": 1.1,
    "relation": 1.0,
    "topic": 0.6,
    "keyword": 1.0,
    "about": 1.0,
    "plain": 1.0,
}
ENOUGH = 1.6  # specificity past which a kind that pins a fact is preferred to more rare words
LATE_WEIGHT = 0.5  # a fact past the chunk's opening words
SAME_KIND_WEIGHT = 0.85  # a kind already asked of the chunk
SAME_SENTENCE_WEIGHT = 0.6  # a sentence already asked about
RARE_WORDS_COUNTED = 4  # a question's specificity: its chunk's rarest words, this many at most
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
AS_OF = re.compile(rf"\b(?:as of|at|on) ((?:{MONTHS}) \d{{1,2}}, (?:19|20)\d\d)")
PERIOD = re.compile(
    rf"\b(?:for|during|in) the (?:fiscal )?(?:year|quarter|three months|six months|nine months) "
    rf"ended ((?:{MONTHS}) \d{{1,2}}, (?:19|20)\d\d)"
)
MEANS = re.compile(
    r"[“\"]([^”\"\n]{2,60})[”\"]\s+(?:shall\s+)?(?:means?|has the meaning|have the meanings?|"
    r"refers? to|is defined)\b"
)
NAMED = re.compile(
    r"\((?:(?:the|each|collectively|together|individually|and|or),?\s+)*(?:an?\s+)?"
    r"[“\"]([^”\"\n]{2,50})[”\"]"
)
CAUSES = re.compile(r"\b(?:due to|driven by|attributable to|the result of|a result of|caused by|because of)\b")
CAUSE_SUBJECT = re.compile(
    r"^(?:the|our|its)\s+(.{3,80}?)\s+(?:was|were|is|are|has been|have been)?\s*"
    r"(?:primarily|mainly|largely|partially|partly|principally|substantially)?\s*$",
    re.I,
)
NUMBERED_HEADING = re.compile(
    r"(?m)^\s*(?:\d+(?:\.\d+)*\.?|\([a-z0-9]+\)|Item \d+[A-Z]?\.)\s+"
    r"([A-Z][^.\n\d]{3,60})\.(?=\s)"
)
# Words between an amount and what it measures ("revenue was $3.2 billion", "a deficit of $23.6 billion").
LINKS = {
    "of",
    "was",
    "were",
    "is",
    "are",
    "totaled",
    "totalled",
    "totaling",
    "amounted",
    "to",
    "approximately",
    "about",
    "nearly",
    "roughly",
    "by",
    "at",
    "aggregate",
    "reached",
    "be",
    "been",
    "an",
    "a",
    "the",
    "had",
    "our",
    "its",
    "their",
    "over",
    "under",
    "than",
    "more",
    "less",
    "least",
}
PREPOSITIONS = ("in", "for", "from", "of", "on", "under", "related to", "associated with")
# Words in -ing that name things or qualify them ("operating expenses"); other -ing words are verbs.
ING_WORDS = set(
    """
operating outstanding existing remaining underlying accounting advertising financing ridesharing marketing pricing
funding lending licensing training trading recurring pending offering offerings housing processing consulting banking
manufacturing engineering reporting borrowing servicing spending building planning shipping ticketing carpooling
parking charging computing matching mapping booking bookings listing hosting billing rating earnings warning
closing opening meeting hearing filing filings holding holdings setting settings proceeding proceedings ceiling
funding leasing vesting netting hedging clearing routing dispatching onboarding ride-sharing ride-hailing
""".split()
)
IVE_NOUNS = {
    "derivative",
    "derivatives",
    "executive",
    "executives",
    "initiative",
    "initiatives",
    "incentive",
    "incentives",
    "alternative",
    "alternatives",
    "representative",
    "representatives",
    "objective",
    "objectives",
    "directive",
    "directives",
    "narrative",
    "perspective",
    "collective",
    "detective",
    "motive",
    "archive",
    "prerogative",
    "relative",
    "relatives",
    "native",
}
LY_NOUNS = {
    "supply",
    "family",
    "assembly",
    "monopoly",
    "anomaly",
    "reply",
    "rally",
    "italy",
    "july",
    "ally",
    "apply",
    "oligopoly",
    "butterfly",
    "quarterly",
    "weekly",
    "monthly",
    "daily",
}
RATE_HEADS = {
    "rate",
    "rates",
    "margin",
    "margins",
    "ratio",
    "yield",
    "volatility",
    "percentage",
    "share",
    "growth",
    "return",
    "interest",
    "stake",
    "discount",
    "premium",
    "churn",
    "utilization",
    "retention",
    "take",
}
AFTER_MODAL = re.compile(r"\b(?:will|may|could|would|shall|must|can|cannot|might|should|to)\s+([a-z]{3,})\b")
AFTER_DETERMINER = re.compile(
    r"\b(?:the|a|an|our|its|their|this|these|those|each|any|such|no|his|her|your)\s+"
    r"([a-z]{3,})\b",
    re.I,
)
VERB_TAILS = {"was", "were", "is", "are", "came", "come", "had", "have", "has"}
