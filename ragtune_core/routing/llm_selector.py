"""The LLM selector: an OpenAI-compatible chat model picks one choice per query.

Two modes: a numbered list answered in JSON (llama-index's single-select prompt), or function
calling (`tool_calling=True`): each choice is a function the model must call (`tool_choice=
"required"`), as a teacher labelling fine-tuning data or a fine-tuned model answers. A call that
cannot be a selection (no call, plain text, an unknown tool, several calls) is an invalid output:
a miss whose kind the error names (`invalid_output_kind`).

A fine-tuned LLM is stored as a workspace folder with `llm_model.json` (`FinetunedLLM`): the hosted
model id or the local weights beside it, the tools it learned (and their hash) and its system
prompt. `FinetunedLLMSelector` refuses choices that are not the tools it learned.

With `config.batch` the queries go through the provider's Batch API, its state in the folder
`batch_states_in` names (a comparison job names the workspace's cache): a comparison stopped while
its batch is out finds the batch again when started over, and pays for no query twice.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .. import llm
from ..errors import RagtuneError
from ..store.files import read_json, write_json
from ..store.shapes import FILE_SHAPE, parse
from .selectors import Choice, Selection, Selector, check_choices
from .tool_calls import function_tools, tools_hash

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
# Completion tokens per query, for estimates: a choice with its one-sentence reason, or one tool call.
JSON_ANSWER_TOKENS, TOOL_CALL_TOKENS = 40, 20
_JSON_OBJECT = re.compile(r"\{[^{}]*\}")
_NUMBER = re.compile(r"\b(\d+)\b")
# The workspace folder (under its root) where comparisons keep their LLM selectors' batch states.
BATCH_STATES = ("cache", "llm_routing")
# Where LLM selectors in batch mode keep their batches' state (batch_states_in); None: nowhere, refused.
_batch_folder: ContextVar[Path | None] = ContextVar("llm_selector_batch_folder", default=None)


@contextmanager
def batch_states_in(folder: Path) -> Iterator[None]:
    """LLM selectors in batch mode keep their batches' state files in `folder` within this block."""
    token = _batch_folder.set(Path(folder))
    try:
        yield
    finally:
        _batch_folder.reset(token)


