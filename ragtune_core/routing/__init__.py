"""Routing: tools, router datasets, selectors, their comparison and the Playground's routed query."""

from .tools import (
    Tool,
    ToolTemplate,
    RouterError,
    VECTOR,
    SUMMARY,
    make_tools,
    tools_from_dicts,
    tools_to_dicts,
    dataset_tools,
)
from .datasets import (
    RouterRequest,
    RouterPrompts,
    generate_router_dataset,
    generate_router_for_corpus,
    select_documents,
)
from .selectors import Choice, Selection, Selector, EmbeddingSelector, CrossEncoderSelector
from .llm_selector import LLMSelector
from .specs import SelectorSpec, RoutingError, make_selector, availability
from .compare import (
    RouterComparison,
    SelectorReport,
    compare_selectors,
    evaluate_selector,
    load_router_task,
    latest_comparison,
    route_query,
    router_task,
)

__all__ = [
    "Tool",
    "ToolTemplate",
    "RouterError",
    "VECTOR",
    "SUMMARY",
    "make_tools",
    "tools_from_dicts",
    "tools_to_dicts",
    "dataset_tools",
    "RouterRequest",
    "RouterPrompts",
    "generate_router_dataset",
    "generate_router_for_corpus",
    "select_documents",
    "Choice",
    "Selection",
    "Selector",
    "EmbeddingSelector",
    "CrossEncoderSelector",
    "LLMSelector",
    "SelectorSpec",
    "RoutingError",
    "make_selector",
    "availability",
    "RouterComparison",
    "SelectorReport",
    "compare_selectors",
    "evaluate_selector",
    "load_router_task",
    "latest_comparison",
    "route_query",
    "router_task",
]
