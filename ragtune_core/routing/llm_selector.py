"""The LLM selector: an OpenAI-compatible chat model picks one numbered choice per query."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace

from .. import llm
from .selectors import Choice, Selection, check_choices

# llama-index's DEFAULT_SINGLE_SELECT_PROMPT_TMPL, followed by our structured-answer instruction.
SINGLE_SELECT_PROMPT = (
    "Some choices are given below. It is provided in a numbered list (1 to {num_choices}), "
    "where each item in the list corresponds to a summary.\n"
    "---------------------\n"
    "{context_list}"
    "\n---------------------\n"
    "Using only the choices above and not prior knowledge, return the choice that is most relevant "
    "to the question: '{query_str}'\n"
)
JSON_ANSWER_INSTRUCTION = (
    'Answer with a JSON object only: {{"choice": <the number of the choice, 1 to {num_choices}>, '
    '"reason": "<one sentence on why>"}}'
)
_JSON_OBJECT = re.compile(r"\{[^{}]*\}")
_NUMBER = re.compile(r"\b(\d+)\b")


class LLMSelector:
    """Ask a chat model to pick one numbered choice per query, at most `config.max_concurrency` at once.

    Requests go through `llm.complete_many` (429/5xx/timeout retries with backoff, honouring
    Retry-After), with the config's retries unless `max_retries` is given. The answer is requested as a JSON object; when
    the endpoint refuses JSON mode (HTTP 400), the selector asks again without it and parses the
    choice out of the text from then on.
    """

    def __init__(self, config: llm.LLMConfig, max_retries: int | None = None):
        self.config = config if max_retries is None else replace(config, max_retries=max_retries)
        self.name = f"LLM {config.model}"
        self.json_mode = True

    @staticmethod
    def availability(config: llm.LLMConfig | None) -> tuple[bool, str]:
        """(usable, reason) from the settings alone, without contacting the endpoint."""
        if config is None:
            return False, "no LLM is configured: set a base URL (or OpenAI), a model and, for OpenAI, an API key"
        try:
            llm.make_client(config)
        except llm.LLMConfigError as exc:
            return False, str(exc)
        return True, f"{config.model} at {config.base_url or llm.OPENAI_HOST}"

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        check_choices(choices)
        if not queries:
            return []
        start = time.perf_counter()
        prompts = [[{"role": "user", "content": render_select_prompt(q, choices)}] for q in queries]
        outcomes = self._complete(prompts)
        if self.json_mode and _refuses_json_mode(outcomes):
            self.json_mode = False
            outcomes = self._complete(prompts)
        latency = (time.perf_counter() - start) / len(queries)
        return [_selection_from_outcome(outcome, len(choices), latency) for outcome in outcomes]

    def _complete(self, prompts: list[list[dict]]) -> list[llm.Outcome]:
        options = {"response_format": {"type": "json_object"}} if self.json_mode else {}
        return llm.complete_many(self.config, prompts, **options)


def render_select_prompt(query: str, choices: list[Choice]) -> str:
    context_list = "\n\n".join(f"({i}) {choice.description}" for i, choice in enumerate(choices, start=1))
    prompt = SINGLE_SELECT_PROMPT.format(num_choices=len(choices), context_list=context_list, query_str=query)
    return prompt + JSON_ANSWER_INSTRUCTION.format(num_choices=len(choices))


def parse_choice(text: str, n_choices: int) -> tuple[int, str]:
    """(0-based index, reason) from an answer: JSON, a JSON object inside text, or a bare number.

    Raises ValueError("unparseable answer: ...") when no choice from 1 to n_choices can be read.
    """
    number, reason = _choice_number(text)
    if number is None:
        raise ValueError(f"unparseable answer: no choice number in {_excerpt(text)}")
    if not 1 <= number <= n_choices:
        raise ValueError(f"unparseable answer: choice {number} is not between 1 and {n_choices}")
    return number - 1, reason


def _choice_number(text: str) -> tuple[int | None, str]:
    for candidate in (text.strip(), *_JSON_OBJECT.findall(text)):
        try:
            answer = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(answer, list) and answer:  # llama-index's own format: a list of answers
            answer = answer[0]
        if isinstance(answer, dict) and "choice" in answer:
            return _as_int(answer["choice"]), str(answer.get("reason") or "")
        if isinstance(answer, int) and not isinstance(answer, bool):
            return answer, ""
    match = _NUMBER.search(text)
    return (int(match.group(1)), text.strip()) if match else (None, "")


def _as_int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _excerpt(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _refuses_json_mode(outcomes: list[llm.Outcome]) -> bool:
    """Every request was turned down as a bad request: the endpoint has no JSON mode."""
    return bool(outcomes) and all(isinstance(o, llm.Failure) and o.message.startswith("HTTP 400") for o in outcomes)


def _selection_from_outcome(outcome: llm.Outcome, n_choices: int, latency: float) -> Selection:
    if isinstance(outcome, llm.Failure):
        return Selection(index=None, scores=[], latency=latency, error=outcome.message)
    try:
        index, reason = parse_choice(outcome.content, n_choices)
    except ValueError as exc:
        return Selection(index=None, scores=[], latency=latency, error=str(exc))
    scores = [0.0] * n_choices
    scores[index] = 1.0
    return Selection(index=index, scores=scores, latency=latency, reason=reason)
