"""One kept comparison, loaded with all that is shown of it (the Compare page and the report read
the same): its scores against the base, the queries' text, its slices; and a dataset's scores
across its comparisons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from ..evaluation.blend import saved_blend
from ..evaluation.retrieval import RetrievalReport
from ..questions.qa_dataset import QADataset, load_dataset
from ..routing.compare import RouterComparison
from ..store.models import CROSS_ENCODER
from ..store.workspace import Workspace
from .headline import recommendation
from .history import PART_NAMES, ROUTER, ComparisonEntry, history, retrieval_reports, router_comparison
from .scores import Scores, retrieval_scores, router_scores
from .tables import retrieval_slices, router_slices


@dataclass
class ComparisonView:
    entry: ComparisonEntry
    dataset_name: str
    scores: Scores | None = None  # None: the comparison saved no result (cancelled or failed first)
    router: RouterComparison | None = None
    reports: list[RetrievalReport] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # query id -> the query
    slices: dict[str, dict[str, str]] = field(default_factory=dict)  # slice kind -> {query id: slice}
    documents: tuple[int, int] = (0, 0)  # documents the queries ask about, of the dataset's
    routes_as_embedder: list[str] = field(default_factory=list)  # cross-encoders whose own score has no share

    @property
    def measured_on(self) -> str:
        """What the scores rest on, said before them: "On 45 queries of the test split (held out), about 2
        of the dataset's 8 documents." A few queries, or a few documents, make a wide interval."""
        asked, documents = self.documents
        about = f", about {asked} of the dataset's {documents} documents" if 0 < asked < documents else ""
        n, part = len(self.texts), self.entry.part
        where = f"all {n} queries" if part == "all" else f"{n} queries of the {PART_NAMES.get(part, part)}"
        return f"On {where}{about}."

    @property
    def recommendation(self) -> str | None:
        """Which model to keep; None for a comparison that did not complete (it may lack the best one)."""
        return recommendation(self.scores) if self.scores and self.entry.complete else None


def load_view(ws: Workspace, entry: ComparisonEntry, dataset: QADataset | None = None) -> ComparisonView:
    """The comparison `entry` with its results; `dataset` when the caller has it loaded already."""
    dataset = dataset or load_dataset(ws, entry.dataset_id)
    view = ComparisonView(entry, ws.get_dataset(entry.dataset_id).name)
    if entry.kind == ROUTER:
        view.router = router_comparison(ws, entry)
        if view.router is not None and view.router.reports:
            view.scores = router_scores(view.router, selector_costs(ws, view.router))
            view.texts = dict(zip(view.router.query_ids, view.router.queries, strict=True))
            view.slices = router_slices(view.router, dataset)
            view.routes_as_embedder = [
                report.name
                for report in view.router.reports
                if report.kind == CROSS_ENCODER and report.model and not saved_blend(report.model).reranker_share
            ]
    else:
        view.reports = retrieval_reports(ws, entry)
        if view.reports:
            view.scores = retrieval_scores(view.reports)
            view.texts = {q.query_id: q.question for r in view.reports for q in r.per_query}
            view.slices = retrieval_slices(dataset, list(view.texts))
    view.documents = (len(_documents_of(dataset, view.texts)), len(_documents_of(dataset, dataset.queries)))
    return view


def _documents_of(dataset: QADataset, query_ids) -> set[str]:
    """The documents whose passages (or tools) are right for these queries."""
    return {dataset.passage_docs.get(p, p) for q in query_ids for p in dataset.relevant_docs.get(q, [])}


def selector_costs(ws: Workspace, comparison: RouterComparison) -> dict[str, float | None]:
    """USD per 1,000 queries of each hosted fine-tuned LLM selector (the others' cost is not known), at the
    workspace's prices; none known while its llm_prices.json is damaged (the page's cost table names it)."""
    from ..llm.pricing import PriceError, price_table
    from .serving import finetuned_llms, llm_selector_rows

    try:
        prices = price_table(ws)
    except PriceError:
        return {}
    rows = llm_selector_rows(comparison, finetuned_llms(ws), prices)
    return {row["selector"]: row["usd_per_1000"] for row in rows}


def score_trend(ws: Workspace, dataset_id: str, part: str, kind: str) -> pd.DataFrame:
    """Each model's score in every complete comparison of the dataset part, oldest first: columns
    comparison ("#2 · 2025-05-02 14:03"), model, value, ci_low, ci_high."""
    rows, dataset = [], load_dataset(ws, dataset_id)
    complete = [e for e in reversed(history(ws, dataset_id, part, kind)) if e.complete]  # cancelled ones are no point
    for number, entry in enumerate(complete, start=1):
        view = load_view(ws, entry, dataset)
        label = f"#{number} · {datetime.fromtimestamp(entry.created):%Y-%m-%d %H:%M}"
        for model in view.scores.models if view.scores else []:
            rows.append(
                {
                    "comparison": label,
                    "model": model.name,
                    "value": model.value,
                    "ci_low": model.ci_low,
                    "ci_high": model.ci_high,
                }
            )
    return pd.DataFrame(rows, columns=["comparison", "model", "value", "ci_low", "ci_high"])
