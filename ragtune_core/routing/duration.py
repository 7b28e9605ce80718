"""How long a router comparison will take, said before it starts (see timing.work).

A comparison loads its selectors (START), routes every query with each (routing_phase), then times
the selectors that run on this machine again, one query a call (LATENCY_TIMING), set after set. Each
is counted at the pace this machine runs its model (timing.pace): an embedder encodes the queries and
the tools' descriptions; a cross-encoder scores every (query, tool) pair, and the embedder its blend
mixes in encodes as well; a local LLM reads each query and every tool's call after the prompt's stem,
run once. A selector's call costs the time of a forward pass of a few tokens besides its tokens
(Pace.call_seconds): the latency timing is all such calls. An LLM behind an endpoint takes the
endpoint's time: a query at the pace its latest comparison took (endpoint_paces), else left out and
said to be (describe_comparison).
What a finished comparison took teaches each model's kept pace from that model's own phases
(learn_from_comparison), apart from every other kind of work's (Work.SELECTOR_COMPARISON).
"""

from __future__ import annotations

import json
from dataclasses import astuple
from pathlib import Path

from ..evaluation.blend import SCORES_ALONE, saved_blend, saved_first_stage
from ..evaluation.duration import ENCODER_LENGTH, PAIR_LENGTH, set_phase
from ..store.workspace import Workspace
from ..timing.pace import Component, Pace, Work, learn_pace, machine_pace, token_counter
from ..timing.work import Estimate, Timed
from .compare import (
    LATENCY_TIMING,
    ROUTING_CHUNK,
    START,
    TIMING_QUERIES,
    TIMING_ROUNDS,
    TIMING_WARM_UP,
    RouterTask,
    list_comparisons,
    load_router_task,
    model_of,
    routing_phase,
)
from .llm_selector import HOSTED, FinetunedLLM
from .local_llm_selector import CONTENT_FREE_QUERIES
from .selectors import Choice
from .specs import SelectorSpec
from .tool_calls import SYSTEM_PROMPT

REMOTE_KINDS = ("llm", "finetuned_llm")  # the kinds of selector an endpoint may run
TIMED_KINDS = ("embedding", "cross_encoder")  # the kinds whose latency a comparison times again (routing.compare)
LLM_LENGTH = 4096  # what a local LLM selector reads at most, its stem included
# A chat template's tokens around the query and before the tool's name, and around each tool (SmolLM2's: the
# stems of 16 and 28 tools hold 11 tokens besides these and the tools' names and descriptions)
CALL_TEMPLATE_TOKENS, TOOL_TEMPLATE_TOKENS = 20, 2
# Context tokens whose reading costs a tool call's token as much as its own forward pass: the calls of each query
# attend to the whole prompt, the tools' descriptions included, in a batch of one copy of it per tool. Measured
# with SmolLM2-135M on 2 cores: 16 tools (a 669-token context) routed a query in 1.6 s, 28 tools (1122) in 6.8 s;
# 142 and 123 context tokens a token's pass (the kept pace learns what another machine or model does).
ATTENDED_PER_TOKEN = 130


def estimate_comparison(
    sets: list[tuple[str, RouterTask]], specs: list[SelectorSpec], endpoint_paces: dict[str, float] | None = None
) -> Estimate:
    """Seconds to compare `specs` on each (name, task) of `sets`, in the order the phases run; with several
    sets, each phase is named after its set ("handwritten · routing with base"). An endpoint's LLM is counted
    at its `endpoint_paces` (seconds a query, by label), else left out."""
    here, paces = [spec for spec in specs if _runs_here(spec)], endpoint_paces or {}
    estimate = Estimate().add(START, _start_seconds(here), Component.START)
    for name, task in sets:
        for spec in specs:
            phase = comparison_phase(sets, name, routing_phase(spec.label))
            if spec in here:
                estimate.add(phase, *_routing_seconds(spec, task))
            elif spec.label in paces:  # the endpoint's pace teaches no model's
                estimate.add(phase, paces[spec.label] * len(task.queries))
        estimate.add(comparison_phase(sets, name, LATENCY_TIMING), _timing_seconds(here, task), Component.ENCODING)
    return estimate


def endpoint_paces(ws: Workspace, specs: list[SelectorSpec]) -> dict[str, float]:
    """Seconds a query each endpoint's LLM of `specs` took in the latest comparison that ran its model, by
    label; none for one sent through the Batch API (the provider's queue sets its time)."""
    asked = {spec.label: model_of(spec) for spec in specs if not _runs_here(spec) and not _batched(spec)}
    paces: dict[str, float] = {}
    for comparison in list_comparisons(ws) if asked else []:  # newest first
        for report in comparison.reports:
            for label, model in asked.items():
                if label not in paces and report.model == model and report.kind in REMOTE_KINDS:
                    paces[label] = report.mean_latency
    return paces


def comparison_sets(ws: Workspace, sets: list[tuple[str, str]]) -> list[tuple[str, RouterTask]]:
    """(dataset name, its part's RouterTask) of each (dataset id, part): the sets estimate_comparison takes."""
    return [(ws.get_dataset(dataset_id).name, load_router_task(ws, dataset_id, part)) for dataset_id, part in sets]


