"""What a router dataset run asks: the editable prompts for an LLM (specific questions about a chunk,
variations of a summary request) and the offline generator's plain summary requests."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass

from ...store.shapes import FILE_SHAPE, parse
from ..generators import MAX_QUESTIONS_PER_CHUNK
from ..prompts import DEFAULT_QA_PROMPT, render_prompt
from .tools import RoutingError, check_placeholders

# Router questions are asked without their passage, among questions about other documents, so each
# must say which document it is about; the chunk reaches the LLM under a "Document: {title}" line.
DEFAULT_ROUTER_QA_PROMPT = DEFAULT_QA_PROMPT + (
    " The questions will be asked without the context, among questions about other documents: name the "
    "document given in the context's first line (its subject) in every question."
)

DEFAULT_SUMMARY_QUESTION = "Can you give me a summary of {title}?"
# {context_str}: the base summary question; the LLM answer is read with generation.parse_questions,
# which keeps only lines that read as questions, hence "end with a question mark".
DEFAULT_SUMMARY_PROMPT = (
    "Here is a request a user could make about a document:\n"
    "---------------------\n"
    "{context_str}\n"
    "---------------------\n"
    "Write {num_questions_per_chunk} different variations of this request. Each one must still ask for a "
    "holistic summary of everything about the document's subject, not for a specific fact or section, and "
    "must name that subject. Vary the wording, tone and length. Write one variation per line, each ending "
    "with a question mark, and nothing else."
)
# The offline generator's summary requests: as many as the most variations one may ask for.
SUMMARY_TEMPLATES = (
    "Summarize everything about {title}.",
    "Give me a holistic overview of {title}.",
    "What are the main things to know about {title}?",
    "Can you give me a summary of {title}?",
    "Provide a comprehensive summary of {title}.",
    "Tell me everything important about {title}.",
    "What is {title} all about, in a nutshell?",
    "Write a broad overview covering all aspects of {title}.",
    "I need a complete rundown of {title}: what should I know?",
    "Could you sum up the key points about {title}?",
    "Give me the big picture of {title}.",
    "What is the general overview of {title}, from start to finish?",
    "Describe {title} as a whole.",
    "Outline all of the essential information about {title}.",
    "Briefly summarize the whole of {title}.",
    "What would an overall summary of {title} say?",
    "Give a high-level summary of everything there is about {title}.",
    "Can you recap the most important facts about {title} in one overview?",
    "Explain {title} in summary form, covering every major topic.",
    "What would a complete summary of {title} include?",
)

# An LLM is asked for at most as many as per chunk; the offline generator has that many phrasings.
MAX_SUMMARY_VARIATIONS = min(MAX_QUESTIONS_PER_CHUNK, len(SUMMARY_TEMPLATES))


@dataclass
class RouterPrompts:
    """The editable prompts: `questions` for specific questions about a chunk (generation.py's
    format), `summary` for variations of `summary_question` (filled with the document's {title})."""

    __pydantic_config__ = FILE_SHAPE  # how from_dict checks them

    questions: str = DEFAULT_ROUTER_QA_PROMPT
    summary: str = DEFAULT_SUMMARY_PROMPT
    summary_question: str = DEFAULT_SUMMARY_QUESTION

    def __post_init__(self) -> None:
        for field_name in ("questions", "summary", "summary_question"):
            if not isinstance(getattr(self, field_name), str):
                raise RoutingError(f"prompts.{field_name} must be text")
        render_prompt(self.questions, "", 1)  # names a missing {context_str}
        if "{context_str}" not in self.summary:
            raise RoutingError("prompts.summary must contain {context_str}, where the base summary question goes")
        check_placeholders(self.summary_question, "prompts.summary_question")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None) -> RouterPrompts:
        """The prompts in plain data (a run's parameters); none, or an empty one, means the default."""
        data = data or {}
        if isinstance(data, dict):
            data = {key: value for key, value in data.items() if value}
        return parse(cls, data, "prompts", RoutingError)


def offline_summary_variations(title: str, n: int, seed: int = 0) -> list[str]:
    """`n` distinct summary requests about `title`, drawn from SUMMARY_TEMPLATES (deterministic per seed)."""
    if not 1 <= n <= MAX_SUMMARY_VARIATIONS:
        raise RoutingError(f"summary_variations must be between 1 and {MAX_SUMMARY_VARIATIONS}, not {n}")
    rng = random.Random(f"{seed}:{title}")
    return [template.format(title=title) for template in rng.sample(SUMMARY_TEMPLATES, n)]
