import json
import logging
import re
import time

import pytest

from ragtune_core import jobs
from ragtune_core.jobs.comparison_tasks import run_router_comparison_job, start_comparison_job
from ragtune_core.jobs.tasks import TASKS
from ragtune_core.questions.qa_dataset import DatasetError, QADataset, save_dataset
from ragtune_core.routing.compare import (
    RouterComparison,
    compare_selectors,
    evaluate_selector,
    list_comparisons,
    load_router_task,
    route_query,
    save_comparison,
)
from ragtune_core.routing.selectors import Choice, Selection
from ragtune_core.routing.specs import RoutingError, SelectorSpec, make_selector
from ragtune_core.routing.tables import FAILED, NONE_COLUMN, confusion_frame, misrouted_table, route_table, scores_frame
from tests.fake_openai import FakeOpenAIServer

# Three documents, each with a tool for specific questions and one for a holistic summary.
TOOLS = [
    (
        "vector:cooking",
        "vector_tool_cooking",
        "cooking",
        "Useful for specific questions about cooking: recipes, baking bread, kneading dough, ingredients, oven "
        "temperatures.",
    ),
    (
        "summary:cooking",
        "summary_tool_cooking",
        "cooking",
        "Useful for requests for a holistic summary or overview of EVERYTHING about the cooking handbook.",
    ),
    (
        "vector:astronomy",
        "vector_tool_astronomy",
        "astronomy",
        "Useful for specific questions about astronomy: planets, stars, galaxies, telescopes, orbits and moons.",
    ),
    (
        "summary:astronomy",
        "summary_tool_astronomy",
        "astronomy",
        "Useful for requests for a holistic summary or overview of EVERYTHING about the astronomy guide.",
    ),
    (
        "vector:tax",
        "vector_tool_tax",
        "tax",
        "Useful for specific questions about taxes: income tax returns, deductions, VAT rates and IRS filing "
        "deadlines.",
    ),
    (
        "summary:tax",
        "summary_tool_tax",
        "tax",
        "Useful for requests for a holistic summary or overview of EVERYTHING about the tax manual.",
    ),
]
QUERIES = [
    ("How long should I knead bread dough?", "vector:cooking"),
    ("What oven temperature bakes a sourdough loaf?", "vector:cooking"),
    ("Which ingredients go into a tomato pasta sauce?", "vector:cooking"),
    ("How do I stop my cake recipe from sinking?", "vector:cooking"),
    ("Give me a holistic summary of everything in the cooking handbook.", "summary:cooking"),
    ("Summarize the whole cooking handbook for me.", "summary:cooking"),
    ("What is the overview of the cooking handbook as a whole?", "summary:cooking"),
    ("How many moons does Jupiter have?", "vector:astronomy"),
    ("Which telescope is best for viewing distant galaxies?", "vector:astronomy"),
    ("How long does Mars take to orbit the Sun?", "vector:astronomy"),
    ("What makes a star turn into a supernova?", "vector:astronomy"),
    ("Give me a holistic summary of everything in the astronomy guide.", "summary:astronomy"),
    ("Summarize the whole astronomy guide for me.", "summary:astronomy"),
    ("What is the overview of the astronomy guide as a whole?", "summary:astronomy"),
    ("Can I deduct my home office on my income tax return?", "vector:tax"),
    ("When is the IRS deadline for filing taxes?", "vector:tax"),
    ("What VAT rate applies to restaurant meals?", "vector:tax"),
    ("Are charitable donations tax deductible?", "vector:tax"),
    ("Give me a holistic summary of everything in the tax manual.", "summary:tax"),
    ("Summarize the whole tax manual for me.", "summary:tax"),
    ("What is the overview of the tax manual as a whole?", "summary:tax"),
]
TOOL_IDS = [tool_id for tool_id, *_ in TOOLS]
NAMES = [name for _, name, *_ in TOOLS]
EXPECTED = [TOOL_IDS.index(tool_id) for _, tool_id in QUERIES]
# The fake LLM answers garbage for one query and the wrong tool for another; the rest it gets right.
GARBLED = "Summarize the whole tax manual for me."
MISLED = ("How many moons does Jupiter have?", "summary:astronomy")
VAL_DOCUMENT = "tax"


