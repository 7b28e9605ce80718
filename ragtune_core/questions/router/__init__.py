"""Router datasets: the tools a RAG app routes between and the queries that ask for each of them."""

from .datasets import (
    DEFAULT_QUESTIONS_PER_DOCUMENT,
    DEFAULT_SUMMARY_VARIATIONS,
    MAX_QUESTIONS_PER_DOCUMENT,
    generate_router_dataset,
)
from .prompts import (
    DEFAULT_ROUTER_QA_PROMPT,
    DEFAULT_SUMMARY_PROMPT,
    DEFAULT_SUMMARY_QUESTION,
    MAX_SUMMARY_VARIATIONS,
    RouterPrompts,
)
from .request import RouterRequest, estimate_router_run, generate_router_for_corpus, select_documents
from .tools import (
    SUMMARY,
    VECTOR,
    RoutingError,
    Tool,
    ToolTemplate,
    dataset_tools,
    make_tools,
    tools_from_dicts,
    tools_to_dicts,
)

__all__ = [
    "SUMMARY",
    "VECTOR",
    "RoutingError",
    "Tool",
    "ToolTemplate",
    "dataset_tools",
    "make_tools",
    "tools_from_dicts",
    "tools_to_dicts",
    "DEFAULT_ROUTER_QA_PROMPT",
    "DEFAULT_SUMMARY_PROMPT",
    "DEFAULT_SUMMARY_QUESTION",
    "MAX_SUMMARY_VARIATIONS",
    "RouterPrompts",
    "DEFAULT_QUESTIONS_PER_DOCUMENT",
    "DEFAULT_SUMMARY_VARIATIONS",
    "MAX_QUESTIONS_PER_DOCUMENT",
    "RouterRequest",
    "estimate_router_run",
    "generate_router_dataset",
    "generate_router_for_corpus",
    "select_documents",
]
