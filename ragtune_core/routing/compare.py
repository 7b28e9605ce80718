"""Router comparison: several selectors routing the same labelled queries, side by side.

A `SelectorSpec` names a selector as plain data (what a job's parameters and the CLI carry);
`compare_selectors` runs every one on a router dataset's queries, skips an LLM that cannot be used
(no key, nothing configured) with its reason rather than failing the run, reports a selector whose
every selection failed (a bad key, an endpoint down) as failed with its first error rather than as
a match rate of 0, and saves the result
as one JSON file under the workspace's `router_evaluations/` folder, as evaluation.retrieval saves
retrieval reports, so the Compare page shows past comparisons without routing again. The tables
at the end shape a comparison (or one query routed live, for the Playground) for display.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .. import llm
from ..evaluation.metrics import bootstrap_ci
from ..evaluation.retrieval import check_part
from ..questions.qa_dataset import DatasetError, QADataset, load_dataset
from ..store.files import write_json
from ..store.shapes import FILE_SHAPE
from ..store.workspace import Workspace, load_saved_results, new_id, unreadable_results
from .llm_selector import LLMSelector
from .selectors import Choice, Selection, Selector
from .specs import RoutingError, SelectorSpec, load_selectors

log = logging.getLogger(__name__)
# How a comparison times the selectors that run on this machine (_time_in_steady_state).
TIMING_ROUNDS, TIMING_QUERIES, TIMING_WARM_UP = 3, 32, 2
ROUTING_CHUNK = 64  # queries a selector on this machine routes a call: its encoding batch, one progress report
# A comparison's phases, as it reports them and routing.duration estimates them: each selector routes, then
# the local ones are timed again.
START, LATENCY_TIMING = "start", "latency timing"

# on_phase(phase, done, total, message): how much of a phase is done (a timing.Meter takes it)
PhaseProgress = Callable[[str, float, float, str], None]


def routing_phase(label: str) -> str:
    return f"routing with {label}"


# --- evaluation -------------------------------------------------------------------------------
@dataclass
class SelectorReport:
    __pydantic_config__ = FILE_SHAPE  # as a saved comparison holds it

    name: str
    match_rate: float  # share of queries routed to the expected choice; failures count as misses
    match_rate_ci: tuple[float, float]  # bootstrap 95% interval
    mean_latency: float  # seconds per query
    failures: int  # queries with no selection
    picks: list[int | None]
    scores: list[list[float]]
    errors: list[str | None] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # seconds per query (none in older saved comparisons)
    kind: str = ""  # the spec's kind ("llm", "finetuned_llm"...); "" in older saved comparisons
    model: str = ""  # what it ran: an LLM's model name, a model folder or Hub id ("" for the bundled model)

    @property
    def all_failed(self) -> bool:
        """No query got a selection: the selector did not run, its 0.0 is no match rate."""
        return bool(self.picks) and self.failures == len(self.picks)

    @property
    def first_error(self) -> str | None:
        return next((error for error in self.errors if error), None)

    def to_dict(self) -> dict:
        return asdict(self)


def router_task(dataset: QADataset, part: str | None = None) -> tuple[list[str], list[Choice], list[int]]:
    """(queries, choices, expected indices) of a router dataset, optionally one split part.

    The choices come from `extra["tools"]` when present (with their names), else from the corpus.
    """
    subset = dataset.subset(part)
    tools = dataset.extra.get("tools") or [
        {"id": cid, "name": cid, "description": text} for cid, text in dataset.corpus.items()
    ]
    choices = [Choice(str(t["id"]), str(t.get("name") or t["id"]), str(t["description"])) for t in tools]
    position = {choice.id: i for i, choice in enumerate(choices)}
    queries, expected = [], []
    for qid, question in subset.queries.items():
        relevant = subset.relevant_docs.get(qid) or []
        if not relevant or relevant[0] not in position:
            raise DatasetError(f"query {qid!r} does not name one of the {len(choices)} tools as its answer")
        queries.append(question)
        expected.append(position[relevant[0]])
    return queries, choices, expected


def matches(picks: list[int | None], expected: list[int]) -> np.ndarray:
    if len(picks) != len(expected):
        raise ValueError(f"{len(picks)} selections for {len(expected)} expected choices")
    if not picks:
        raise ValueError("no selections to score")
    return np.array(
        [pick is not None and pick == want for pick, want in zip(picks, expected, strict=True)], dtype=float
    )


def evaluate_selector(
    selector: Selector,
    queries: list[str],
    choices: list[Choice],
    expected: list[int],
    n_resamples: int = 1000,
    on_progress: Callable[[int, int], None] | None = None,
) -> SelectorReport:
    """Run `selector` on every query and score its picks against the expected choice indices;
    `on_progress(queries routed, queries)` after each call."""
    if len(queries) != len(expected):
        raise ValueError(f"{len(queries)} queries but {len(expected)} expected choices")
    out_of_range = [e for e in expected if not 0 <= e < len(choices)]
    if out_of_range:
        raise ValueError(f"expected choice {out_of_range[0]} is not among the {len(choices)} choices")
    selections = _select_in_chunks(selector, queries, choices, on_progress or (lambda done, total: None))
    picks = [s.index for s in selections]
    hits = matches(picks, expected)
    return SelectorReport(
        name=selector.name,
        match_rate=float(hits.mean()),
        match_rate_ci=bootstrap_ci(hits, n_resamples=n_resamples),
        mean_latency=float(np.mean([s.latency for s in selections])),
        failures=sum(pick is None for pick in picks),
        picks=picks,
        scores=[s.scores for s in selections],
        errors=[s.error for s in selections],
        latencies=[s.latency for s in selections],
    )


def _select_in_chunks(
    selector: Selector, queries: list[str], choices: list[Choice], on_progress: Callable[[int, int], None]
) -> list[Selection]:
    """The selections of every query, ROUTING_CHUNK a call for a selector on this machine, so that its
    progress shows; an LLM endpoint's selector gets them all at once (sent concurrently, or as one batch)."""
    size = len(queries) if getattr(selector, "remote", False) else ROUTING_CHUNK
    selections: list[Selection] = []
    for start in range(0, len(queries), size):
        selections += selector.select(queries[start : start + size], choices)
        on_progress(len(selections), len(queries))
    return selections


