"""Router comparison: several selectors routing the same labelled queries, side by side.

A `SelectorSpec` names a selector as plain data (what a job's parameters and the CLI carry);
`compare_selectors` runs every one on a router dataset's queries, skips an LLM that cannot be used
(no key, nothing configured) with its reason rather than failing the run, and saves the result
as one JSON file under the workspace's `router_evaluations/` folder, as evaluation.py saves
retrieval reports, so the Compare page shows past comparisons without routing again. The tables
at the end shape a comparison (or one query routed live, for the Playground) for display.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pandas as pd

from . import jobs
from .evaluation import check_part
from .llm import LLMConfig
from .qa_dataset import DatasetError
from .selectors import (
    Choice, CrossEncoderSelector, EmbeddingSelector, LLMSelector, Selection, Selector, SelectorReport,
    confusion_matrix, evaluate_selector, router_task,
)
from .workspace import Workspace, load_saved_results, new_id, write_json

log = logging.getLogger(__name__)

SELECTOR_KINDS = ("embedding", "cross_encoder", "llm")
JOB_KIND = "compare_selectors"
FAILED = "— failed"  # what a table shows for a query a selector could not route
NONE_COLUMN = "none"  # the confusion frame's column of failed selections

Progress = Callable[[int, int, str], None]


class RoutingError(ValueError):
    """A comparison request that cannot run; the message names the selector, dataset or field."""


# --- selector specs ---------------------------------------------------------------------------
@dataclass
class SelectorSpec:
    label: str  # the name the selector's results are shown and stored under
    kind: str  # one of SELECTOR_KINDS
    path: str | None = None  # a model folder or Hub id; None for an embedding: the bundled base model
    llm: dict | None = None  # public LLMConfig settings; the key comes from the environment

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise RoutingError("a selector needs a label")
        where = f"selector {self.label!r}"
        if self.kind not in SELECTOR_KINDS:
            raise RoutingError(f"{where}: kind must be one of {', '.join(SELECTOR_KINDS)}, not {self.kind!r}")
        if self.path is not None and (not isinstance(self.path, str) or not self.path.strip()):
            raise RoutingError(f"{where}: path must be a model folder or Hub id")
        if self.kind == "cross_encoder" and self.path is None:
            raise RoutingError(f"{where}: a cross-encoder selector needs a trained cross-encoder "
                               "(a workspace model's folder or a Hub id)")
        if self.llm is not None and self.kind != "llm":
            raise RoutingError(f"{where}: LLM settings are only for an llm selector, not a {self.kind} one")
        try:
            self.llm_config()  # refuses a stored API key and unusable settings now, not in the worker
        except ValueError as exc:
            raise RoutingError(f"{where}: {exc}") from exc

    def llm_config(self) -> LLMConfig | None:
        return LLMConfig.from_public_dict(self.llm) if self.llm is not None else None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> SelectorSpec:
        if not isinstance(data, dict):
            raise RoutingError(f"a selector must be an object with label and kind, not {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        missing = sorted({"label", "kind"} - set(data))
        if unknown or missing:
            problem = f"unknown field(s) {', '.join(unknown)}" if unknown else f"missing {', '.join(missing)}"
            raise RoutingError(f"selector {data.get('label', '?')!r}: {problem}")
        return cls(**data)


def make_selector(spec: SelectorSpec) -> Selector:
    """The selector a spec names, named by its label; raises RoutingError for an unavailable LLM."""
    if spec.kind == "embedding":
        return EmbeddingSelector(spec.path, label=spec.label)
    if spec.kind == "cross_encoder":
        return CrossEncoderSelector(spec.path, label=spec.label)
    usable, reason = availability(spec)
    if not usable:
        raise RoutingError(f"selector {spec.label!r}: {reason}")
    selector = LLMSelector(spec.llm_config())
    selector.name = spec.label
    return selector


def availability(spec: SelectorSpec) -> tuple[bool, str]:
    """(usable, reason): local models always are; an LLM needs settings and, for OpenAI, a key."""
    if spec.kind != "llm":
        return True, "a local model"
    return LLMSelector.availability(spec.llm_config())


def check_specs(specs: list[SelectorSpec]) -> None:
    """At least one selector, each label used once (results are stored and shown by label)."""
    if not specs:
        raise RoutingError("choose at least one selector to compare")
    labels = [spec.label for spec in specs]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise RoutingError(f"selector label {repeated[0]!r} is used more than once: give each selector its own")


def load_selectors(specs: list[SelectorSpec]) -> tuple[list[Selector], list[tuple[str, str]]]:
    """(selectors that can run, [(label, reason)] of those skipped); every model is loaded here,
    so a name that does not load fails before any query is routed. Raises when none can run."""
    check_specs(specs)
    selectors, skipped = [], []
    for spec in specs:
        usable, reason = availability(spec)
        if usable:
            selectors.append(make_selector(spec))
        else:
            skipped.append((spec.label, reason))
    if not selectors:
        raise RoutingError("no selector can run: " + "; ".join(f"{label}: {why}" for label, why in skipped))
    return selectors, skipped


# --- comparisons ------------------------------------------------------------------------------
@dataclass
class RouterComparison:
    comparison_id: str
    dataset_id: str
    part: str  # "val" | "train" | "all"
    created: float
    queries: list[str]
    query_ids: list[str]
    choices: list[Choice]
    expected: list[int]  # index in `choices` of each query's right tool
    reports: list[SelectorReport]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (label, why it did not run)

    def report(self, label: str) -> SelectorReport:
        for report in self.reports:
            if report.name == label:
                return report
        ran = ", ".join(repr(r.name) for r in self.reports) or "none"
        raise RoutingError(f"no selector {label!r} in comparison {self.comparison_id} (it has {ran})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> RouterComparison:
        reports = [SelectorReport(**{**r, "match_rate_ci": tuple(r["match_rate_ci"])}) for r in data["reports"]]
        return cls(**{**data, "choices": [Choice(**c) for c in data["choices"]], "reports": reports,
                      "skipped": [tuple(s) for s in data["skipped"]]})


@dataclass
class RouterTask:
    dataset_id: str
    part: str
    query_ids: list[str]
    queries: list[str]
    choices: list[Choice]
    expected: list[int]


def load_router_task(ws: Workspace, dataset_id: str, part: str = "all") -> RouterTask:
    """A router dataset's tools as choices and one part's queries with their right tool."""
    record = ws.get_dataset(dataset_id)
    dataset = ws.load_dataset(dataset_id)
    if dataset.kind != "router":
        raise RoutingError(f"dataset {record.name!r} is a {dataset.kind} dataset, not a router dataset: "
                           "selectors are compared on router queries")
    part = check_part(part)
    subset = None if part == "all" else part
    queries, choices, expected = router_task(dataset, subset)
    if not queries:
        raise DatasetError(f"the {part} part of dataset {record.name!r} has no queries")
    return RouterTask(dataset_id, part, list(dataset.subset(subset).queries), queries, choices, expected)


def compare_selectors(ws: Workspace, dataset_id: str, specs: list[SelectorSpec], part: str = "val",
                      on_progress: Progress | None = None) -> RouterComparison:
    """Route the dataset part's queries with every selector, save the comparison and return it."""
    task = load_router_task(ws, dataset_id, part)
    selectors, skipped = load_selectors(specs)
    reports = []
    for done, selector in enumerate(selectors):
        if on_progress:
            on_progress(done, len(selectors), f"{selector.name}: routing {len(task.queries)} queries")
        reports.append(evaluate_selector(selector, task.queries, task.choices, task.expected))
    if on_progress:
        on_progress(len(selectors), len(selectors), f"compared {len(selectors)} selector(s)")
    comparison = RouterComparison(new_id("route"), task.dataset_id, task.part, time.time(), task.queries,
                                  task.query_ids, task.choices, task.expected, reports, skipped)
    return save_comparison(ws, comparison)


