"""Every dataset file is checked at the door: what the import (CLI or page) accepts is usable by
every later step, and what it refuses is named by file, key and what was expected."""

import json
from dataclasses import fields

import pytest

from ragtune_core.cli import main
from ragtune_core.questions.dataset_file import StoredTool
from ragtune_core.questions.qa_dataset import DatasetError, QADataset
from ragtune_core.questions.router.tools import Tool, dataset_tools
from tests.questions.test_qa_dataset import LLAMA_INDEX_FILE

Q1, Q2 = "6f0e7c1a-0d1b-4c59-9d44-0c0f5d1e2a11", "b3a2c9f4-57e8-4f0e-a1d2-6e3b8c9d0f22"
TOOLS = [
    {
        "id": "vector_tool_a",
        "name": "vector_tool_a",
        "description": "Facts about A.",
        "kind": "vector",
        "document_id": "a",
    },
    {
        "id": "summary_tool_a",
        "name": "summary_tool_a",
        "description": "A summary of A.",
        "kind": "summary",
        "document_id": "a",
    },
]


def llama() -> dict:
    return json.loads(LLAMA_INDEX_FILE)


def router() -> dict:
    return {
        "queries": {"q1": "What is A's population?", "q2": "Summarise A."},
        "corpus": {t["id"]: t["description"] for t in TOOLS},
        "relevant_docs": {"q1": ["vector_tool_a"], "q2": ["summary_tool_a"]},
        "ragtune": {"kind": "router", "split": {"q1": "train", "q2": "val"}, "extra": {"tools": TOOLS}},
    }


BAD_FILES = {
    "no questions": (
        lambda d: d.update(queries={}, relevant_docs={}),
        "queries: expected at least one question, got an object",
    ),
    "a null question": (lambda d: d["queries"].update({Q1: None}), f'queries["{Q1}"]: expected a string, got null'),
    "an object as question": (
        lambda d: d["queries"].update({Q1: {"text": "?"}}),
        f'queries["{Q1}"]: expected a string, got an object',
    ),
    "a number as question": (lambda d: d["queries"].update({Q1: 42}), f'queries["{Q1}"]: expected a string, got 42'),
    "a blank question": (
        lambda d: d["queries"].update({Q1: "  "}),
        f'queries["{Q1}"]: expected a non-empty string, got "  "',
    ),
    "a null passage": (lambda d: d["corpus"].update({"node-1": None}), 'corpus["node-1"]: expected a string, got null'),
    "an unknown split part": (
        lambda d: d.update(ragtune={"split": {Q1: "holdout"}}),
        f'ragtune.split["{Q1}"]: expected one of "train", "val", "test", got "holdout"',
    ),
    "an unknown kind": (
        lambda d: d.update(ragtune={"kind": "graph"}),
        'ragtune.kind: expected one of "qa", "router", got "graph"',
    ),
    "a ragtune block that is a list": (
        lambda d: d.update(ragtune=[1]),
        "ragtune: expected an object or null, got a list of 1",
    ),
    "split as a string": (
        lambda d: d.update(ragtune={"split": "train"}),
        'ragtune.split: expected an object, got "train"',
    ),
    "passage_docs of numbers": (
        lambda d: d.update(ragtune={"passage_docs": {"node-1": 3}}),
        'ragtune.passage_docs["node-1"]: expected a string, got 3',
    ),
    "a typo in the ragtune block": (lambda d: d.update(ragtune={"splitt": {}}), "ragtune: unknown field(s) splitt"),
    "a typo at the top": (lambda d: d.update(relevent_docs={}), "unknown field(s) relevent_docs"),
    "a split naming no query": (
        lambda d: d.update(ragtune={"split": {"ghost": "val"}}),
        "ragtune.split names query 'ghost', which is not in queries",
    ),
    "mode as a number": (lambda d: d.update(mode=1), "mode: expected a string, got 1"),
}