def confusion_matrix(expected: list[int], picks: list[int | None], n_choices: int) -> np.ndarray:
    """Counts: row = expected choice, column = picked choice; the last column counts failures (none)."""
    if len(expected) != len(picks):
        raise ValueError(f"{len(picks)} picks for {len(expected)} expected choices")
    matrix = np.zeros((n_choices, n_choices + 1), dtype=int)
    for want, pick in zip(expected, picks, strict=True):
        if not 0 <= want < n_choices or (pick is not None and not 0 <= pick < n_choices):
            raise ValueError(f"choice index out of range 0..{n_choices - 1}: expected {want}, picked {pick}")
        matrix[want, n_choices if pick is None else pick] += 1
    return matrix


# --- comparisons ------------------------------------------------------------------------------
@dataclass
class RouterComparison:
    __pydantic_config__ = FILE_SHAPE  # how a saved comparison is checked

    comparison_id: str
    dataset_id: str
    part: str  # "val" | "train" | "all"
    created: float
    queries: list[str]
    query_ids: list[str]
    choices: list[Choice]
    expected: list[int]  # index in `choices` of each query's right tool
    reports: list[SelectorReport]  # the selectors that ran (partial failures count as misses)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (label, why it did not run)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (label, first error): every selection failed

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
        """A saved comparison; a selector that failed on every query in a file saved before such
        selectors were set apart is read as failed, not as a match rate of 0."""
        reports = [SelectorReport(**{**r, "match_rate_ci": tuple(r["match_rate_ci"])}) for r in data["reports"]]
        failed = [tuple(f) for f in data.get("failed", [])]
        failed += [(r.name, r.first_error or "no selection was made") for r in reports if r.all_failed]
        return cls(
            **{
                **data,
                "choices": [Choice(**c) for c in data["choices"]],
                "reports": [r for r in reports if not r.all_failed],
                "skipped": [tuple(s) for s in data["skipped"]],
                "failed": failed,
            }
        )


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
    dataset = load_dataset(ws, dataset_id)
    if dataset.kind != "router":
        raise RoutingError(
            f"dataset {record.name!r} is a {dataset.kind} dataset, not a router dataset: "
            "selectors are compared on router queries"
        )
    part = check_part(part)
    subset = None if part == "all" else part
    queries, choices, expected = router_task(dataset, subset)
    if not queries:
        raise DatasetError(f"the {part} part of dataset {record.name!r} has no queries")
    return RouterTask(dataset_id, part, list(dataset.subset(subset).queries), queries, choices, expected)


def compare_selectors(
    ws: Workspace, dataset_id: str, specs: list[SelectorSpec], part: str = "val", on_phase: PhaseProgress | None = None
) -> RouterComparison:
    """Route the dataset part's queries with every selector, save the comparison and return it; the
    progress of each phase (START, routing_phase, LATENCY_TIMING) goes to `on_phase`.

    A selector whose every selection failed goes to `failed` with its first error, not into
    `reports`: its 0.0 measures the endpoint, not the routing. When no selector ran, nothing is
    saved and RoutingError names each one's error.
    """
    on_phase = on_phase or (lambda phase, done, total, message: None)
    task = load_router_task(ws, dataset_id, part)
    selectors, skipped = load_selectors(specs)
    on_phase(START, 1, 1, f"loaded {len(selectors)} selector(s)")
    spec_of = {spec.label: spec for spec in specs}
    reports, failed = [], []
    for selector in selectors:
        report = evaluate_selector(
            selector, task.queries, task.choices, task.expected, on_progress=_routing_progress(on_phase, selector.name)
        )
        report.kind, report.model = spec_of[selector.name].kind, model_of(spec_of[selector.name])
        if report.all_failed:
            failed.append((report.name, report.first_error or "no selection was made"))
        else:
            reports.append(report)
    _time_in_steady_state(
        selectors,
        reports,
        task.queries,
        task.choices,
        lambda done, total: on_phase(LATENCY_TIMING, done, total, "timing each selector on this machine"),
    )
    if not reports:
        reasons = [f"{label} was skipped: {why}" for label, why in skipped]
        reasons += [f"{label} failed on every query: {error}" for label, error in failed]
        raise RoutingError("no selector routed any query: " + "; ".join(reasons))
    on_phase(
        LATENCY_TIMING,
        1,
        1,
        f"compared {len(selectors)} selector(s)" + (f", {len(failed)} failed" if failed else ""),
    )
    comparison = RouterComparison(
        new_id("route"),
        task.dataset_id,
        task.part,
        time.time(),
        task.queries,
        task.query_ids,
        task.choices,
        task.expected,
        reports,
        skipped,
        failed,
    )
    return save_comparison(ws, comparison)


