"""A router comparison's estimate (routing.duration): its phases as the comparison reports them, each from
the tokens and calls of its work at the machine's kept pace, and what it leaves out said in words."""

import pytest

from ragtune_core.routing.compare import (
    LATENCY_TIMING,
    START,
    TIMING_QUERIES,
    RouterTask,
    compare_selectors,
    routing_phase,
)
from ragtune_core.routing.duration import (
    comparison_phase,
    describe_comparison,
    endpoint_paces,
    estimate_comparison,
)
from ragtune_core.routing.selectors import Choice
from ragtune_core.routing.specs import SelectorSpec
from ragtune_core.timing.work import Meter, duration
from tests.fake_pace import MEASURED_PACE
from tests.routing.test_compare import BASE_SPEC, dataset_id, llm_server, llm_spec  # noqa: F401 (fixtures)

CHOICES = [Choice("a", "city_facts", "Facts about the city of Lisbon"), Choice("b", "summary", "A summary of Lisbon")]


def task(queries: int) -> RouterTask:
    texts = [f"what is the population of district number {i} of lisbon" for i in range(queries)]
    return RouterTask("d", "all", [f"q{i}" for i in range(queries)], texts, CHOICES, [0] * queries)


def test_an_embedding_selector_costs_its_tokens_and_its_calls(kept_pace):
    small, large = (estimate_comparison([("set", task(n))], [BASE_SPEC]) for n in (TIMING_QUERIES, 4 * TIMING_QUERIES))
    assert list(small.phases) == [START, routing_phase("base"), LATENCY_TIMING]
    assert small.phases[START] == MEASURED_PACE.start_seconds
    routing = [e.phases[routing_phase("base")] for e in (small, large)]
    # four times the queries: about four times the tokens, and two calls of 64 queries where one did
    assert 3.5 * routing[0] < routing[1] < 4.5 * routing[0]
    # the latency is timed on TIMING_QUERIES queries at most, one a call: the call's cost is most of it
    assert small.phases[LATENCY_TIMING] == pytest.approx(large.phases[LATENCY_TIMING])
    assert small.phases[LATENCY_TIMING] > 3 * TIMING_QUERIES * MEASURED_PACE.call_seconds


def test_an_endpoints_llm_is_left_out_and_named(kept_pace):
    llm = SelectorSpec("LLM fake-model", "llm", llm={"base_url": "http://127.0.0.1:9/v1", "model": "fake-model"})
    alone = estimate_comparison([("set", task(10))], [llm])
    assert alone.seconds == 0
    left_out = "the requests of LLM fake-model (the endpoint's time, not measured here)"
    assert describe_comparison(alone, [llm]) == left_out
    both = estimate_comparison([("set", task(10))], [BASE_SPEC, llm])
    assert routing_phase(llm.label) not in both.phases
    said = describe_comparison(both, [BASE_SPEC, llm])
    assert said.startswith("about ") and said.endswith(f", plus {left_out}")


def test_several_sets_name_their_phases_in_the_order_they_run(kept_pace):
    sets = [("router", task(20)), ("handwritten", task(40))]
    estimate = estimate_comparison(sets, [BASE_SPEC])
    assert list(estimate.phases) == [
        START,
        "router · routing with base",
        "router · latency timing",
        "handwritten · routing with base",
        "handwritten · latency timing",
    ]
    assert comparison_phase(sets, "handwritten", LATENCY_TIMING) == "handwritten · latency timing"
    said = describe_comparison(estimate, [BASE_SPEC], sets)  # each phase once, over both sets
    assert said.count("routing with base") == 1 and said.count("latency timing") == 1, said
    assert describe_comparison(estimate, [BASE_SPEC], sets).startswith(f"about {duration(estimate.seconds)} (")
    assert comparison_phase(sets[:1], "router", LATENCY_TIMING) == LATENCY_TIMING


def test_a_comparison_reports_the_phases_its_estimate_has_and_its_bar_only_moves_on(kept_pace, workspace, dataset_id):
    from ragtune_core.routing.compare import load_router_task

    estimate = estimate_comparison([("tools", load_router_task(workspace, dataset_id, "all"))], [BASE_SPEC])
    reported, bar = [], []
    meter = Meter(estimate, lambda done, total, message: bar.append(done / total))

    def on_phase(phase, done, total, message):
        reported.append(phase)
        meter(phase, done, total, message)

    compare_selectors(workspace, dataset_id, [BASE_SPEC], "all", on_phase=on_phase)
    assert list(dict.fromkeys(reported)) == list(estimate.phases)
    assert bar == sorted(bar) and bar[-1] == 1.0
    assert len(set(bar)) > 3  # routing and the latency timing move it, not just the end


def test_a_finished_comparison_teaches_each_model_its_own_pace(kept_pace, monkeypatch):
    from ragtune_core.routing import duration
    from ragtune_core.timing.pace import Work
    from ragtune_core.timing.work import Timed

    monkeypatch.setattr(duration, "_llm_base", lambda spec: "a local LLM")
    llm = SelectorSpec("untuned", "local_llm")
    sets = [("set", task(40))]
    taught = []
    monkeypatch.setattr(duration, "learn_pace", lambda model, work, timed: taught.append((model, work, timed)))
    phases = {START: Timed(10.0, 20.0), routing_phase("base"): Timed(1.0, 2.0), routing_phase("untuned"): Timed(30, 60)}
    duration.learn_from_comparison(sets, [llm, BASE_SPEC], {**phases, LATENCY_TIMING: Timed(4.0, 4.0)})
    assert taught == [  # the start loads the LLM first; the latency timing times the embedder alone
        ("a local LLM", Work.SELECTOR_COMPARISON, {"start": Timed(10.0, 20.0), "encoding": Timed(30.0, 60.0)}),
        (None, Work.SELECTOR_COMPARISON, {"encoding": Timed(5.0, 6.0)}),
    ]


def test_an_endpoints_llm_goes_at_the_pace_of_its_latest_comparison(kept_pace, workspace, dataset_id, llm_server):
    llm = llm_spec(llm_server)
    assert endpoint_paces(workspace, [BASE_SPEC, llm]) == {}  # never compared yet
    compared = compare_selectors(workspace, dataset_id, [llm], "all")
    per_query = compared.report(llm.label).mean_latency
    assert endpoint_paces(workspace, [BASE_SPEC, llm]) == {llm.label: per_query}
    sets = [("set", task(10))]
    estimate = estimate_comparison(sets, [BASE_SPEC, llm], endpoint_paces(workspace, [llm]))
    assert estimate.phases[routing_phase(llm.label)] == pytest.approx(10 * per_query)
    assert "plus the requests" not in describe_comparison(estimate, [BASE_SPEC, llm])
    # through the Batch API the provider's queue sets the time: no pace
    batched = SelectorSpec("batched", "llm", llm={**llm.llm, "batch": True})
    assert endpoint_paces(workspace, [batched]) == {}
