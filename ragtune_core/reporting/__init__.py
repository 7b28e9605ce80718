"""Showing results: every comparison kept over time (history), what it says in sentences (headline),
its charts and tables for people (figures, tables), and the self-contained HTML report (report)."""

from .headline import format_p, headline, recommendation
from .history import RETRIEVAL, ROUTER, ComparisonEntry, EntryState, find_entry, history, recorded_comparison, recording
from .scores import Delta, ModelScore, Scores, retrieval_scores, router_scores

__all__ = [
    "ComparisonEntry",
    "EntryState",
    "ROUTER",
    "RETRIEVAL",
    "history",
    "find_entry",
    "recorded_comparison",
    "recording",
    "Delta",
    "ModelScore",
    "Scores",
    "retrieval_scores",
    "router_scores",
    "format_p",
    "headline",
    "recommendation",
]
