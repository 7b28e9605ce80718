"""The question prompt and reading questions out of a model's answer."""

from __future__ import annotations

import json
import re

from .generators import GenerationError

# The styles people search in (as the offline generator's, questions.offline_styles): a retriever
# trained on quiz questions alone learns the quiz's wording, not the words its users type.
DEFAULT_QA_PROMPT = (
    "Context information is below.\n"
    "---------------------\n"
    "{context_str}\n"
    "---------------------\n"
    "Write {num_questions_per_chunk} search queries that people who have not read this text would type to find "
    "it, each answered by the context alone. Use a different style for each, in turn: a few keywords, as typed "
    "into a search box; a question in everyday words instead of the text's own terms; a question about what "
    "the passage is about; a question about one specific fact (a figure, date, name or reason). Do not copy "
    "phrases from the text. Answer with a JSON list of strings and nothing else."
)


def render_prompt(template: str, context_str: str, num_questions_per_chunk: int) -> str:
    """Fill the template's {context_str} and {num_questions_per_chunk}; other braces stay as written,
    so a template may show JSON examples."""
    if "{context_str}" not in template:
        raise GenerationError("the prompt template must contain {context_str}, where the chunk's text goes")
    return template.replace("{context_str}", context_str).replace(
        "{num_questions_per_chunk}", str(num_questions_per_chunk)
    )


_FENCE = re.compile(r"^\s*```[\w-]*\s*$", re.M)
_LIST_MARKER = re.compile(
    r"^\s*(?:\*\*)?(?:(?:Q(?:uestion)?\s*\d+\s*[:.)\-]?)|\(?\d+\s*[.):\-]|\(\d+\)|[-*•·–])(?:\*\*)?\s+", re.I
)
_INTERROGATIVES = {
    "what",
    "when",
    "where",
    "who",
    "whom",
    "whose",
    "which",
    "why",
    "how",
    "is",
    "are",
    "was",
    "were",
    "do",
    "does",
    "did",
    "can",
    "could",
    "should",
    "would",
    "will",
    "has",
    "have",
    "had",
    "explain",
    "describe",
    "name",
    "list",
    "identify",
    "compare",
    "discuss",
}
_QUOTES = "\"'“”‘’`*"


def parse_questions(text: str, limit: int) -> list[str]:
    """The questions in a model's answer: a JSON list (any query of two words or more, keywords
    too), or numbered or bulleted lines (those that read as questions).

    Preambles, answers and blank lines are dropped; numbering and quotes are stripped; repeats
    (ignoring case and spacing) are kept once; at most `limit` are returned.
    """
    text = _FENCE.sub("", text or "").strip()
    candidates = _json_questions(text)
    # A JSON list holds queries only, keywords included; free text also holds preambles and answers.
    looks_right = _looks_like_query if candidates is not None else _looks_like_question
    if candidates is None:
        candidates = [_strip_marker(line) for line in text.splitlines()]
    questions, seen = [], set()
    for candidate in candidates:
        key = " ".join(candidate.lower().split())
        if looks_right(candidate) and key not in seen:
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


def _looks_like_query(item: str) -> bool:
    return len(item.split()) >= 2


def _looks_like_question(line: str) -> bool:
    words = line.split()
    if len(words) < 3 or line.endswith(":"):
        return False
    return line.endswith("?") or words[0].lower().strip(",") in _INTERROGATIVES