def comparison_phase(sets: list, name: str, phase: str) -> str:
    """A phase as an estimate over `sets` names it: after its set when there are several."""
    return set_phase(name, phase) if len(sets) > 1 else phase


def describe_comparison(estimate: Estimate, specs: list[SelectorSpec], sets: list | None = None) -> str:
    """The estimate in words, each phase summed over `sets` (those estimate_comparison was given), naming the
    selectors it leaves out: "about 20 s (start 9 s, ...), plus the requests of LLM x (the endpoint's time,
    not measured here)"."""
    sets = sets or []
    phases = [LATENCY_TIMING, *(routing_phase(spec.label) for spec in specs)]
    unnamed = {comparison_phase(sets, name, phase): phase for name, _ in sets for phase in phases}
    summed = Estimate()
    for phase, seconds in estimate.phases.items():
        summed.add(unnamed.get(phase, phase), seconds)
    left_out = ", ".join(spec.label for spec in specs if routing_phase(spec.label) not in summed.phases)
    if not left_out:
        return summed.describe()
    requests = f"the requests of {left_out} (the endpoint's time, not measured here)"
    return f"{summed.describe()}, plus {requests}" if estimate.seconds else requests


def _batched(spec: SelectorSpec) -> bool:
    return bool(spec.llm and spec.llm.get("batch"))


def _runs_here(spec: SelectorSpec) -> bool:
    if spec.kind == "llm":
        return False
    return spec.kind != "finetuned_llm" or FinetunedLLM.load(spec.path).where != HOSTED


def _models(spec: SelectorSpec) -> list[str | None]:
    """The models a selector loads, the one it routes by first."""
    if spec.kind == "cross_encoder":
        first_stage = _first_stage(spec.path)
        own = [spec.path] if saved_blend(spec.path).reranker_share else []
        return own + ([first_stage] if first_stage else [])
    if spec.kind in ("local_llm", "finetuned_llm"):
        return [_llm_base(spec)]
    return [spec.path]


def _start_seconds(here: list[SelectorSpec]) -> float:
    """A fresh process's start with the first model (importing the libraries too), and loading each other."""
    models = list(dict.fromkeys(model for spec in here for model in _models(spec)))
    if not models:  # nothing to load: an LLM endpoint's selectors only
        return 0.0
    paces = [_pace(model) for model in models]
    first = paces[0].start_seconds
    return first + sum(pace.load_seconds for pace in paces[1:])


def _routing_seconds(spec: SelectorSpec, task: RouterTask) -> tuple[float, Component]:
    if spec.kind in TIMED_KINDS:
        return _model_seconds(spec, task.queries, task.choices, ROUTING_CHUNK), _component(spec)
    return _llm_seconds(spec, task), Component.ENCODING


def _component(spec: SelectorSpec) -> Component:
    """What governs a selector's routing: a cross-encoder's scoring of pairs, unless its blend gives its score no
    share (it routes as its embedder then); every other's encoding."""
    scores = spec.kind == "cross_encoder" and saved_blend(spec.path).reranker_share
    return Component.SCORING if scores else Component.ENCODING


def _timing_seconds(here: list[SelectorSpec], task: RouterTask) -> float:
    """The latency timing: a warm-up call, then TIMING_ROUNDS single-query calls on each of the first
    TIMING_QUERIES queries, for every selector that routes by embedding or cross-encoder (routing.compare)."""
    sample = task.queries[:TIMING_QUERIES]
    seconds = 0.0
    for spec in (spec for spec in here if spec.kind in TIMED_KINDS):
        seconds += _model_seconds(spec, sample[:TIMING_WARM_UP], task.choices, TIMING_WARM_UP, cached=True)
        seconds += TIMING_ROUNDS * _model_seconds(spec, sample, task.choices, 1, cached=True)
    return seconds


def _model_seconds(
    spec: SelectorSpec, queries: list[str], choices: list[Choice], per_call: int, cached: bool = False
) -> float:
    """An embedding or cross-encoder selector routing `queries`, `per_call` a call, the tools' embeddings kept
    from an earlier call where `cached`."""
    if spec.kind == "embedding":
        return _encoding_seconds(spec.path, queries, choices, per_call, cached)
    return _cross_encoder_seconds(spec, queries, choices, per_call, cached)


def _encoding_seconds(
    model: str | None, queries: list[str], choices: list[Choice], per_call: int, cached: bool = False
) -> float:
    """An embedder encoding `queries`, `per_call` a call and each call's padded to its longest, and the tools'
    descriptions in a call of their own unless kept (`cached`)."""
    pace, count = _pace(model), token_counter(model, ENCODER_LENGTH)
    calls = _calls(count(queries), per_call) + ([] if cached else [count(c.description for c in choices)])
    return sum(pace.forward_seconds(len(call) * max(call)) + pace.call_seconds for call in calls)


def _calls(lengths: list[int], per_call: int) -> list[list[int]]:
    return [lengths[start : start + per_call] for start in range(0, len(lengths), per_call)]