def router_dataset() -> QADataset:
    tools = [
        {"id": i, "name": n, "description": d, "document_id": doc, "kind": i.split(":")[0]} for i, n, doc, d in TOOLS
    ]
    return QADataset(
        queries={f"q{i}": q for i, (q, _) in enumerate(QUERIES)},
        corpus={i: d for i, _, _, d in TOOLS},
        relevant_docs={f"q{i}": [tool_id] for i, (_, tool_id) in enumerate(QUERIES)},
        passage_docs={i: doc for i, _, doc, _ in TOOLS},
        split={f"q{i}": "val" if tool_id.endswith(VAL_DOCUMENT) else "train" for i, (_, tool_id) in enumerate(QUERIES)},
        kind="router",
        extra={"tools": tools},
    )


def router_llm(request: dict) -> str:
    """An LLM that knows the right tool of every test query, except the garbled and misled ones."""
    prompt = request["messages"][-1]["content"]
    question = re.search(r"the question: '(.*)'", prompt).group(1)
    if question == GARBLED:
        return "I am not sure which one you mean."
    tool_id = MISLED[1] if question == MISLED[0] else dict(QUERIES)[question]
    description = TOOLS[TOOL_IDS.index(tool_id)][3]
    number = re.search(r"\((\d+)\) " + re.escape(description), prompt).group(1)
    return json.dumps({"choice": int(number), "reason": f"it is about {tool_id}"})


def llm_spec(server: FakeOpenAIServer, label: str = "LLM fake-model") -> SelectorSpec:
    return SelectorSpec(label, "llm", llm={"base_url": server.base_url, "model": "fake-model"})


BASE_SPEC = SelectorSpec("base", "embedding")


@pytest.fixture
def dataset_id(workspace) -> str:
    return save_dataset(workspace, "tools", router_dataset(), None, {}).id


@pytest.fixture
def llm_server():
    with FakeOpenAIServer(responder=router_llm) as server:
        yield server