def start_comparison_job(ws: Workspace, dataset_id: str, specs: list[SelectorSpec], part: str = "val",
                         secret_env: dict[str, str] | None = None) -> jobs.JobStatus:
    """Start `compare_selectors` in a worker, after checking the request here, so that a bad one
    fails at once. `secret_env` hands an API key to the worker (see LLMConfig.secret_env)."""
    task = load_router_task(ws, dataset_id, part)
    check_specs(specs)
    params = {"dataset_id": dataset_id, "part": task.part, "selectors": [spec.to_dict() for spec in specs]}
    return jobs.start_job(ws, JOB_KIND, params, name=f"compare {len(specs)} selector(s)", dataset_id=dataset_id,
                          secret_env=secret_env)


def run_router_comparison_job(ctx, params: dict) -> dict:
    """Worker task "compare_selectors": params {dataset_id, part, selectors: [SelectorSpec dicts]}."""
    specs = [SelectorSpec.from_dict(data) for data in params["selectors"]]
    comparison = compare_selectors(ctx.workspace, params["dataset_id"], specs, params.get("part", "val"),
                                   on_progress=ctx.progress)
    for report in comparison.reports:
        ctx.emit("match_rate", selector=report.name, match_rate=report.match_rate, failures=report.failures)
    for label, reason in comparison.skipped:
        ctx.emit("skipped", selector=label, reason=reason)
    return {"comparison_id": comparison.comparison_id,
            "match_rates": {r.name: r.match_rate for r in comparison.reports},
            "skipped": [list(s) for s in comparison.skipped]}


