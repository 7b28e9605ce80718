"""compare-selectors with a fine-tuned LLM: --finetuned-llm by name, refused for an unknown name or
another tool set, McNemar's test between every two selectors and the agreement with the teacher
(the teacher LLM selector when it runs, else the teacher's calls kept with the model's data)."""

import json

import pytest
from scipy.stats import binomtest

from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.routing.compare import list_comparisons
from ragtune_core.routing.llm_selector import FinetunedLLM
from ragtune_core.routing.stats import EXACT, pairwise_mcnemar
from tests.fake_openai import FakeOpenAIServer
from tests.routing.test_compare import router_llm
from tests.training.llm.helpers import hosted_flags, router_dataset, teacher

FT = "fine-tuned LLM · router-ft"


def answers(request: dict):
    """The teacher "t" and the model fine-tuned on it call tools as `teacher` does; asked with a
    numbered list (the plain LLM selector), "t" answers as `router_llm`."""
    return teacher(request) if request.get("tools") else router_llm(request)


@pytest.fixture
def server():
    with FakeOpenAIServer(responder=answers, fine_tuning=True, models=("fake-base", "t")) as fake:
        yield fake


@pytest.fixture
def trained(workspace, run_cli, server) -> str:
    """A hosted model fine-tuned (at the fake) on teacher-labelled chat data of the router dataset."""
    save_dataset(workspace, "tools", router_dataset(), None, {})
    code, _, err = run_cli(
        "llm-dataset",
        "tools",
        "--name",
        "taught",
        "--labels",
        "teacher",
        "--teacher-model",
        "t",
        "--teacher-base-url",
        server.base_url,
    )
    assert code == 0, err
    code, out, err = run_cli(
        "llm-finetune",
        "taught",
        "--name",
        "router-ft",
        *hosted_flags(server.base_url),
    )
    assert code == 0, err
    return json.loads(out)["model_path"]


def test_a_fine_tuned_llm_beside_its_teacher(workspace, run_cli, server, trained):
    assert FinetunedLLM.load(trained).data_name == "taught"
    code, out, err = run_cli(
        "compare-selectors",
        "tools",
        "--finetuned-llm",
        "router-ft",
        "--llm-model",
        "t",
        "--llm-base-url",
        server.base_url,
        "--part",
        "all",
    )
    assert code == 0, err
    summary = json.loads(out)
    # The fine-tuned model misses the teacher's 4 mistakes; the teacher asked by a numbered list misses 2.
    assert summary["match_rates"] == {FT: pytest.approx(17 / 21), "LLM t": pytest.approx(19 / 21)}
    # Right only by the fine-tuned model: the garbled query; only by "LLM t": knead (the teacher's wrong
    # tool), the plain-text and the made-up-tool answers. Jupiter both get wrong.
    [test] = summary["mcnemar"]
    assert (test["a"], test["b"], test["a_only"], test["b_only"], test["method"]) == (FT, "LLM t", 1, 3, EXACT)
    assert test["p_value"] == pytest.approx(binomtest(1, 4).pvalue) and test["better"] is None
    assert f"{FT} vs LLM t: right only by one 1 vs 3 queries, p = 0.625" in err
    # "LLM t" picked a tool for 20 queries (not the garbled one); the two pick differently on knead, the
    # plain-text, two-call (the teacher chose the summary tool) and made-up-tool queries.
    assert summary["teacher_agreement"] == {
        FT: {"selector": FT, "teacher": "LLM t", "agreement": 16 / 20, "queries": 20}
    }
    comparison = list_comparisons(workspace, summary["dataset_id"], "all")[0]
    assert [(r.kind, r.model) for r in comparison.reports] == [("finetuned_llm", trained), ("llm", "t")]
    [test] = pairwise_mcnemar(comparison)
    assert (test.a, test.b, test.a_only, test.b_only) == (FT, "LLM t", 1, 3)


