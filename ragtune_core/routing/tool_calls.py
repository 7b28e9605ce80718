"""A router's tools as an LLM sees them: OpenAI function tools, their fingerprint, and the system
prompt of a routing call. The LLM selectors (hosted and local) and the chat data a fine-tuned LLM
learns from share them, so a model is asked exactly as it was taught."""

from __future__ import annotations

import hashlib
import json

from .selectors import Choice

# Short on purpose: every token of it is trained on each line (docs/decisions.md, "local training pace").
SYSTEM_PROMPT = "Route the user's query: call the one tool that should answer it."


def function_tools(choices: list[Choice]) -> list[dict]:
    """The choices as OpenAI function tools without arguments, in their order."""
    return [
        {
            "type": "function",
            "function": {
                "name": c.name,
                "description": c.description,
                "parameters": {"type": "object", "properties": {}},
            },
        }
        for c in choices
    ]


def tools_hash(tools: list[dict]) -> str:
    """A short fingerprint of a tool list (names, descriptions, parameters and order)."""
    canonical = json.dumps(tools, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
