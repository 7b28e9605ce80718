"""The question prompt and reading questions out of a model's answer."""

from __future__ import annotations

import json
import re

from .generators import GenerationError

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