class LLMSelector:
    """Ask a chat model to pick one numbered choice per query, at most `config.max_concurrency` at once.

    Requests go through `llm.complete_many` (429/5xx/timeout retries with backoff, honouring
    Retry-After), with the config's retries unless `max_retries` is given. The answer is requested as a
    JSON object; when the endpoint refuses JSON mode (HTTP 400), the selector asks again without it and parses the
    choice out of the text from then on.
    """

    remote = True  # its queries go to an endpoint all at once (routing.compare routes local ones in chunks)

    def __init__(
        self,
        config: llm.LLMConfig,
        max_retries: int | None = None,
        tool_calling: bool = False,
        system_prompt: str | None = None,
    ):
        self.config = config if max_retries is None else replace(config, max_retries=max_retries)
        self.name = f"LLM {config.model}"
        self.json_mode = not tool_calling
        self.tool_calling = tool_calling
        self.system_prompt = system_prompt  # tool calling only: sent first, as in the fine-tuning data

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

    def expected_usage(self, queries: list[str], choices: list[Choice]) -> llm.Usage:
        """The tokens routing `queries` would use, before it runs (prompts estimated from their text)."""
        if self.tool_calling:
            fixed = [self.system_prompt or "", json.dumps(function_tools(choices))]
            prompts, answer = [[*fixed, query] for query in queries], TOOL_CALL_TOKENS
        else:
            prompts, answer = [[render_select_prompt(query, choices)] for query in queries], JSON_ANSWER_TOKENS
        return llm.Usage(sum(llm.estimate_tokens(prompt) for prompt in prompts), answer * len(queries))

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        check_choices(choices)
        if not queries:
            return []
        if self.tool_calling:
            return self._select_by_tool_call(queries, choices)
        start = time.perf_counter()
        prompts = [[{"role": "user", "content": render_select_prompt(q, choices)}] for q in queries]
        outcomes = self._complete(prompts)
        if self.json_mode and _refuses_json_mode(outcomes):
            self.json_mode = False
            outcomes = self._complete(prompts)
        latency = (time.perf_counter() - start) / len(queries)
        return [_selection_from_outcome(outcome, len(choices), latency) for outcome in outcomes]

    def _complete(self, prompts: list[list[dict]], **options) -> list[llm.Outcome]:
        """Online (complete_many), or with `config.batch` through the Batch API; its state file is
        removed once every query has its outcome (they are the comparison's now)."""
        if self.json_mode:
            options["response_format"] = {"type": "json_object"}
        if not self.config.batch:
            return llm.complete_many(self.config, prompts, **options)
        state = self._batch_state(prompts, options)
        outcomes = llm.complete_in_batch(self.config, prompts, state, **options)
        state.unlink(missing_ok=True)
        return outcomes

    def _batch_state(self, prompts: list[list[dict]], options: dict) -> Path:
        """The state file of a batch of these requests: the same selection started again finds it."""
        folder = _batch_folder.get()
        if folder is None:
            raise ValueError(f"{self.name}: the batch mode needs a folder for its state (routing.batch_states_in)")
        return folder / f"{llm.request_key(self.config, [m for p in prompts for m in p], options)}.json"

    def _select_by_tool_call(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        system = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        prompts = [[*system, {"role": "user", "content": query}] for query in queries]
        start = time.perf_counter()
        outcomes = self._complete(
            prompts, tools=function_tools(choices), tool_choice="required", parallel_tool_calls=False
        )
        spread = (time.perf_counter() - start) / len(queries)
        return [_selection_from_tool_call(outcome, choices, spread) for outcome in outcomes]


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


# --- function calling -------------------------------------------------------------------------
# The kinds of invalid output a tool-calling selector can get; each is a miss.
NO_CALL, PLAIN_TEXT, UNKNOWN_TOOL, SEVERAL_CALLS = "no tool call", "plain text", "unknown tool", "several tool calls"
INVALID_OUTPUT_KINDS = (NO_CALL, PLAIN_TEXT, UNKNOWN_TOOL, SEVERAL_CALLS)
_INVALID_OUTPUT = re.compile(r"^invalid output \(([a-z ]+)\)")


class InvalidOutput(RagtuneError):
    """A tool-calling answer that names no single known tool; `kind` is one of INVALID_OUTPUT_KINDS."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"invalid output ({kind}): {detail}")
        self.kind = kind


def parse_tool_call(tool_calls: list[dict], content: str, names: list[str]) -> int:
    """The index in `names` of the one tool called; InvalidOutput otherwise."""
    if len(tool_calls) > 1:
        called = ", ".join(repr(call.get("name")) for call in tool_calls)
        raise InvalidOutput(SEVERAL_CALLS, f"{len(tool_calls)} calls ({called})")
    if not tool_calls:
        if content.strip():
            raise InvalidOutput(PLAIN_TEXT, f"answered {_excerpt(content)} instead of calling a tool")
        raise InvalidOutput(NO_CALL, "the answer is empty")
    name = tool_calls[0].get("name")
    if name not in names:
        raise InvalidOutput(UNKNOWN_TOOL, f"called {name!r}, which is not one of the {len(names)} tools")
    return names.index(name)


def invalid_output_kind(error: str | None) -> str | None:
    """The kind of invalid output an error names, or None for another failure (or none)."""
    match = _INVALID_OUTPUT.match(error or "")
    return match.group(1) if match and match.group(1) in INVALID_OUTPUT_KINDS else None


def _selection_from_tool_call(outcome: llm.Outcome, choices: list[Choice], spread: float) -> Selection:
    if isinstance(outcome, llm.Failure):
        return Selection(index=None, scores=[], latency=spread, error=outcome.message)
    latency = outcome.seconds or spread
    try:
        index = parse_tool_call(outcome.tool_calls, outcome.content, [c.name for c in choices])
    except InvalidOutput as exc:
        return Selection(index=None, scores=[], latency=latency, error=str(exc))
    scores = [0.0] * len(choices)
    scores[index] = 1.0
    return Selection(index=index, scores=scores, latency=latency, reason=f"called {choices[index].name}")


# --- fine-tuned LLMs --------------------------------------------------------------------------
FINETUNED_LLM_FILE = "llm_model.json"
LOCAL, HOSTED = "local", "hosted"


class ToolSetError(RagtuneError):
    """A fine-tuned LLM asked to choose among tools other than those it learned."""


@dataclass
class FinetunedLLM:
    """What a fine-tuned LLM's folder records: how to call it and what it learned."""

    __pydantic_config__ = FILE_SHAPE  # how load checks llm_model.json

    where: str  # LOCAL (weights in the folder) or HOSTED (a model id at an OpenAI-compatible endpoint)
    base_model: str
    tools: list[dict]  # the function tools of its training data, in order
    system_prompt: str
    model_id: str | None = None  # hosted: the fine-tuned model's id ("ft:gpt-4o-mini:...")
    base_url: str | None = None  # hosted: the endpoint (None: OpenAI's API)
    provider: str = ""  # who trained it ("local", "openai"...)
    dataset_id: str | None = None
    metrics: dict = field(default_factory=dict)
    tools_hash: str = ""
    data_name: str | None = None  # the chat data it learned from (llm_data/<name>), teacher labels included

    def __post_init__(self) -> None:
        if self.where not in (LOCAL, HOSTED):
            raise ToolSetError(f"a fine-tuned LLM is {LOCAL} or {HOSTED}, not {self.where!r}")
        if self.where == HOSTED and not self.model_id:
            raise ToolSetError("a hosted fine-tuned LLM needs its model id")
        self.tools_hash = tools_hash(self.tools)

    def save(self, folder: Path) -> None:
        write_json(Path(folder) / FINETUNED_LLM_FILE, asdict(self))

    @classmethod
    def load(cls, folder: str | Path) -> FinetunedLLM:
        path = Path(folder) / FINETUNED_LLM_FILE
        data = read_json(path, "the fine-tuned LLM's description")
        where = f"{path.name} of {Path(folder).name}"
        model = parse(cls, data, where, ToolSetError)  # its tools_hash is the hash of its tools, made anew
        stored = data.get("tools_hash", "")
        if stored and stored != model.tools_hash:
            raise ToolSetError(f"{where} is damaged: its tools do not match their hash")
        return model

    def check_choices(self, choices: list[Choice]) -> None:
        """ToolSetError unless `choices` are exactly the tools this model learned."""
        if tools_hash(function_tools(choices)) == self.tools_hash:
            return
        learned = [tool["function"]["name"] for tool in self.tools]
        given = [choice.name for choice in choices]
        missing, extra = [n for n in learned if n not in given], [n for n in given if n not in learned]
        if missing or extra:
            detail = f"missing {', '.join(missing[:5]) or 'none'}; not learned {', '.join(extra[:5]) or 'none'}"
        else:
            detail = "same names, but other descriptions or another order"
        raise ToolSetError(
            f"this fine-tuned LLM learned another tool set ({len(learned)} tools, hash "
            f"{self.tools_hash}) than the dataset's ({len(given)} tools): {detail}. Route the "
            "dataset it was trained for, or fine-tune on this one"
        )

    def selector(self, folder: str | Path, api_key: str | None = None, batch: bool = False) -> Selector:
        """The selector that asks this model (stored in `folder`): by tool calling when hosted (`batch`:
        through the Batch API), by likelihood when local."""
        if self.where == HOSTED:
            config = llm.LLMConfig(
                base_url=self.base_url, model=self.model_id, api_key=api_key, temperature=0.0, batch=batch
            )
            return LLMSelector(config, tool_calling=True, system_prompt=self.system_prompt)
        from .local_llm_selector import LocalLLMSelector  # torch and transformers load only here

        return LocalLLMSelector(Path(folder))


class FinetunedLLMSelector:
    """A fine-tuned LLM as a selector: refuses a choice list other than the tools it learned."""

    def __init__(self, folder: str | Path, label: str | None = None, api_key: str | None = None, batch: bool = False):
        self.model = FinetunedLLM.load(folder)
        self.inner = self.model.selector(folder, api_key, batch)
        self.name = label or f"fine-tuned LLM {Path(folder).name}"
        self.remote = getattr(self.inner, "remote", False)

    def select(self, queries: list[str], choices: list[Choice]) -> list[Selection]:
        check_choices(choices)
        self.model.check_choices(choices)
        return self.inner.select(queries, choices)
