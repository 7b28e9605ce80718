"""Routing: selectors, their comparison and the Playground's routed query (the tools and router datasets
are made in questions/router/)."""

from .compare import (
    RouterComparison,
    SelectorReport,
    compare_selectors,
    evaluate_selector,
    latest_comparison,
    llm_routing_estimates,
    load_router_task,
    route_query,
    router_task,
    unreadable_comparisons,
)
from .llm_selector import LLMSelector, batch_states_in
from .playground import extractive_summary, grounded_answer, llm_summary, retrieve
from .selectors import Choice, CrossEncoderSelector, EmbeddingSelector, Selection, Selector
from .specs import SelectorSpec, availability, make_selector, untuned_llm_spec
from .stats import McNemar, TeacherAgreement, agreement, mcnemar, mcnemar_p, pairwise_mcnemar, teacher_agreement
from .tables import confusion_frame, counts_per_tool, misrouted_table, route_table, scores_frame

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
