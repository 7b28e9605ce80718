"""Routing: selectors, their comparison and the Playground's routed query (the tools and router datasets
are made in questions/router/)."""

from .selectors import Choice, Selection, Selector, EmbeddingSelector, CrossEncoderSelector
from .llm_selector import LLMSelector, batch_states_in
from .specs import SelectorSpec, make_selector, availability, untuned_llm_spec
from .compare import (
    RouterComparison,
    SelectorReport,
    compare_selectors,
    evaluate_selector,
    load_router_task,
    latest_comparison,
    llm_routing_estimates,
    route_query,
    router_task,
    unreadable_comparisons,
)
from .stats import McNemar, TeacherAgreement, mcnemar, mcnemar_p, pairwise_mcnemar, agreement, teacher_agreement
from .tables import (counts_per_tool, confusion_frame, misrouted_table, route_table,
                     scores_frame)
from .playground import retrieve, extractive_summary, llm_summary, grounded_answer

__all__ = [
    "Choice",
    "Selection",
    "Selector",
    "EmbeddingSelector",
    "CrossEncoderSelector",
    "LLMSelector",
    "batch_states_in",
    "SelectorSpec",
    "make_selector",
    "untuned_llm_spec",
    "availability",
    "RouterComparison",
    "SelectorReport",
    "compare_selectors",
    "evaluate_selector",
    "load_router_task",
    "latest_comparison",
    "llm_routing_estimates",
    "unreadable_comparisons",
    "route_query",
    "router_task",
    "McNemar",
    "TeacherAgreement",
    "mcnemar",
    "mcnemar_p",
    "pairwise_mcnemar",
    "agreement",
    "teacher_agreement",
    "counts_per_tool",
    "confusion_frame",
    "misrouted_table",
    "route_table",
    "scores_frame",
    "retrieve",
    "extractive_summary",
    "llm_summary",
    "grounded_answer",
]
