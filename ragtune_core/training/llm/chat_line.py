"""The shape of a chat fine-tuning line (OpenAI's chat JSONL: `messages` + `tools`), as every provider
and the local trainer take it. Only what RAGTune reads is declared: a line's own keys are refused when
unknown (a typo would train on nothing), a message's or a tool's extra keys are the provider's business."""

from __future__ import annotations

import json
from typing import Annotated

import pydantic

from ...store.shapes import Text, expect

_OPEN = pydantic.ConfigDict(strict=True, extra="allow")


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


class ToolFunction(pydantic.BaseModel):
    model_config = _OPEN
    name: Text


class Tool(pydantic.BaseModel):
    """{type: function, function: {name, description, parameters}}."""

    model_config = _OPEN
    function: ToolFunction


class CalledFunction(pydantic.BaseModel):
    model_config = _OPEN
    name: str
    arguments: Annotated[str, expect(_is_json, 'a JSON string, such as "{}"')]


class ToolCall(pydantic.BaseModel):
    model_config = _OPEN
    function: CalledFunction


class Message(pydantic.BaseModel):
    model_config = _OPEN
    role: str
    content: str | None = None
    tool_calls: list[ToolCall] | None = None

    @property
    def has_text(self) -> bool:
        return bool(self.content and self.content.strip())


class ChatLine(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(strict=True, extra="forbid")
    messages: list[Message]
    tools: Annotated[list[Tool], expect(bool, "a non-empty list of {type: function, function: {name, ...}}")]
    parallel_tool_calls: bool | None = None
