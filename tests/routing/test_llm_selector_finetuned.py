"""The fine-tuned LLM selector: hosted models route by tool calling, invalid outputs are counted
by kind, a different tool set is refused, and Compare's latency and cost rows."""

import json

import pytest

from ragtune_core.jobs.comparison_tasks import start_comparison_job
from ragtune_core.llm.tokens import estimate_tokens
from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.reporting.serving import hosted_cost_per_1000, llm_selector_rows
from ragtune_core.routing.compare import compare_selectors, load_router_task, route_query
from ragtune_core.routing.llm_selector import (
    HOSTED,
    LOCAL,
    PLAIN_TEXT,
    SEVERAL_CALLS,
    UNKNOWN_TOOL,
    FinetunedLLM,
    FinetunedLLMSelector,
    ToolSetError,
    function_tools,
)
from ragtune_core.routing.selectors import Choice
from ragtune_core.routing.specs import SelectorSpec, availability, make_selector
from ragtune_core.training.llm.data import SYSTEM_PROMPT
from tests.fake_openai import FakeOpenAIServer
from tests.training.llm.helpers import MADE_UP, QUERIES, TWO_CALLS, router_dataset, teacher
from tests.training.llm.helpers import PLAIN_TEXT as PLAIN_QUERY


def fixed_tokens(model: FinetunedLLM) -> int:
    return estimate_tokens([model.system_prompt, json.dumps(model.tools)])


@pytest.fixture
def server():
    with FakeOpenAIServer(responder=teacher) as fake:
        yield fake


@pytest.fixture
def dataset_id(workspace) -> str:
    return save_dataset(workspace, "tools", router_dataset(), None, {}).id


def hosted_model(folder, server, choices, base_model="gpt-4o-mini-2024-07-18"):
    model = FinetunedLLM(
        HOSTED,
        base_model,
        function_tools(choices),
        SYSTEM_PROMPT,
        model_id="ft:gpt-4o-mini:x::1",
        base_url=server.base_url,
        provider="openai",
    )
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder)
    return folder


def test_hosted_fine_tuned_model_routes_by_tool_calls(workspace, dataset_id, server, tmp_path):
    task = load_router_task(workspace, dataset_id, "all")
    folder = hosted_model(tmp_path / "ft", server, task.choices)
    spec = SelectorSpec("fine-tuned LLM · ft", "finetuned_llm", str(folder))
    assert availability(spec)[0]
    comparison = compare_selectors(workspace, dataset_id, [spec], "all")
    report = comparison.report("fine-tuned LLM · ft")
    body = next(r.body for r in server.requests if r.path.endswith("/chat/completions"))
    assert body["model"] == "ft:gpt-4o-mini:x::1" and body["tool_choice"] == "required" and body["temperature"] == 0
    assert body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert report.failures == 3 and report.match_rate == pytest.approx((len(QUERIES) - 4) / len(QUERIES))
    assert len(report.latencies) == len(QUERIES) and all(t > 0 for t in report.latencies)
    [row] = llm_selector_rows(comparison, {"fine-tuned LLM · ft": FinetunedLLM.load(folder)})
    assert row["invalid_outputs"] == 3 and row[PLAIN_TEXT] == row[SEVERAL_CALLS] == row[UNKNOWN_TOOL] == 1
    assert row["p50_ms"] <= row["p95_ms"] and row["usd_per_1000"] > 0 and row["cpu_seconds_per_1000"] is None
    wrong = report.errors[comparison.queries.index(MADE_UP)]
    assert wrong.startswith("invalid output (unknown tool)")
    assert comparison.queries.index(PLAIN_QUERY) >= 0 and comparison.queries.index(TWO_CALLS) >= 0


def test_a_model_refuses_a_dataset_with_other_tools(workspace, dataset_id, server, tmp_path):
    task = load_router_task(workspace, dataset_id, "all")
    folder = hosted_model(tmp_path / "ft", server, task.choices[:-1])
    selector = FinetunedLLMSelector(folder, label="ft")
    with pytest.raises(
        ToolSetError,
        match=r"another tool set \(5 tools.*than the dataset's \(6 tools\).*not learned "
        r"summary_tool_tax",
    ):
        selector.select(["a query"], task.choices)
    spec = SelectorSpec("ft", "finetuned_llm", str(folder))
    with pytest.raises(ToolSetError, match="another tool set"):
        start_comparison_job(workspace, dataset_id, [spec], "val")
    reworded = [Choice(c.id, c.name, c.description + " More.") for c in task.choices]
    with pytest.raises(ToolSetError, match="same names, but other descriptions"):
        FinetunedLLMSelector(hosted_model(tmp_path / "ft2", server, task.choices), "ft2").select(["q"], reworded)
    assert server.chat_requests == 0


def test_playground_route_with_a_fine_tuned_model(workspace, dataset_id, server, tmp_path):
    task = load_router_task(workspace, dataset_id, "all")
    selector = make_selector(
        SelectorSpec("ft", "finetuned_llm", str(hosted_model(tmp_path / "ft", server, task.choices)))
    )
    [(name, selection)] = route_query("How many moons does Jupiter have?", task.choices, [selector])
    assert name == "ft" and selection.index is None and "several tool calls" in selection.error
    [(_, selection)] = route_query("When is the IRS deadline for filing taxes?", task.choices, [selector])
    assert task.choices[selection.index].name == "vector_tool_tax" and selection.scores[selection.index] == 1.0


def test_damaged_or_missing_descriptions_are_unavailable(tmp_path):
    usable, reason = availability(SelectorSpec("ft", "finetuned_llm", str(tmp_path)))
    assert not usable and "cannot be read" in reason
    (tmp_path / "llm_model.json").write_text(
        '{"where": "hosted", "base_model": "b", "tools": [], "system_prompt": "s"}'
    )
    usable, reason = availability(SelectorSpec("ft", "finetuned_llm", str(tmp_path)))
    assert not usable and "needs its model id" in reason


def test_local_models_cost_cpu_seconds_and_hosted_cost_has_a_price(tmp_path):
    tools = [{"type": "function", "function": {"name": "a", "description": "d", "parameters": {}}}]
    local = FinetunedLLM(LOCAL, "SmolLM2", tools, SYSTEM_PROMPT)
    assert local.tools_hash and local.model_id is None
    hosted = FinetunedLLM(HOSTED, "gpt-4.1-mini-2025-04-14", tools, SYSTEM_PROMPT, model_id="ft:x")
    assert hosted_cost_per_1000(["q" * 40], hosted) == pytest.approx(
        1000 * ((fixed_tokens(hosted) + 10) / 1000 * 0.0008 + 12 / 1000 * 0.0032)
    )
    assert hosted_cost_per_1000(["q"], FinetunedLLM(HOSTED, "llama", tools, "s", model_id="ft:y")) is None
