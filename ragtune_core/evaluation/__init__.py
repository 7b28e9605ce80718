"""Stage 4, evaluation: retrieval metrics with bootstrap intervals, reranking, Compare-page tables."""

from .metrics import METRIC_NAMES, TOP_K, bootstrap_ci
from .reranking import RERANK_TOP_K, rerank, rerank_and_save
from .retrieval import (
    CHART_METRICS,
    PARTS,
    ModelSpec,
    RetrievalReport,
    evaluate_models,
    evaluate_retrieval,
    latest_reports,
    unreadable_reports,
)
from .slices import SLICE_METRICS, PairedGain, metrics_by_slice, paired_gain, slice_table
from .tables import comparison_table, per_query_comparison, style_table

__all__ = [
    "METRIC_NAMES",
    "TOP_K",
    "bootstrap_ci",
    "CHART_METRICS",
    "ModelSpec",
    "RetrievalReport",
    "PARTS",
    "evaluate_retrieval",
    "evaluate_models",
    "latest_reports",
    "unreadable_reports",
    "RERANK_TOP_K",
    "rerank",
    "rerank_and_save",
    "comparison_table",
    "per_query_comparison",
    "style_table",
    "SLICE_METRICS",
    "PairedGain",
    "metrics_by_slice",
    "paired_gain",
    "slice_table",
]
