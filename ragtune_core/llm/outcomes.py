"""What an LLM request gives back: a Completion (text and usage) or a Failure, and a run's Usage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from openai.types.chat import ChatCompletion

from .retries import MalformedResponse


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, prompt_tokens: int, completion_tokens: int) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Completion:
    index: int  # position of the prompt in the list given to complete_many
    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    attempts: int = 1
    # The answer's function calls, as sent: [{"name": ..., "arguments": "<JSON text>"}] (tool calling).
    tool_calls: list[dict] = field(default_factory=list)
    seconds: float = 0.0  # how long the answered request took (its last attempt)


@dataclass
class Failure:
    index: int
    message: str
    attempts: int = 1


Outcome = Completion | Failure


def parse_completion(index: int, response, attempts: int, seconds: float = 0.0) -> Completion:
    """The answer's text and usage; MalformedResponse for a 200 that is not a chat completion (the SDK
    hands back a non-JSON body as text, and builds its models from JSON without validating them)."""
    if not isinstance(response, ChatCompletion):
        raise MalformedResponse(f"not a chat completion: {_excerpt(response)}")
    choices = response.choices
    if not isinstance(choices, list) or not choices:
        raise MalformedResponse("the completion has no choices")
    message = getattr(choices[0], "message", None)
    content = getattr(message, "content", None)
    if message is None or not isinstance(content, (str, type(None))):
        raise MalformedResponse("the completion's first choice has no message text")
    usage = response.usage
    return Completion(index=index, content=content or "",
                      prompt_tokens=_token_count(usage, "prompt_tokens"),
                      completion_tokens=_token_count(usage, "completion_tokens"),
                      attempts=attempts, tool_calls=_tool_calls(message), seconds=seconds)


def _tool_calls(message) -> list[dict]:
    """The message's function calls as {"name", "arguments"}; a call without a function is kept nameless."""
    calls = getattr(message, "tool_calls", None) or []
    functions = [getattr(call, "function", None) for call in calls]
    return [{"name": getattr(f, "name", None), "arguments": getattr(f, "arguments", None)} for f in functions]


def _token_count(usage, name: str) -> int:
    value = getattr(usage, name, 0) if usage is not None else 0
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _excerpt(value, limit: int = 80) -> str:
    text = " ".join(str(value).split())
    return repr(text if len(text) <= limit else text[:limit] + "...")
