import copy
import json

import pytest

from ragtune_core.llm.pricing import ModelPrice
from ragtune_core.store.models import load_tokenizer
from ragtune_core.training.llm.data import MISSING_TOOL_CALL, UNKNOWN_TOOL, build_chat_data, chat_example
from ragtune_core.training.llm.preflight import (
    LOCAL_TOKENS_PER_SECOND,
    auto_epochs,
    length_histogram,
    preview,
    run_preflight,
    token_counter,
    training_price_per_1m,
)
from tests.training.llm.helpers import router_dataset

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": f"tool_{i}",
            "description": f"Tool number {i}.",
            "parameters": {"type": "object", "properties": {}},
        },
    }
    for i in range(3)
]


def lines(n: int) -> list[dict]:
    return [chat_example(f"Question number {i} about things?", f"tool_{i % 3}", TOOLS) for i in range(n)]


def test_counts_are_refused_below_10_and_warned_below_50():
    assert run_preflight(lines(9)).errors == ["9 good training lines: at least 10 are needed"]
    few = run_preflight(lines(10), lines(2))
    assert few.ok and any("only 10 training lines" in w for w in few.warnings)
    enough = run_preflight(lines(50), lines(5))
    assert enough.ok and enough.warnings == []


def test_each_bad_line_is_named_with_its_kind():
    train = lines(12)
    train[3] = chat_example("q?", "tool_9", TOOLS)
    train[5] = copy.deepcopy(train[5])
    del train[5]["messages"][2]
    train[7] = "text"
    report = run_preflight(train)
    assert not report.ok
    assert {(p["line"], p["kind"]) for p in report.problems} == {
        (4, UNKNOWN_TOOL),
        (6, MISSING_TOOL_CALL),
        (8, "schema"),
    }
    assert report.problem_counts == {UNKNOWN_TOOL: 1, MISSING_TOOL_CALL: 1, "schema": 1}
    assert len(report.lengths) == 9  # only good lines are measured


def test_a_line_with_another_tool_set_is_a_problem():
    train = lines(12)
    train[4] = chat_example("q?", "tool_0", TOOLS[:1])
    assert [p["line"] for p in run_preflight(train).problems] == [5]


def test_tokens_epochs_cost_and_local_time():
    report = run_preflight(lines(60), model="gpt-4o-mini-2024-07-18", count_tokens=lambda line: 100)
    assert report.epochs == 3 and report.billed_tokens == 60 * 100 * 3
    assert report.cost_usd == pytest.approx(18_000 / 1e6 * 3.0)
    # A local run plans its own epochs: about 60 steps of 8 lines, 8 epochs of 60 lines.
    assert report.local_epochs == 8 and report.local_seconds == pytest.approx(48_000 / LOCAL_TOKENS_PER_SECOND)
    assert run_preflight(lines(60), epochs=2, count_tokens=lambda line: 100).local_epochs == 2
    priced = run_preflight(
        lines(60),
        model="my-model",
        count_tokens=lambda line: 100,
        prices={"my-": ModelPrice(0.0, 0.0, training_per_1m=10.0)},
        epochs=2,
    )
    assert priced.cost_usd == pytest.approx(12_000 / 1e6 * 10.0)
    assert run_preflight(lines(60), model="unknown").cost_usd is None


def test_truncation_at_the_maximum_length():
    train = lines(20)
    long_tools = [{**t, "function": {**t["function"], "description": "word " * 400}} for t in TOOLS]
    train[0] = chat_example("long?", "tool_0", long_tools)
    train[1] = chat_example("long too?", "tool_1", long_tools)
    report = run_preflight(train, max_length=200)
    assert report.truncated == 2 and any("2 line(s) are longer than 200" in w for w in report.warnings)


def test_auto_epochs_and_prices():
    assert auto_epochs(10) == 10 and auto_epochs(100) == 3 and auto_epochs(20_000) == 1
    assert training_price_per_1m("gpt-4.1-mini-2025-04-14") == 5.0
    assert training_price_per_1m("gpt-4.1-2025-04-14") == 25.0


def test_histogram_covers_every_line():
    bins = length_histogram([10, 11, 25, 40, 40])
    assert sum(n for _, _, n in bins) == 5 and bins[0][0] == 10 and bins[-1][1] >= 40


def test_generic_preview_marks_the_tool_call():
    example = build_chat_data(router_dataset()).train[0]
    shown = preview(example)
    assert not shown.exact and shown.prompt.endswith("<|im_start|>assistant\n")
    assert example["messages"][1]["content"] in shown.prompt and "# Tools" in shown.prompt
    assert example["messages"][2]["tool_calls"][0]["function"]["name"] in shown.trained
    assert example["messages"][1]["content"] not in shown.trained


def test_preview_with_a_template_uses_its_generation_mask():
    tokenizer = copy.copy(load_tokenizer(None))
    tokenizer.chat_template = (
        "{% for m in messages %}{% if m.role == 'assistant' %}[route] {% generation %}"
        "{{ m.tool_calls[0].function.name }}{% endgeneration %}{% else %}[{{ m.role }}] {{ m.content }} "
        "{% endif %}{% endfor %}"
    )
    example = chat_example("Where is the tax office?", "tool_2", TOOLS)
    shown = preview(example, tokenizer)
    assert shown.exact and "tax office" in shown.prompt and "tax office" not in shown.trained
    assert shown.trained.replace(" ", "") == "tool_2"
    assert shown.n_tokens == token_counter(tokenizer)(example)


def test_renamed_copies_pass_the_check_and_a_line_with_other_tools_does_not():
    from ragtune_core.training.llm.preflight import check_lines
    from tests.training.llm.test_data import city_router

    data = build_chat_data(city_router(), seed=1)
    assert len({json.dumps(line["tools"]) for line in data.train}) == 3 and check_lines(data.train, data.val) == []
    stray = chat_example(
        "q?",
        "a",
        [{"type": "function", "function": {"name": "a", "description": "", "parameters": {"type": "object"}}}],
    )
    [problem] = check_lines(data.train + [stray])
    assert problem["line"] == len(data.train) + 1 and "offers 1 tools, not the 6 most lines offer" in problem["message"]
    [first] = check_lines([stray] + data.train)  # judged against the common set, not the first line's
    assert first["line"] == 1 and "offers 1 tools" in first["message"]