@pytest.mark.fault(
    "An imported dataset file with no questions, a null, object, number or blank question, a null passage, an "
    "unknown split part or kind, a ragtune block of the wrong types, or a misspelt key",
    sees='the import is refused with the file, the key (queries["q3"]) and what was expected',
    kept="nothing is saved",
)
@pytest.mark.parametrize("case", BAD_FILES)
def test_a_bad_dataset_file_is_refused_naming_file_key_and_expectation(tmp_path, case):
    change, message = BAD_FILES[case]
    data = llama()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(DatasetError) as error:
        QADataset.load(path)
    assert str(error.value).startswith("bad.json: ")
    assert message in str(error.value)


BAD_TOOLS = {
    "tools as a string": ("vector_tool_a", 'ragtune.extra.tools: expected a list, got "vector_tool_a"'),
    "tools as an object": ({"a": TOOLS[0]}, "ragtune.extra.tools: expected a list, got an object"),
    "a tool that is a string": (["vector_tool_a", TOOLS[1]], "ragtune.extra.tools[0]: expected an object with id"),
    "a tool without a name": (
        [{k: v for k, v in TOOLS[0].items() if k != "name"}, TOOLS[1]],
        "ragtune.extra.tools[0]: missing name",
    ),
    "a tool with a numeric description": (
        [{**TOOLS[0], "description": 7}, TOOLS[1]],
        "ragtune.extra.tools[0].description: expected a string, got 7",
    ),
    "an answer that is no tool": ([TOOLS[0]], "'summary_tool_a', an answer of this router dataset, is no tool's id"),
}


@pytest.mark.fault(
    "A router dataset whose tools are not a list of tool objects (a string, an object, a tool without a name, a "
    "numeric description, an answer that is no tool)",
    sees="the import is refused naming ragtune.extra.tools and the entry",
    kept="nothing is saved",
)
@pytest.mark.parametrize("case", BAD_TOOLS)
def test_router_tools_that_are_not_a_list_of_tools_are_refused(case):
    tools, message = BAD_TOOLS[case]
    data = router()
    data["ragtune"]["extra"]["tools"] = tools
    with pytest.raises(DatasetError) as error:
        QADataset.from_json_dict(data, "cities.json")
    assert message in str(error.value) and str(error.value).startswith("cities.json: ")


def test_a_good_router_file_gives_tools_every_page_can_use():
    dataset = QADataset.from_json_dict(router(), "cities.json")
    assert [t.name for t in dataset_tools(dataset)] == ["vector_tool_a", "summary_tool_a"]
    assert dataset.split == {"q1": "train", "q2": "val"}


def test_the_stored_tool_layout_is_the_tool_the_app_routes_with():
    assert set(StoredTool.model_fields) == {f.name for f in fields(Tool)}


@pytest.mark.fault(
    "ragtune import-dataset of a file that is not a usable dataset",
    sees="exit 2 with the file, the key and what was expected",
    kept="nothing is saved",
)
@pytest.mark.parametrize("case", ["no questions", "a null question", "an unknown split part", "an unknown kind"])
def test_the_cli_import_exits_2_naming_the_file_and_key_and_saves_nothing(capsys, workspace, tmp_path, case):
    change, message = BAD_FILES[case]
    data = llama()
    change(data)
    path = tmp_path / "upload.json"
    path.write_text(json.dumps(data))
    code = main(["--workspace", str(workspace.root), "import-dataset", str(path), "--name", "x"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.startswith("error: upload.json: ") and message in err and "Traceback" not in err
    assert workspace.list_datasets() == []


def test_the_cli_import_of_bad_router_tools_exits_2(capsys, workspace, tmp_path):
    data = router()
    data["ragtune"]["extra"]["tools"] = "vector_tool_a"
    path = tmp_path / "router.json"
    path.write_text(json.dumps(data))
    code = main(["--workspace", str(workspace.root), "import-dataset", str(path), "--name", "r"])
    err = capsys.readouterr().err
    assert code == 2 and "router.json: ragtune.extra.tools: expected a list" in err
    assert workspace.list_datasets() == []