def test_without_the_teacher_its_stored_labels_are_the_reference(run_cli, trained):
    code, out, err = run_cli("compare-selectors", "tools", "--finetuned-llm", "router-ft", "--part", "all")
    assert code == 0, err
    summary = json.loads(out)
    # The teacher's labels: the 17 lines kept (it agreed with the dataset) and the one disagreement where it
    # called a tool (knead); the model calls as the teacher did on all 18.
    assert summary["teacher_agreement"][FT] == {
        "selector": FT,
        "teacher": "stored labels of t",
        "agreement": 1.0,
        "queries": 18,
    }
    assert summary["mcnemar"] == []


def test_unknown_names_and_other_tool_sets_exit_2(workspace, run_cli, trained, tmp_path):
    code, out, err = run_cli("compare-selectors", "tools", "--finetuned-llm", "nope")
    assert code == 2 and out == ""
    assert "--finetuned-llm 'nope': no fine-tuned LLM of that name or id (the workspace has: router-ft)" in err
    workspace.register_model("an-embedder", "embedding", tmp_path, "base")
    code, _, err = run_cli("compare-selectors", "tools", "--finetuned-llm", "an-embedder")
    assert code == 2 and "is a workspace embedding model, not a fine-tuned LLM" in err
    fewer = router_dataset()
    tools = fewer.extra["tools"][:-1]
    kept = {q for q, pids in fewer.relevant_docs.items() if pids[0] != "summary:tax"}
    save_dataset(
        workspace,
        "fewer",
        QADataset(
            queries={q: t for q, t in fewer.queries.items() if q in kept},
            corpus={t["id"]: t["description"] for t in tools},
            relevant_docs={q: p for q, p in fewer.relevant_docs.items() if q in kept},
            passage_docs={t["id"]: t["document_id"] for t in tools},
            kind="router",
            extra={"tools": tools},
        ),
        None,
        {},
    )
    for command in (("compare-selectors", "fewer"), ("route", "fewer", "What VAT rate applies?")):
        code, out, err = run_cli(*command, "--finetuned-llm", "router-ft")
        assert code == 2 and out == "" and "'router-ft': this fine-tuned LLM learned another tool set" in err, err


def test_an_llm_comparison_says_what_it_will_use_and_cost_before_it_runs(workspace, run_cli, server):
    from ragtune_core.llm import LLMConfig, estimate_tokens
    from ragtune_core.llm.pricing import ModelPrice, save_price
    from ragtune_core.routing.compare import llm_routing_estimates, load_router_task
    from ragtune_core.routing.llm_selector import JSON_ANSWER_TOKENS, TOOL_CALL_TOKENS, LLMSelector, function_tools
    from ragtune_core.routing.specs import SelectorSpec

    dataset_id = save_dataset(workspace, "tools", router_dataset(), None, {}).id
    task = load_router_task(workspace, dataset_id, "all")
    config = LLMConfig(base_url=server.base_url, model="t")
    plain = LLMSelector(config).expected_usage(task.queries, task.choices)
    assert plain.completion_tokens == JSON_ANSWER_TOKENS * len(task.queries)
    assert plain.prompt_tokens > estimate_tokens(task.queries) + estimate_tokens(c.description for c in task.choices)
    calling = LLMSelector(config, tool_calling=True, system_prompt="Route.").expected_usage(task.queries, task.choices)
    assert calling.completion_tokens == TOOL_CALL_TOKENS * len(task.queries)
    assert calling.prompt_tokens > len(task.queries) * estimate_tokens([json.dumps(function_tools(task.choices))])
    save_price(workspace, "t", ModelPrice(1.0, 2.0))  # USD per 1k tokens
    spec = SelectorSpec("LLM t", "llm", llm=config.to_public_dict())
    [estimate] = llm_routing_estimates(workspace, [(dataset_id, "all")], [spec, SelectorSpec("base", "embedding")])
    cost = plain.prompt_tokens / 1000 * 1.0 + plain.completion_tokens / 1000 * 2.0
    assert estimate.startswith(f"LLM t: about {plain.prompt_tokens:,} prompt") and f"${cost:.4f}" in estimate
    code, _, err = run_cli(
        "compare-selectors", "tools", "--part", "all", "--llm-model", "t", "--llm-base-url", server.base_url
    )
    assert code == 0 and estimate in err
