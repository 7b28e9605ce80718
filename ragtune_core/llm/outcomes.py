"""What an LLM request gives back: a Completion (text and usage) or a Failure, and a run's Usage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ..network import read_answer
from .retries import MalformedResponse
from .schemas import ChatAnswer, TokenUsage, ToolFunction


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


def parse_completion(
    index: int, response, attempts: int, seconds: float = 0.0, endpoint: str = "the endpoint"
) -> Completion:
    """The answer's text and usage; MalformedResponse naming `endpoint` and what is missing for a 200
    that is not a chat completion (a proxy's HTML page, no choices...: schemas.ChatAnswer)."""
    answer = read_answer(ChatAnswer, response, endpoint, MalformedResponse)
    message, usage = answer.choices[0].message, answer.usage or TokenUsage()
    return Completion(
        index=index,
        content=message.content or "",
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        attempts=attempts,
        seconds=seconds,
        tool_calls=[
            {"name": f.name, "arguments": f.arguments}
            for f in (call.function or ToolFunction() for call in message.tool_calls or [])
        ],
    )
