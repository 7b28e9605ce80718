"""Router datasets: the tools a RAG app routes between and the queries that ask for each of them."""

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
]