@pytest.fixture
def no_api_key(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("RAGTUNE_LLM_API_KEY", raising=False)


def saved_files(workspace) -> list[str]:
    return sorted(p.name for p in workspace.dir("router_evaluations").iterdir())


def check_llm_results(comparison: RouterComparison, label: str) -> None:
    report = comparison.report(label)
    assert report.match_rate == pytest.approx((len(QUERIES) - 2) / len(QUERIES))
    assert report.failures == 1
    garbled = comparison.queries.index(GARBLED)
    assert report.picks[garbled] is None and report.errors[garbled].startswith("unparseable answer")
    assert report.picks[comparison.queries.index(MISLED[0])] == TOOL_IDS.index(MISLED[1])


# --- specs ------------------------------------------------------------------------------------
def test_selector_specs_round_trip_and_refuse_bad_settings():
    spec = SelectorSpec("gpt", "llm", llm={"base_url": "http://127.0.0.1:9/v1", "model": "m", "max_concurrency": 2})
    assert SelectorSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.llm_config().max_concurrency == 2
    assert SelectorSpec.from_dict({"label": "base", "kind": "embedding"}) == BASE_SPEC
    for data, message in [
        ({"label": "x", "kind": "bm25"}, "selector 'x': kind must be one of embedding, cross_encoder, llm"),
        ({"label": "x", "kind": "embedding", "model": "m"}, "selector 'x': unknown field(s) model"),
        ({"kind": "embedding"}, "missing label"),
        ({"label": " ", "kind": "embedding"}, "a selector needs a label"),
        ({"label": "ce", "kind": "cross_encoder"}, "selector 'ce': a cross-encoder selector needs a trained"),
        ({"label": "x", "kind": "embedding", "llm": {"model": "m"}}, "LLM settings are only for an llm selector"),
        (
            {"label": "gpt", "kind": "llm", "llm": {"model": "m", "api_key": "sk-secret"}},
            "selector 'gpt': api_key must not be stored",
        ),
        (
            {"label": "gpt", "kind": "llm", "llm": {"model": "m", "base_url": "ftp://host"}},
            "selector 'gpt': base_url: 'ftp://host' is not an http(s) URL",
        ),
    ]:
        with pytest.raises(RoutingError) as error:
            SelectorSpec.from_dict(data)
        assert message in str(error.value)


# --- comparisons (LLM only: no model to load) -------------------------------------------------
def test_llm_comparison_is_scored_saved_and_listed(workspace, dataset_id, llm_server):
    progress = []
    comparison = compare_selectors(
        workspace,
        dataset_id,
        [llm_spec(llm_server)],
        part="all",
        on_phase=lambda phase, done, total, message: progress.append((phase, done, total)),
    )
    assert comparison.queries == [q for q, _ in QUERIES] and comparison.expected == EXPECTED
    assert comparison.query_ids == [f"q{i}" for i in range(len(QUERIES))]
    assert [c.name for c in comparison.choices] == NAMES and comparison.skipped == []
    check_llm_results(comparison, "LLM fake-model")
    # its requests go at once: loaded, routed, and no latency timing (not a model on this machine)
    assert progress == [("start", 1, 1), ("routing with LLM fake-model", 21, 21), ("latency timing", 1, 1)]
    assert llm_server.chat_requests == len(QUERIES)

    assert saved_files(workspace) == [f"{comparison.comparison_id}.json"]
    [listed] = list_comparisons(workspace, dataset_id, "all")
    assert listed == comparison  # every field survives the JSON round trip, tuples included
    assert list_comparisons(workspace, dataset_id, "all")[0] == comparison
    assert list_comparisons(workspace, dataset_id, "val") == [] and list_comparisons(workspace, "other") == []

    confusion = confusion_frame(comparison, "LLM fake-model")
    assert list(confusion.index) == NAMES and list(confusion.columns) == [*NAMES, NONE_COLUMN]
    assert confusion.to_numpy().sum() == len(QUERIES)
    assert confusion.loc["summary_tool_tax", NONE_COLUMN] == 1
    assert confusion.loc["vector_tool_astronomy", "summary_tool_astronomy"] == 1
    assert confusion.loc["vector_tool_cooking", "vector_tool_cooking"] == 4

    misrouted = misrouted_table(comparison)
    assert list(misrouted.columns) == [
        "query",
        "right tool",
        "pick · LLM fake-model",
        "score · LLM fake-model",
        "misrouted by",
    ]
    assert misrouted[["query", "right tool", "pick · LLM fake-model"]].values.tolist() == [
        [MISLED[0], "vector_tool_astronomy", "summary_tool_astronomy"],
        [GARBLED, "summary_tool_tax", FAILED],
    ]
    assert misrouted["score · LLM fake-model"].tolist()[0] == 1.0
    assert misrouted["misrouted by"].tolist() == [1, 1]


def test_the_validation_part_routes_only_its_queries(workspace, dataset_id, llm_server):
    comparison = compare_selectors(workspace, dataset_id, [llm_spec(llm_server)])  # part="val" by default
    val_queries = [q for q, tool_id in QUERIES if tool_id.endswith(VAL_DOCUMENT)]
    assert comparison.part == "val" and comparison.queries == val_queries
    assert comparison.expected == [EXPECTED[i] for i, (_, t) in enumerate(QUERIES) if t.endswith(VAL_DOCUMENT)]
    assert comparison.reports[0].match_rate == pytest.approx(6 / 7)  # the garbled query is a tax one
    assert len(comparison.choices) == len(TOOLS)  # every tool stays a choice


def test_an_unavailable_llm_is_skipped_with_its_reason(workspace, dataset_id, llm_server, no_api_key):
    openai_spec = SelectorSpec("OpenAI", "llm", llm={"base_url": None, "model": "gpt-4o-mini"})
    unset_spec = SelectorSpec("no LLM", "llm")
    comparison = compare_selectors(workspace, dataset_id, [openai_spec, llm_spec(llm_server), unset_spec], "all")
    assert [r.name for r in comparison.reports] == ["LLM fake-model"]
    (openai_label, openai_reason), (unset_label, unset_reason) = comparison.skipped
    assert openai_label == "OpenAI" and "api_key" in openai_reason
    assert unset_label == "no LLM" and "no LLM is configured" in unset_reason
    assert list_comparisons(workspace)[0].skipped == comparison.skipped
    assert [r.name for r in comparison.reports] == ["LLM fake-model"]

    with pytest.raises(RoutingError, match="no selector can run: OpenAI: api_key"):
        compare_selectors(workspace, dataset_id, [openai_spec], "all")
    with pytest.raises(RoutingError, match="selector 'no LLM': no LLM is configured"):
        make_selector(unset_spec)
    assert len(saved_files(workspace)) == 1


def test_bad_requests_are_refused_and_nothing_is_saved(workspace, dataset_id, llm_server):
    qa = QADataset({"q": "What is dough?"}, {"p": "Dough is flour and water."}, {"q": ["p"]})
    qa_id = save_dataset(workspace, "plain qa", qa, None, {}).id
    with pytest.raises(RoutingError, match="dataset 'plain qa' is a qa dataset, not a router dataset"):
        compare_selectors(workspace, qa_id, [llm_spec(llm_server)], "all")
    unsplit = router_dataset()
    unsplit.split = {}
    unsplit_id = save_dataset(workspace, "unsplit", unsplit, None, {}).id
    with pytest.raises(DatasetError, match="no train/validation split"):
        compare_selectors(workspace, unsplit_id, [llm_spec(llm_server)], "val")
    with pytest.raises(DatasetError, match="part must be one of test, val, train, all, not 'chunk'"):
        compare_selectors(workspace, dataset_id, [llm_spec(llm_server)], "chunk")
    with pytest.raises(
        DatasetError, match="the test part of dataset 'tools' has no queries"
    ):  # split before test parts
        compare_selectors(workspace, dataset_id, [llm_spec(llm_server)], "test")
    with pytest.raises(RoutingError, match="'twice' is used more than once"):
        compare_selectors(workspace, dataset_id, [llm_spec(llm_server, "twice"), llm_spec(llm_server, "twice")], "all")
    with pytest.raises(RoutingError, match="at least one selector"):
        compare_selectors(workspace, dataset_id, [], "all")
    assert saved_files(workspace) == [] and llm_server.chat_requests == 0


def test_unreadable_comparisons_are_skipped_newest_first(workspace, dataset_id, llm_server, caplog):
    first = compare_selectors(workspace, dataset_id, [llm_spec(llm_server)], "all")
    second = compare_selectors(workspace, dataset_id, [llm_spec(llm_server)], "all")
    (workspace.dir("router_evaluations") / "broken.json").write_text('{"comparison_id": ')
    with caplog.at_level(logging.WARNING, logger="ragtune_core.routing"):
        listed = list_comparisons(workspace)
    assert [c.comparison_id for c in listed] == [second.comparison_id, first.comparison_id]
    assert "broken.json" in caplog.text
    assert list_comparisons(workspace, dataset_id, "all")[0].comparison_id == second.comparison_id
    assert list_comparisons(workspace, dataset_id, "train") == []


# --- tables on a handmade comparison ----------------------------------------------------------
class ScriptedSelector:
    def __init__(self, name: str, picks: list[int | None]):
        self.name, self.picks = name, picks

    def select(self, queries, choices):
        return [
            Selection(
                index=p,
                scores=[] if p is None else [0.9 if i == p else 0.1 for i in range(len(choices))],
                latency=0.002,
                error="unparseable answer: ?" if p is None else None,
            )
            for p in self.picks[: len(queries)]
        ]


CHOICES = [Choice("a", "tool_a", "About A."), Choice("b", "tool_b", "About B."), Choice("c", "tool_c", "About C.")]


def handmade_comparison() -> RouterComparison:
    queries, expected = ["qa1", "qa2", "qb1", "qc1"], [0, 0, 1, 2]
    reports = [
        evaluate_selector(ScriptedSelector("first", [0, 1, 1, None]), queries, CHOICES, expected),
        evaluate_selector(ScriptedSelector("second", [0, 2, 0, 2]), queries, CHOICES, expected),
    ]
    return RouterComparison(
        "route-1",
        "dataset-1",
        "val",
        1.0,
        queries,
        ["1", "2", "3", "4"],
        CHOICES,
        expected,
        reports,
        [("LLM", "no key")],
    )


def test_tables_of_a_handmade_comparison():
    comparison = handmade_comparison()
    assert [(r.name, r.match_rate, r.failures) for r in comparison.reports] == [("first", 0.5, 1), ("second", 0.5, 0)]
    assert [r.mean_latency for r in comparison.reports] == pytest.approx([0.002, 0.002])
    assert all(r.match_rate_ci[0] <= r.match_rate <= r.match_rate_ci[1] for r in comparison.reports)

    assert confusion_frame(comparison, "first").values.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]]
    assert confusion_frame(comparison, "second").values.tolist() == [[1, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0]]
    with pytest.raises(RoutingError, match="no selector 'LLM' in comparison route-1"):
        confusion_frame(comparison, "LLM")

    misrouted = misrouted_table(comparison)
    # qa1 was routed right by both: left out; qa2, misrouted by both, comes first.
    assert misrouted.astype(object).where(misrouted.notna(), None).to_dict("records") == [
        {
            "query": "qa2",
            "right tool": "tool_a",
            "pick · first": "tool_b",
            "score · first": 0.9,
            "pick · second": "tool_c",
            "score · second": 0.9,
            "misrouted by": 2,
        },
        {
            "query": "qb1",
            "right tool": "tool_b",
            "pick · first": "tool_b",
            "score · first": 0.9,
            "pick · second": "tool_a",
            "score · second": 0.9,
            "misrouted by": 1,
        },
        {
            "query": "qc1",
            "right tool": "tool_c",
            "pick · first": FAILED,
            "score · first": None,
            "pick · second": "tool_c",
            "score · second": 0.9,
            "misrouted by": 1,
        },
    ]