def _routing_progress(on_phase: PhaseProgress, label: str) -> Callable[[int, int], None]:
    return lambda done, total: on_phase(routing_phase(label), done, total, f"{label}: {done}/{total} queries routed")


def _time_in_steady_state(
    selectors: list[Selector],
    reports: list[SelectorReport],
    queries: list[str],
    choices: list[Choice],
    on_progress: Callable[[int, int], None],
) -> None:
    """The latency of each selector that runs on this machine, measured again as an application meets it:
    one query per call, up to TIMING_QUERIES of them after a warm-up, each query's fastest of TIMING_ROUNDS
    rounds, the selectors taking turns. The routing pass times a whole batch at its own moment: that gives
    every query the same share (p50 = p95), and a load spike, or a first call, made one model look twice
    as slow as another of the same size."""
    report_of = {report.name: report for report in reports}
    local = [s for s in selectors if getattr(s, "local", False) and s.name in report_of]
    sample = queries[:TIMING_QUERIES]
    if not local or not sample:
        return
    for selector in local:
        selector.select(sample[:TIMING_WARM_UP], choices)  # warm-up: first calls set up threads and caches
    best = {selector.name: [float("inf")] * len(sample) for selector in local}
    for round_done in range(TIMING_ROUNDS):
        for turn, selector in enumerate(local):
            for i, query in enumerate(sample):
                start = time.perf_counter()
                selector.select([query], choices)
                best[selector.name][i] = min(best[selector.name][i], time.perf_counter() - start)
            on_progress(round_done * len(local) + turn + 1, TIMING_ROUNDS * len(local))
    for name, seconds in best.items():
        report_of[name].mean_latency, report_of[name].latencies = float(np.mean(seconds)), seconds


def llm_routing_estimates(ws: Workspace, sets: list[tuple[str, str]], specs: list[SelectorSpec]) -> list[str]:
    """Before a comparison: for each LLM selector, what routing every query of `sets` ((dataset id,
    part)) would use and cost at the workspace's prices, as a sentence."""
    tasks = [load_router_task(ws, dataset_id, part) for dataset_id, part in sets]
    estimates = []
    for spec in specs:
        if spec.kind == "llm":
            config = llm.with_prices(spec.llm_config(), ws)
            usage = llm.Usage()
            for task in tasks:
                asked = LLMSelector(config).expected_usage(task.queries, task.choices)
                usage.add(asked.prompt_tokens, asked.completion_tokens)
            estimates.append(f"{spec.label}: {llm.describe_cost(config, usage.prompt_tokens, usage.completion_tokens)}")
    return estimates


def model_of(spec: SelectorSpec) -> str:
    """What a selector runs, as its report records it (SelectorReport.model)."""
    return str(spec.llm.get("model") or "") if spec.llm else spec.path or ""


# --- saved comparisons ------------------------------------------------------------------------
def save_comparison(ws: Workspace, comparison: RouterComparison) -> RouterComparison:
    """Write router_evaluations/<comparison id>.json atomically."""
    write_json(ws.dir("router_evaluations") / f"{comparison.comparison_id}.json", comparison.to_dict())
    return comparison


def list_comparisons(ws: Workspace, dataset_id: str | None = None, part: str | None = None) -> list[RouterComparison]:
    """Saved comparisons, newest first; a file that cannot be read is skipped with a warning."""
    return load_saved_results(
        ws.dir("router_evaluations"),
        RouterComparison.from_dict,
        log,
        "router comparison",
        dataset_id,
        part,
        schema=RouterComparison,
    )


def unreadable_comparisons(ws: Workspace) -> list[str]:
    """The saved comparisons list_comparisons skips, each named with why."""
    return unreadable_results(
        ws.dir("router_evaluations"), RouterComparison.from_dict, "router comparison", RouterComparison
    )


def latest_comparison(ws: Workspace, dataset_id: str, part: str) -> RouterComparison | None:
    comparisons = list_comparisons(ws, dataset_id, part)
    return comparisons[0] if comparisons else None


# --- one query, for the Playground ------------------------------------------------------------
def route_query(query: str, choices: list[Choice], selectors: list[Selector]) -> list[tuple[str, Selection]]:
    """(selector name, its selection) for one query, in the selectors' order."""
    if not query.strip():
        raise RoutingError("the query is empty")
    return [(selector.name, selector.select([query], choices)[0]) for selector in selectors]
