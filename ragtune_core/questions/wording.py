"""Ill-formed wording: what a reader would stop at in a generated question, found without a model.

Generated questions, offline ones especially, can fill a template with the wrong subject ("How many
global employees does United States have?"): a name that needs its article used bare, a name the
question's passage never mentions, a placeholder left in, a word written twice.
"""

from __future__ import annotations

import re

# Names used with "the": "the United States", "the Philippines", "the Czech Republic".
_ARTICLE_FIRST = {"United"}
_ARTICLE_LAST = {"States", "Kingdom", "Emirates", "Netherlands", "Philippines", "Islands", "Republic", "Bahamas"}
_NAME = re.compile(r"(?<![\w'’])([A-Z][\w'’.-]*(?:\s+(?:of\s+|de\s+)?[A-Z][\w'’.-]*)*)")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}|\[[A-Z_]+\]")
_DOUBLED = re.compile(r"\b(\w+)\s+\1\b", re.IGNORECASE)
# Capitalised words that are not names: question words and sentence starters.
_NOT_NAMES = {
    "How",
    "What",
    "When",
    "Where",
    "Which",
    "Who",
    "Whom",
    "Whose",
    "Why",
    "Is",
    "Are",
    "Was",
    "Were",
    "Do",
    "Does",
    "Did",
    "Can",
    "Could",
    "Should",
    "Would",
    "Will",
    "Has",
    "Have",
    "Had",
    "In",
    "On",
    "At",
    "The",
    "A",
    "An",
    "Tell",
    "Give",
    "List",
    "Name",
    "Describe",
    "Explain",
    "Summarize",
    "Summarise",
    "Sum",
    "Find",
    "Show",
    "I",
    "Of",
    "For",
    "From",
    "By",
    "To",
    "And",
    "Or",
    "If",
    "According",
}


def wording_problems(question: str, passage: str | None = None) -> list[str]:
    """What is wrong with the wording of `question`, one short phrase each; empty when nothing is.
    With `passage` (its right passage's text) a name the passage never mentions is one of them."""
    problems = []
    if len(question.split()) < 2:
        problems.append("one word is not a question")
    if _PLACEHOLDER.search(question):
        problems.append(f"a placeholder is left in ({_PLACEHOLDER.search(question).group(0)})")
    doubled = _DOUBLED.search(question)
    if doubled:
        problems.append(f"{doubled.group(1)!r} is written twice")
    for name in names_in(question):
        if _needs_article(name) and not re.search(rf"\bthe\s+{re.escape(name)}", question, re.IGNORECASE):
            problems.append(f"{name!r} without 'the'")
        elif passage is not None and name.casefold() not in passage.casefold():
            problems.append(f"its passage never mentions {name!r}")
    return problems


def names_in(question: str) -> list[str]:
    """The capitalised names in a question ("United States", "Mount Etna"), question words left out."""
    names = []
    for match in _NAME.finditer(question):
        words = match.group(1).split()
        while words and words[0] in _NOT_NAMES:
            words = words[1:]
        if words:
            names.append(" ".join(words).rstrip(".?!,"))
    return names


def _needs_article(name: str) -> bool:
    words = name.split()
    return words[0] in _ARTICLE_FIRST or words[-1] in _ARTICLE_LAST