def test_a_saved_comparison_reads_back_whole(workspace):
    comparison = save_comparison(workspace, handmade_comparison())
    assert list_comparisons(workspace) == [comparison]
    assert list_comparisons(workspace)[0].reports[0].match_rate_ci == comparison.reports[0].match_rate_ci


# --- one query (the Playground) ---------------------------------------------------------------
def test_route_query_rows_and_scores(llm_server):
    choices = [Choice(i, n, d) for i, n, _, d in TOOLS]
    llm = SelectorSpec("LLM", "llm", llm={"base_url": llm_server.base_url, "model": "fake-model"})
    routed = route_query(
        "Are charitable donations tax deductible?", choices, [ScriptedSelector("scripted", [1]), make_selector(llm)]
    )
    assert [name for name, _ in routed] == ["scripted", "LLM"]
    rows = route_table(routed, choices)
    assert rows[["selector", "pick", "score"]].values.tolist() == [
        ["scripted", "summary_tool_cooking", 0.9],
        ["LLM", "vector_tool_tax", 1.0],
    ]
    assert rows["reason"].tolist() == ["", "it is about vector:tax"]
    assert (rows["latency_ms"] > 0).all()
    scores = scores_frame(routed, choices)
    assert list(scores.index) == NAMES and list(scores.columns) == ["scripted", "LLM"]
    assert scores.loc["vector_tool_tax", "LLM"] == 1.0 and scores["LLM"].sum() == 1.0

    failed = route_query(GARBLED, choices, [make_selector(llm)])
    [row] = route_table(failed, choices).to_dict("records")
    assert row["pick"] == FAILED and row["reason"].startswith("unparseable answer")
    assert scores_frame(failed, choices)["LLM"].isna().all()
    with pytest.raises(RoutingError, match="the query is empty"):
        route_query("  ", choices, [make_selector(llm)])