# --- saved comparisons ------------------------------------------------------------------------
def save_comparison(ws: Workspace, comparison: RouterComparison) -> RouterComparison:
    """Write router_evaluations/<comparison id>.json atomically."""
    write_json(ws.dir("router_evaluations") / f"{comparison.comparison_id}.json", comparison.to_dict())
    return comparison


def list_comparisons(ws: Workspace, dataset_id: str | None = None, part: str | None = None) -> list[RouterComparison]:
    """Saved comparisons, newest first; a file that cannot be read is skipped with a warning."""
    return load_saved_results(ws.dir("router_evaluations"), RouterComparison.from_dict, log, "router comparison",
                              dataset_id, part)


def latest_comparison(ws: Workspace, dataset_id: str, part: str) -> RouterComparison | None:
    comparisons = list_comparisons(ws, dataset_id, part)
    return comparisons[0] if comparisons else None


# --- tables for the Compare page --------------------------------------------------------------
def match_rate_table(comparison: RouterComparison) -> pd.DataFrame:
    """One row per selector that ran: match rate with its bootstrap interval, latency and failures."""
    rows = [{"selector": r.name, "match_rate": r.match_rate, "ci_low": r.match_rate_ci[0],
             "ci_high": r.match_rate_ci[1], "mean_latency_ms": r.mean_latency * 1000, "failures": r.failures}
            for r in comparison.reports]
    return pd.DataFrame(rows, columns=["selector", "match_rate", "ci_low", "ci_high", "mean_latency_ms", "failures"])


def confusion_frame(comparison: RouterComparison, label: str) -> pd.DataFrame:
    """Counts of one selector's picks: rows = right tool, columns = picked tool, then "none" (failed)."""
    names = [choice.name for choice in comparison.choices]
    matrix = confusion_matrix(comparison.expected, comparison.report(label).picks, len(names))
    return pd.DataFrame(matrix, index=pd.Index(names, name="expected"),
                        columns=pd.Index([*names, NONE_COLUMN], name="picked"))


def misrouted_table(comparison: RouterComparison) -> pd.DataFrame:
    """The queries at least one selector routed wrong (or not at all), most often misrouted first:
    the right tool, then per selector its pick and the score of that pick."""
    names = [choice.name for choice in comparison.choices]
    table = pd.DataFrame({"query": comparison.queries, "right tool": [names[i] for i in comparison.expected]})
    misrouted = np.zeros(len(comparison.queries), dtype=int)
    for report in comparison.reports:
        table[f"pick · {report.name}"] = [FAILED if p is None else names[p] for p in report.picks]
        table[f"score · {report.name}"] = [_pick_score(p, s) for p, s in zip(report.picks, report.scores)]
        misrouted += [pick != want for pick, want in zip(report.picks, comparison.expected)]
    table["misrouted by"] = misrouted
    table = table[table["misrouted by"] > 0]
    return table.sort_values("misrouted by", ascending=False, kind="stable").reset_index(drop=True)


def _pick_score(pick: int | None, scores: list[float]) -> float | None:
    return None if pick is None else scores[pick]


# --- one query, for the Playground ------------------------------------------------------------
def route_query(query: str, choices: list[Choice], selectors: list[Selector]) -> list[tuple[str, Selection]]:
    """(selector name, its selection) for one query, in the selectors' order."""
    if not query.strip():
        raise RoutingError("the query is empty")
    return [(selector.name, selector.select([query], choices)[0]) for selector in selectors]


def route_rows(routed: list[tuple[str, Selection]], choices: list[Choice]) -> list[dict]:
    """Per selector: its pick's name (FAILED when none), the pick's score, latency and reason or error."""
    return [{"selector": name, "pick": FAILED if s.index is None else choices[s.index].name,
             "score": _pick_score(s.index, s.scores), "latency_ms": s.latency * 1000,
             "reason": s.error or s.reason} for name, s in routed]


def route_table(routed: list[tuple[str, Selection]], choices: list[Choice]) -> pd.DataFrame:
    return pd.DataFrame(route_rows(routed, choices), columns=["selector", "pick", "score", "latency_ms", "reason"])


def scores_frame(routed: list[tuple[str, Selection]], choices: list[Choice]) -> pd.DataFrame:
    """Choice x selector scores for a chart; NaN where a selector made no selection."""
    columns = {name: s.scores if s.scores else [np.nan] * len(choices) for name, s in routed}
    return pd.DataFrame(columns, index=pd.Index([c.name for c in choices], name="tool"))
