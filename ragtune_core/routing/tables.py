"""Router data shaped for display: the curation table, queries per tool, a comparison's match
rates, confusion and misrouted queries, and one query routed live (the Playground)."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from ..questions.qa_dataset import TEST, TRAIN, VAL, QADataset
from ..questions.router.tools import Tool, dataset_tools
from .compare import RouterComparison, confusion_matrix
from .selectors import Choice, Selection

FAILED = "— failed"  # what a table shows for a query a selector could not route
NONE_COLUMN = "none"  # the confusion frame's column of failed selections


COUNT_COLUMNS = ["tool", "tool_id", "kind", "document", "queries"]


def counts_per_tool(dataset: QADataset, titles: dict[str, str] | None = None) -> pd.DataFrame:
    """Queries per tool, every tool listed (0 for a choice nothing is routed to); with a split,
    the counts of its parts too (train, val and test where it has one)."""
    per_tool: dict[str, list[str]] = defaultdict(list)
    for qid, pids in dataset.relevant_docs.items():
        per_tool[pids[0]].append(qid)
    parts = ([TRAIN, VAL] + [TEST] * (TEST in dataset.split.values())) if dataset.split else []
    rows = []
    for tool in dataset_tools(dataset):
        qids = per_tool.get(tool.id, [])
        row = {
            "tool": tool.name,
            "tool_id": tool.id,
            "kind": tool.kind,
            "document": _document_label(tool, titles),
            "queries": len(qids),
        }
        row.update({part: sum(dataset.split.get(q) == part for q in qids) for part in parts})
        rows.append(row)
    return pd.DataFrame(rows, columns=COUNT_COLUMNS + parts)


def _document_label(tool: Tool | None, titles: dict[str, str] | None) -> str:
    if tool is None or tool.document_id is None:
        return ""
    return (titles or {}).get(tool.document_id, tool.document_id)


# --- tables for the Compare page --------------------------------------------------------------
def confusion_frame(comparison: RouterComparison, label: str) -> pd.DataFrame:
    """Counts of one selector's picks: rows = right tool, columns = picked tool, then "none" (failed)."""
    names = [choice.name for choice in comparison.choices]
    matrix = confusion_matrix(comparison.expected, comparison.report(label).picks, len(names))
    return pd.DataFrame(
        matrix, index=pd.Index(names, name="expected"), columns=pd.Index([*names, NONE_COLUMN], name="picked")
    )


def misrouted_table(comparison: RouterComparison) -> pd.DataFrame:
    """The queries at least one selector routed wrong (or not at all), most often misrouted first:
    the right tool, then per selector its pick and the score of that pick."""
    names = [choice.name for choice in comparison.choices]
    table = pd.DataFrame({"query": comparison.queries, "right tool": [names[i] for i in comparison.expected]})
    misrouted = np.zeros(len(comparison.queries), dtype=int)
    for report in comparison.reports:
        table[f"pick · {report.name}"] = [FAILED if p is None else names[p] for p in report.picks]
        table[f"score · {report.name}"] = [_pick_score(p, s) for p, s in zip(report.picks, report.scores, strict=True)]
        misrouted += [pick != want for pick, want in zip(report.picks, comparison.expected, strict=True)]
    table["misrouted by"] = misrouted
    table = table[table["misrouted by"] > 0]
    return table.sort_values("misrouted by", ascending=False, kind="stable").reset_index(drop=True)


def _pick_score(pick: int | None, scores: list[float]) -> float | None:
    return None if pick is None else scores[pick]


def route_rows(routed: list[tuple[str, Selection]], choices: list[Choice]) -> list[dict]:
    """Per selector: its pick's name (FAILED when none), the pick's score, latency and reason or error."""
    return [
        {
            "selector": name,
            "pick": FAILED if s.index is None else choices[s.index].name,
            "score": _pick_score(s.index, s.scores),
            "latency_ms": s.latency * 1000,
            "reason": s.error or s.reason,
        }
        for name, s in routed
    ]


def route_table(routed: list[tuple[str, Selection]], choices: list[Choice]) -> pd.DataFrame:
    return pd.DataFrame(route_rows(routed, choices), columns=["selector", "pick", "score", "latency_ms", "reason"])


def scores_frame(routed: list[tuple[str, Selection]], choices: list[Choice]) -> pd.DataFrame:
    """Choice x selector scores for a chart; NaN where a selector made no selection."""
    columns = {name: s.scores if s.scores else [np.nan] * len(choices) for name, s in routed}
    return pd.DataFrame(columns, index=pd.Index([c.name for c in choices], name="tool"))