# --- CLI --------------------------------------------------------------------------------------
def test_cli_compare_selectors_and_route_with_an_llm(workspace, dataset_id, llm_server, run_cli):
    code, out, err = run_cli(
        "compare-selectors",
        "tools",
        "--llm-base-url",
        llm_server.base_url,
        "--llm-model",
        "fake-model",
        "--part",
        "all",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["match_rates"] == {"LLM fake-model": pytest.approx(19 / 21)}
    assert summary["failures"] == {"LLM fake-model": 1} and summary["skipped"] == {}
    assert summary["queries"] == len(QUERIES) and summary["tools"] == len(TOOLS) and summary["part"] == "all"
    assert list_comparisons(workspace)[0].comparison_id == summary["comparison_id"]
    assert "compare-selectors: 100% · 0s elapsed · 0s left · compared 1 selector(s)" in err
    assert "compare-selectors: estimated: the requests of LLM fake-model" in err
    assert summary["estimated_seconds"] == 0 and summary["seconds"] > 0  # nothing here to estimate

    code, out, err = run_cli(
        "compare-selectors", dataset_id, "--llm-base-url", llm_server.base_url, "--llm-model", "fake-model"
    )
    assert code == 0, err
    assert json.loads(out)["part"] == "val"  # a split dataset: its validation part

    code, out, err = run_cli(
        "route",
        "tools",
        "When is the IRS deadline for filing taxes?",
        "--llm-base-url",
        llm_server.base_url,
        "--llm-model",
        "fake-model",
    )
    assert code == 0, err
    [pick] = json.loads(out)["picks"]
    assert pick["selector"] == "LLM fake-model" and pick["pick"] == "vector_tool_tax" and pick["score"] == 1.0


def test_cli_refuses_bad_requests(workspace, dataset_id, run_cli, no_api_key):
    for argv, message in [
        (("compare-selectors", "tools"), "name at least one selector"),
        (("compare-selectors", "tools", "--llm-base-url", "http://127.0.0.1:9/v1"), "--llm-model is required"),
        (("compare-selectors", "tools", "--cross-encoder", "base"), "a cross-encoder selector needs a trained"),
        (("compare-selectors", "tools", "--llm-model", "gpt-4o-mini"), "no selector can run: LLM gpt-4o-mini: api_key"),
        (("compare-selectors", "nope", "--embedding", "base"), "no dataset with id 'nope'"),
        (("route", "tools", "query", "--llm-model", "m", "--llm-base-url", "ftp://x"), "is not an http(s) URL"),
    ]:
        code, out, err = run_cli(*argv)
        assert code == 2 and out == "" and message in err, (argv, err)
    assert saved_files(workspace) == []


# --- with the bundled embedding model ---------------------------------------------------------
@pytest.mark.slow
def test_base_embedding_and_llm_side_by_side(workspace, dataset_id, llm_server):
    comparison = compare_selectors(workspace, dataset_id, [BASE_SPEC, llm_spec(llm_server)], "all")
    check_llm_results(comparison, "LLM fake-model")
    embedding = comparison.report("base")
    assert embedding.failures == 0 and 0.6 <= embedding.match_rate <= 1.0  # chance is 1/6
    summaries = [i for i, (_, tool_id) in enumerate(QUERIES) if tool_id.startswith("summary")]
    assert all(embedding.picks[i] == EXPECTED[i] for i in summaries)  # they repeat their tool's words
    assert [r.name for r in comparison.reports] == ["base", "LLM fake-model"]
    assert confusion_frame(comparison, "base").to_numpy().sum() == len(QUERIES)

    misrouted = misrouted_table(comparison)
    wrong_by = {q: sum(r.picks[i] != EXPECTED[i] for r in comparison.reports) for i, q in enumerate(comparison.queries)}
    assert sorted(misrouted["query"]) == sorted(q for q, n in wrong_by.items() if n)
    assert dict(zip(misrouted["query"], misrouted["misrouted by"], strict=True)) == {
        q: n for q, n in wrong_by.items() if n
    }
    row = misrouted.set_index("query").loc[GARBLED]
    assert row["pick · LLM fake-model"] == FAILED and row["pick · base"] == "summary_tool_tax"


@pytest.mark.slow
def test_comparison_job_in_a_worker(workspace, dataset_id):
    assert TASKS["compare_selectors"] is run_router_comparison_job
    status = start_comparison_job(workspace, dataset_id, [BASE_SPEC], part="all")
    final = jobs.wait(workspace, status.run_id, timeout=120)
    assert final.state == "succeeded", (final.error, (workspace.run_dir(status.run_id) / "worker.log").read_text())
    comparison = list_comparisons(workspace, dataset_id, "all")[0]
    assert final.result == {
        "comparison_id": comparison.comparison_id,
        "match_rates": {"base": comparison.report("base").match_rate},
        "skipped": [],
        "held_out": {},
        "failed": [],
        "estimated_seconds": pytest.approx(final.result["estimated_seconds"]),
        "seconds": pytest.approx(final.result["seconds"]),
    }
    assert final.result["estimated_seconds"] > 0 and final.result["seconds"] > 0
    [said] = [e for e in jobs.read_events(workspace, status.run_id) if e["event"] == "duration"]
    assert said["estimated_seconds"] == pytest.approx(final.result["estimated_seconds"], abs=0.05)
    assert final.done == final.total > 0
    events = jobs.read_events(workspace, status.run_id)
    assert [e["selector"] for e in events if e["event"] == "match_rate"] == ["base"]
    assert workspace.get_run(status.run_id).params["selectors"] == [BASE_SPEC.to_dict()]


def test_a_bad_job_request_fails_before_a_worker_starts(workspace, dataset_id):
    with pytest.raises(RoutingError, match="'base' is used more than once"):
        start_comparison_job(workspace, dataset_id, [BASE_SPEC, BASE_SPEC])
    assert workspace.list_runs() == []


def test_load_router_task_names_tools_by_position(workspace, dataset_id):
    task = load_router_task(workspace, dataset_id)
    assert task.part == "all" and [c.id for c in task.choices] == TOOL_IDS
    assert [task.choices[e].id for e in task.expected] == [tool_id for _, tool_id in QUERIES]


# --- selectors that fail on every query ---------------------------------------------------------
class RefusingServer(FakeOpenAIServer):
    """An endpoint that turns every request down as unauthorised (a bad key)."""

    def _chat(self, body: dict):
        return 401, {}, b'{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}}'


def failing_spec(server: FakeOpenAIServer, label: str = "LLM broken") -> SelectorSpec:
    return SelectorSpec(label, "llm", llm={"base_url": server.base_url, "model": "fake-model", "max_retries": 1})


def test_a_selector_failing_on_every_query_is_reported_failed_not_scored(workspace, dataset_id, llm_server):
    with FakeOpenAIServer(server_error_every=1, retry_after=0.01) as erroring, RefusingServer() as refusing:
        comparison = compare_selectors(
            workspace,
            dataset_id,
            [llm_spec(llm_server), failing_spec(erroring), failing_spec(refusing, "LLM bad key")],
            "all",
        )
    assert [r.name for r in comparison.reports] == ["LLM fake-model"]
    (label, error), (key_label, key_error) = comparison.failed
    assert label == "LLM broken" and error.startswith("gave up after 2 attempts: HTTP 500")
    assert key_label == "LLM bad key" and key_error.startswith("HTTP 401") and "Incorrect API key" in key_error
    assert refusing.chat_requests <= 8  # a 401 stops the other requests (at most one per slot in flight)
    assert [r.name for r in comparison.reports] == ["LLM fake-model"]
    [saved] = list_comparisons(workspace)
    assert saved == comparison and saved.failed == comparison.failed
    # A partial failure keeps counting as a miss, with its first error at hand.
    assert comparison.reports[0].failures == 1 and comparison.reports[0].first_error.startswith("unparseable")


def test_when_every_selector_failed_nothing_is_saved(workspace, dataset_id, no_api_key):
    with RefusingServer() as refusing:
        with pytest.raises(RoutingError) as error:
            compare_selectors(
                workspace,
                dataset_id,
                [
                    failing_spec(refusing, "LLM bad key"),
                    SelectorSpec("OpenAI", "llm", llm={"base_url": None, "model": "gpt-4o-mini"}),
                ],
                "all",
            )
    assert "LLM bad key failed on every query: HTTP 401" in str(error.value)
    assert "OpenAI was skipped: api_key" in str(error.value)
    assert saved_files(workspace) == []


def test_a_comparison_saved_with_an_all_failed_report_reads_back_as_failed(workspace):
    comparison = handmade_comparison()
    comparison.reports.append(
        evaluate_selector(ScriptedSelector("dead", [None] * 4), comparison.queries, CHOICES, comparison.expected)
    )
    save_comparison(workspace, comparison)  # as files were written before failed selectors were set apart
    [read] = list_comparisons(workspace)
    assert [r.name for r in read.reports] == ["first", "second"]
    assert read.failed == [("dead", "unparseable answer: ?")]


def test_cli_exits_2_when_an_asked_for_selector_failed(workspace, dataset_id, run_cli):
    with RefusingServer() as refusing:
        code, out, err = run_cli(
            "compare-selectors",
            "tools",
            "--llm-base-url",
            refusing.base_url,
            "--llm-model",
            "fake-model",
            "--part",
            "all",
        )
    assert code == 2 and out == ""
    assert "error: no selector routed any query: LLM fake-model failed on every query: HTTP 401" in err
    assert saved_files(workspace) == []


@pytest.mark.slow
def test_cli_prints_the_rest_and_exits_2_when_one_selector_failed(workspace, dataset_id, run_cli):
    with FakeOpenAIServer(server_error_every=1, retry_after=0.01) as erroring:
        code, out, err = run_cli(
            "compare-selectors",
            "tools",
            "--embedding",
            "base",
            "--llm-base-url",
            erroring.base_url,
            "--llm-model",
            "fake-model",
            "--llm-retries",
            "1",
            "--part",
            "all",
        )
    assert code == 2
    summary = json.loads(out)
    assert list(summary["match_rates"]) == ["all-MiniLM-L6-v2 (bundled)"]
    assert summary["failed"]["LLM fake-model"].startswith("gave up after 2 attempts: HTTP 500")
    assert "error: selector 'LLM fake-model' failed on every query" in err
    assert list_comparisons(workspace)[0].comparison_id == summary["comparison_id"]


def test_cli_shows_partial_failures(workspace, dataset_id, llm_server, run_cli):
    code, out, err = run_cli(
        "compare-selectors",
        "tools",
        "--llm-base-url",
        llm_server.base_url,
        "--llm-model",
        "fake-model",
        "--part",
        "all",
    )
    assert code == 0 and json.loads(out)["failed"] == {}
    assert "LLM fake-model: 1 of 21 queries failed (counted as misses); first error: unparseable answer" in err


def test_comparison_job_reports_a_failed_selector(workspace, dataset_id, llm_server):
    with RefusingServer() as refusing:
        status = start_comparison_job(workspace, dataset_id, [llm_spec(llm_server), failing_spec(refusing)], part="all")
        final = jobs.wait(workspace, status.run_id, timeout=120)
    assert final.state == "succeeded", final.error
    [[label, error]] = final.result["failed"]
    assert label == "LLM broken" and error.startswith("HTTP 401")
    assert list(final.result["match_rates"]) == ["LLM fake-model"] and "1 failed" in final.message
    events = jobs.read_events(workspace, status.run_id)
    assert [e["selector"] for e in events if e["event"] == "selector_failed"] == ["LLM broken"]


@pytest.mark.fault(
    "The worker of a selector comparison killed (kill -9) half-way",
    sees="the run interrupted on the Compare page and in `ragtune runs`",
    kept="every earlier comparison; nothing half-written is saved or left behind",
)
def test_a_killed_comparison_saves_nothing_and_keeps_the_earlier_ones(workspace, dataset_id):
    import os
    import signal
    import time

    from ragtune_core.store.workspace import Workspace

    with FakeOpenAIServer(responder=router_llm) as fast:
        earlier = compare_selectors(workspace, dataset_id, [llm_spec(fast)], "all")
    with FakeOpenAIServer(responder=router_llm, latency=0.5) as slow:
        spec = SelectorSpec(
            "LLM slow", "llm", llm={"base_url": slow.base_url, "model": "fake-model", "max_concurrency": 1}
        )
        status = start_comparison_job(workspace, dataset_id, [spec], part="all")
        deadline = time.monotonic() + 60
        while slow.chat_requests < 2:  # routing has begun
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(jobs.read_status(workspace, status.run_id).pid, signal.SIGKILL)
        assert jobs.wait(workspace, status.run_id, timeout=30).state == "interrupted"
    reopened = Workspace(workspace.root)
    assert [c.comparison_id for c in list_comparisons(reopened)] == [earlier.comparison_id]
    assert not [p for p in reopened.root.rglob("*") if p.name.endswith((".tmp", ".partial"))]


class _SpikyLocalSelector:
    """Routes every query to choice 0; its first call stalls (a load spike, a first call's set-up)."""

    local = True

    def __init__(self, name: str, seconds_per_query: float, first_stall: float):
        self.name, self.seconds_per_query, self.stall = name, seconds_per_query, first_stall

    def select(self, queries, choices):
        time.sleep(self.stall + self.seconds_per_query * len(queries))
        self.stall = 0.0
        return [Selection(0, [1.0] + [0.0] * (len(choices) - 1), self.seconds_per_query) for _ in queries]


def test_a_comparison_times_local_selectors_again_in_steady_state_and_taking_turns(workspace, dataset_id, monkeypatch):
    from ragtune_core.routing import compare as compare_module

    spiky = _SpikyLocalSelector("spiky", 0.001, first_stall=0.5)  # as fast as the other, but its turn stalled
    steady = _SpikyLocalSelector("steady", 0.001, first_stall=0.0)
    monkeypatch.setattr(compare_module, "load_selectors", lambda specs: ([spiky, steady], []))
    specs = [SelectorSpec("spiky", "embedding"), SelectorSpec("steady", "embedding")]
    comparison = compare_selectors(workspace, dataset_id, specs, part="all")
    latency = {r.name: r.mean_latency for r in comparison.reports}
    assert latency["spiky"] < 2 * latency["steady"], latency  # without the steady timing: hundreds of times
    assert all(len(r.latencies) == min(len(r.picks), compare_module.TIMING_QUERIES) for r in comparison.reports)


class _OneSlowQuerySelector(_SpikyLocalSelector):
    """Routes every query to choice 0; one query of them takes 30 ms more, as a long one would."""

    def __init__(self, slow_query: str):
        super().__init__("one slow query", 0.001, first_stall=0.0)
        self.slow_query = slow_query

    def select(self, queries, choices):
        time.sleep(0.03 * queries.count(self.slow_query))
        return super().select(queries, choices)


def test_local_selectors_are_timed_one_query_a_call_so_their_percentiles_differ(workspace, dataset_id, monkeypatch):
    from ragtune_core.routing import compare as compare_module

    selector = _OneSlowQuerySelector(QUERIES[0][0])
    monkeypatch.setattr(compare_module, "load_selectors", lambda specs: ([selector], []))
    comparison = compare_selectors(workspace, dataset_id, [SelectorSpec("one slow query", "embedding")], part="all")
    [report] = comparison.reports
    assert max(report.latencies) >= 0.03 > sorted(report.latencies)[len(report.latencies) // 2]  # p95 is not p50
    assert report.mean_latency == pytest.approx(sum(report.latencies) / len(report.latencies))