def _cross_encoder_seconds(
    spec: SelectorSpec, queries: list[str], choices: list[Choice], per_call: int, cached: bool = False
) -> float:
    """Every (query, tool) pair scored, `per_call` queries' pairs a call, unless the blend gives the score
    no share; and the embedder the blend mixes in."""
    seconds = 0.0
    if saved_blend(spec.path).reranker_share:
        pace, count = _pace(spec.path), token_counter(spec.path, PAIR_LENGTH)
        tool_tokens = sum(count(c.description for c in choices))
        for call in _calls(count(queries), per_call):  # pairs sorted by length: little padding
            pair_tokens = sum(call) * len(choices) + tool_tokens * len(call) - len(call) * len(choices)
            seconds += pace.scoring_seconds(pair_tokens) + pace.call_seconds
    first_stage = _first_stage(spec.path)
    if first_stage:
        seconds += _encoding_seconds(first_stage, queries, choices, per_call, cached)
    return seconds


def _first_stage(cross_encoder: str) -> str | None:
    """The embedder a cross-encoder's blend mixes in, as its selector loads it (routing.CrossEncoderSelector)."""
    return saved_first_stage(cross_encoder) if saved_blend(cross_encoder) != SCORES_ALONE else None


def _llm_seconds(spec: SelectorSpec, task: RouterTask) -> float:
    """A local LLM reading the prompt's stem (its system prompt and the tools) once, then for each query and
    each content-free one (its calibration) the query, and every tool's call side by side, each padded to the
    longest tool name: a pass for the query, one for the calls, whose tokens also read the whole context
    before them (ATTENDED_PER_TOKEN) and give next-token scores (routing.local_llm_selector)."""
    model = _llm_base(spec)
    pace, count = _pace(model), token_counter(model, LLM_LENGTH)
    names, descriptions = count(c.name for c in task.choices), count(c.description for c in task.choices)
    stem = sum(count([SYSTEM_PROMPT])) + sum(names) + sum(descriptions) + TOOL_TEMPLATE_TOKENS * len(names) + 11
    calls = len(names) * (max(names) + 1)  # each call's tokens after what all share, padded to the longest
    queries = [tokens + CALL_TEMPLATE_TOKENS for tokens in count(task.queries)] + [CALL_TEMPLATE_TOKENS] * len(
        CONTENT_FREE_QUERIES
    )
    head = 1 + _head_share(model)
    tokens = stem + sum(query + calls * (head + (stem + query) / ATTENDED_PER_TOKEN) for query in queries)
    return pace.forward_seconds(tokens) + 2 * len(queries) * pace.call_seconds


def _head_share(model: str) -> float:
    """What a causal LM's output layer adds to each token's forward pass whose next-token scores it gives (the
    pace's probe runs the model without it): its weights over those of the layers, from the model's config."""
    config = Path(model) / "config.json"
    if not config.is_file():
        return 0.0
    shape = json.loads(config.read_text(encoding="utf-8"))
    hidden, inner = shape.get("hidden_size", 0), shape.get("intermediate_size", 0)
    layers = shape.get("num_hidden_layers", 0) * (4 * hidden * hidden + 3 * hidden * inner)
    return shape.get("vocab_size", 0) * hidden / layers if layers else 0.0


def _llm_base(spec: SelectorSpec) -> str:
    """The causal LM a local LLM selector runs: its base model's folder (a fine-tune's, with its adapter merged)."""
    from ..store.llm_models import resolve_base_model

    base = FinetunedLLM.load(spec.path).base_model if spec.kind == "finetuned_llm" else spec.path
    return resolve_base_model(base)


def learn_from_comparison(
    sets: list[tuple[str, RouterTask]], specs: list[SelectorSpec], phases: dict[str, Timed]
) -> None:
    """What each phase of a finished comparison on `sets` took (timing.Meter.timed_phases) teaches the kept
    pace of the model it ran (timing.pace.learn_pace): each selector's routing its own model's, the start the
    first model's, the latency timing the first embedder's or cross-encoder's (a local LLM's pace is another)."""
    here = [spec for spec in specs if _runs_here(spec)]
    if not here:
        return
    lessons: dict[str | None, dict[Component, Timed]] = {}

    def teach(model: str | None, component: Component, phase: str) -> None:
        if phase in phases:
            lessons.setdefault(model, {}).setdefault(component, Timed()).add(*astuple(phases[phase]))

    teach(_models(here[0])[0], Component.START, START)
    timed = [_models(spec)[0] for spec in here if spec.kind in TIMED_KINDS]
    for name, _ in sets:
        for spec in here:
            teach(_models(spec)[0], _component(spec), comparison_phase(sets, name, routing_phase(spec.label)))
        if timed:
            teach(timed[0], Component.ENCODING, comparison_phase(sets, name, LATENCY_TIMING))
    for model, timed in lessons.items():
        learn_pace(model, Work.SELECTOR_COMPARISON, timed)


def _pace(model: str | None) -> Pace:
    return machine_pace(model, Work.SELECTOR_COMPARISON)
