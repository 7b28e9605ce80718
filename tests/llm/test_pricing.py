"""The price table: defaults, the workspace's own prices, batch prices, costs per run and per 1,000 queries."""

import json

import pytest

from ragtune_core import llm
from ragtune_core.llm import LLMConfig, ModelPrice, PriceError, Usage


def test_known_models_have_online_and_batch_prices_and_others_none():
    mini = LLMConfig(None, "gpt-4o-mini-2024-07-18")
    assert llm.prices_per_1k(mini) == (0.00015, 0.0006)  # the longest matching name, not gpt-4o
    assert llm.prices_per_1k(LLMConfig(None, "gpt-4o-mini", batch=True)) == (0.000075, 0.0003)
    assert llm.estimate_cost(LLMConfig("http://localhost:11434/v1", "llama3"), 1000, 1000) is None


def test_the_workspace_prices_win_and_a_run_keeps_the_prices_it_started_with(workspace):
    llm.save_price(workspace, "llama3", ModelPrice(0.001, 0.002))
    llm.save_price(workspace, "gpt-4o-mini", ModelPrice(0.1, 0.2, 0.05, 0.1))
    assert json.loads((workspace.root / llm.PRICES_FILE).read_text())["llama3"] == {"input": 0.001, "output": 0.002}
    local = llm.with_prices(LLMConfig("http://localhost:11434/v1", "llama3"), workspace)
    assert llm.estimate_cost(local, 2000, 500) == pytest.approx(0.003)
    assert (
        llm.estimate_cost(LLMConfig(**{**local.to_public_dict(), "batch": True}), 2000, 500) is None
    )  # no batch price
    assert llm.with_prices(LLMConfig(None, "gpt-4o-mini"), workspace).price_per_1k_input == 0.1
    own = LLMConfig(None, "gpt-4o-mini", price_per_1k_input=0.5, price_per_1k_output=0.5)
    assert llm.with_prices(own, workspace).price_per_1k_input == 0.5  # a config's own price is kept
    restored = LLMConfig.from_public_dict(local.to_public_dict())  # as a run's parameters store it
    llm.save_price(workspace, "llama3", None)
    assert llm.estimate_cost(restored, 2000, 500) == pytest.approx(0.003)
    assert llm.price_for("llama3", llm.price_table(workspace)) is None


@pytest.mark.parametrize(
    "content, problem",
    [
        ("[1, 2]", "expected an object of models"),
        ('{"m": {"input": 0.1}}', "output"),
        ('{"m": {"input": 0.1, "output": 0.1, "batch": 0.05}}', "batch"),
        ('{"m": {"input": "cheap", "output": 0.1}}', "'m': input must be a number from 0 to 10, not 'cheap'"),
        ('{"m": {"input": -0.5, "output": 0.1}}', "'m': input must be a number from 0 to 10, not -0.5"),
        (
            '{"m": {"input": 0.1, "output": 0.1, "training_per_1m": -3}}',
            "'m': training_per_1m must be a number from 0 to 1000, not -3",
        ),
        ("{not json", "cannot be read"),
    ],
)
def test_a_damaged_price_file_is_named_with_its_problem(workspace, content, problem):
    (workspace.root / llm.PRICES_FILE).write_text(content)
    with pytest.raises(PriceError, match=llm.PRICES_FILE) as info:
        llm.price_table(workspace)
    assert problem in str(info.value)


def test_cost_per_thousand_routed_queries_and_descriptions():
    config = LLMConfig(None, "gpt-4o-mini")
    usage = Usage(prompt_tokens=50_000, completion_tokens=2_000)  # 200 queries routed
    assert llm.cost_per_1k_queries(config, usage, 200) == pytest.approx((50 * 0.00015 + 2 * 0.0006) * 5)
    assert llm.cost_per_1k_queries(config, usage, 0) is None
    assert llm.cost_per_1k_queries(LLMConfig("http://127.0.0.1:9/v1", "llama3"), usage, 200) is None
    assert llm.describe_cost(config, 1000, 100) == (
        "about 1,000 prompt + 100 completion tokens · estimated $0.0002 (gpt-4o-mini, online prices)"
    )
    assert llm.describe_cost(LLMConfig("http://127.0.0.1:9/v1", "llama3", batch=True), 10, 1, spent=True) == (
        "used 10 prompt + 1 completion tokens · unknown batch price for llama3"
    )
    with pytest.raises(llm.LLMConfigError, match="price_per_1k_input"):
        LLMConfig(None, "m", price_per_1k_input=-1)


def test_a_generation_run_records_its_usage_and_cost_in_the_run_history(workspace, run_cli):
    from ragtune_core import jobs
    from ragtune_core.corpus.documents import Chunk, Document, save_corpus
    from ragtune_core.jobs import JobKind
    from tests.fake_openai import FakeOpenAIServer

    text = "Riverton built its harbour in 1820. The Northfield ferry has carried people since 1901."
    corpus = save_corpus(
        workspace,
        "harbour",
        [Document("riverton", "Riverton", "text:riverton", text)],
        [Chunk("riverton#0", "riverton", text)],
        {},
    )
    llm.save_price(workspace, "fake-model", ModelPrice(0.01, 0.02))
    with FakeOpenAIServer() as server:
        config = llm.with_prices(LLMConfig(server.base_url, "fake-model"), workspace)
        status = jobs.start_job(
            workspace,
            JobKind.GENERATE_QUESTIONS,
            {"corpus_id": corpus.id, "generator": "llm", "llm": config.to_public_dict()},
        )
        assert jobs.wait(workspace, status.run_id, timeout=60).state == "succeeded"
    code, out, err = run_cli("runs")
    [run] = json.loads(out)["runs"]
    usage = run["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert run["cost_usd"] == pytest.approx(
        usage["prompt_tokens"] * 0.01 / 1000 + usage["completion_tokens"] * 0.02 / 1000
    )


def test_an_llm_prices_file_of_an_earlier_version_loads_and_keeps_the_known_fine_tuning_prices(workspace):
    (workspace.root / llm.PRICES_FILE).write_text(
        json.dumps(
            {
                "llama3": {"input": 0.001, "output": 0.002, "batch_input": None, "batch_output": None},
                "gpt-4o-mini": {"input": 0.1, "output": 0.2, "batch_input": 0.05, "batch_output": 0.1},
            }
        )
    )
    table = llm.price_table(workspace)
    assert table["llama3"] == ModelPrice(0.001, 0.002)
    mini = table["gpt-4o-mini"]
    assert (mini.input, mini.batch_output) == (0.1, 0.1)  # the file's
    assert (mini.fine_tuned_per_1k(), mini.training_per_1m) == ((0.0003, 0.0012), 3.0)  # the known row's


def test_one_table_prices_online_fine_tuned_and_training_tokens(workspace):
    from ragtune_core.reporting.serving import fine_tuned_price
    from ragtune_core.training.llm.preflight import training_price_per_1m

    assert fine_tuned_price("gpt-4.1-mini-2025-04-14") == (0.0008, 0.0032)
    assert training_price_per_1m("gpt-4.1-mini-2025-04-14") == 5.0
    assert fine_tuned_price("gpt-5-mini") is None and training_price_per_1m("llama3") is None
    llm.save_price(workspace, "gpt-4.1-mini", ModelPrice(0.0004, 0.0016, training_per_1m=4.0))
    table = llm.price_table(workspace)
    assert training_price_per_1m("gpt-4.1-mini-2025-04-14", table) == 4.0
    assert fine_tuned_price("gpt-4.1-mini-2025-04-14", table) == (0.0008, 0.0032)
