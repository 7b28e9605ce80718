import json

import pytest

from ragtune_core.llm import LLMConfig
from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.routing.compare import router_task
from ragtune_core.routing.llm_selector import (
    NO_CALL,
    SEVERAL_CALLS,
    InvalidOutput,
    LLMSelector,
    function_tools,
    invalid_output_kind,
    parse_tool_call,
    tools_hash,
)
from ragtune_core.routing.llm_selector import PLAIN_TEXT as PLAIN
from ragtune_core.routing.llm_selector import UNKNOWN_TOOL as UNKNOWN
from ragtune_core.store.staging import staging_folder
from ragtune_core.training.llm.data import (
    MISSING_TOOL_CALL,
    SCHEMA,
    SYSTEM_PROMPT,
    UNKNOWN_TOOL,
    ChatDataError,
    build_chat_data,
    called_tool,
    chat_example,
    check_example,
    import_jsonl,
    list_chat_data,
    load_chat_data,
    parse_jsonl,
    save_chat_data,
    to_jsonl,
)
from tests.fake_openai import FakeOpenAIServer
from tests.training.llm.helpers import (
    MADE_UP,
    PLAIN_TEXT,
    QUERIES,
    RIGHT_TOOL,
    TWO_CALLS,
    WRONG,
    router_dataset,
    teacher,
)


def test_lines_follow_the_contract_and_the_dataset_split():
    dataset = router_dataset()
    data = build_chat_data(dataset)
    assert len(data.train) + len(data.val) == len(QUERIES)
    val_queries = {line["messages"][1]["content"] for line in data.val}
    assert val_queries == {q for qid, q in dataset.queries.items() if dataset.split[qid] == "val"}
    line = data.train[0]
    assert [m["role"] for m in line["messages"]] == ["system", "user", "assistant"]
    assert line["messages"][0]["content"] == SYSTEM_PROMPT
    call = line["messages"][2]["tool_calls"][0]
    assert call == {
        "type": "function",
        "id": "call_0",
        "function": {"name": RIGHT_TOOL[line["messages"][1]["content"]], "arguments": "{}"},
    }
    assert line["parallel_tool_calls"] is False
    assert [t["function"]["name"] for t in line["tools"]] == [c.name for c in router_task(dataset)[1]]
    assert line["tools"][0]["function"]["parameters"] == {"type": "object", "properties": {}}
    assert all(check_example(line) == [] for line in data.train + data.val)


def test_a_dataset_without_split_is_split_by_document():
    dataset = router_dataset()
    dataset.split = {}
    data = build_chat_data(dataset, seed=3)
    documents = lambda lines: {called_tool(line).rsplit("_", 1)[-1] for line in lines}  # noqa: E731
    assert data.val and not documents(data.train) & documents(data.val)


def test_teacher_labels_keep_agreements_and_list_disagreements():
    with FakeOpenAIServer(responder=teacher) as server:
        config = LLMConfig(base_url=server.base_url, model="teacher-model", max_retries=0)
        data = build_chat_data(router_dataset(), labels="teacher", teacher=config)
    kept = {line["messages"][1]["content"] for line in data.train + data.val}
    wrong = {*WRONG, PLAIN_TEXT, TWO_CALLS, MADE_UP}
    assert kept == {q for q, _ in QUERIES} - wrong
    by_query = {d["query"]: d for d in data.disagreements}
    assert set(by_query) == wrong
    assert by_query[next(iter(WRONG))]["teacher"] == "summary_tool_cooking"
    assert "plain text" in by_query[PLAIN_TEXT]["teacher"]
    assert "several tool calls" in by_query[TWO_CALLS]["teacher"]
    assert "unknown tool" in by_query[MADE_UP]["teacher"]
    assert data.teacher == "teacher-model" and data.summary()["disagreements"] == 4


def test_teacher_labels_need_a_teacher():
    with pytest.raises(ChatDataError, match="teacher LLM"):
        build_chat_data(router_dataset(), labels="teacher")


def test_tool_calling_selector_sends_tools_and_the_system_prompt():
    dataset = router_dataset()
    queries, choices, expected = router_task(dataset)
    with FakeOpenAIServer(responder=teacher) as server:
        selector = LLMSelector(
            LLMConfig(base_url=server.base_url, model="m", max_retries=0), tool_calling=True, system_prompt="route it"
        )
        selections = selector.select(queries, choices)
        body = next(r.body for r in server.requests if r.path.endswith("/chat/completions"))
    assert body["tools"] == function_tools(choices) and body["tool_choice"] == "required"
    assert body["messages"][0] == {"role": "system", "content": "route it"} and "response_format" not in body
    kinds = [invalid_output_kind(s.error) for s in selections]
    assert kinds.count(PLAIN) == kinds.count(SEVERAL_CALLS) == kinds.count(UNKNOWN) == 1
    right = [s.index == e for s, e in zip(selections, expected, strict=True)]
    assert sum(right) == len(QUERIES) - 4
    assert all(s.latency > 0 for s in selections)


@pytest.mark.parametrize(
    "calls, content, kind",
    [
        ([], "", NO_CALL),
        ([], "the tax one", PLAIN),
        ([{"name": "a"}, {"name": "b"}], "", SEVERAL_CALLS),
        ([{"name": "zzz"}], "", UNKNOWN),
    ],
)
def test_invalid_outputs_are_named(calls, content, kind):
    with pytest.raises(InvalidOutput) as caught:
        parse_tool_call(calls, content, ["a", "b"])
    assert caught.value.kind == kind and invalid_output_kind(str(caught.value)) == kind
    assert parse_tool_call([{"name": "b"}], "", ["a", "b"]) == 1


def test_tools_hash_changes_with_any_tool_detail():
    _, choices, _ = router_task(router_dataset())
    tools = function_tools(choices)
    assert tools_hash(tools) == tools_hash(json.loads(json.dumps(tools)))
    changed = json.loads(json.dumps(tools))
    changed[0]["function"]["description"] += "!"
    assert tools_hash(changed) != tools_hash(tools)
    assert tools_hash(tools[::-1]) != tools_hash(tools)


def test_check_example_names_each_kind_of_problem():
    tools = [{"type": "function", "function": {"name": "a", "description": "x", "parameters": {}}}]
    good = chat_example("q?", "a", tools)
    assert check_example(good) == []
    assert check_example(chat_example("q?", "b", tools)) == [(UNKNOWN_TOOL, "calls 'b', which is not one of the tools")]
    no_call = {**good, "messages": good["messages"][:2]}
    assert [k for k, _ in check_example(no_call)] == [MISSING_TOOL_CALL]
    assert [k for k, _ in check_example({**good, "extra": 1})] == [SCHEMA]
    bad_arguments = json.loads(json.dumps(good))
    bad_arguments["messages"][2]["tool_calls"][0]["function"]["arguments"] = {}
    assert [k for k, _ in check_example(bad_arguments)] == [SCHEMA]
    assert [k for k, _ in check_example([1])] == [SCHEMA]


def test_jsonl_round_trip_and_per_line_problems(tmp_path):
    data = build_chat_data(router_dataset())
    again = import_jsonl(to_jsonl(data.train), to_jsonl(data.val))
    assert again.train == data.train and again.val == data.val and again.tools_hash == data.tools_hash
    text = to_jsonl(data.train[:2]) + "not json\n\n" + json.dumps({"messages": []}) + "\n"
    examples, problems = parse_jsonl(text)
    assert len(examples) == 2
    assert {p["line"] for p in problems} == {3, 5}
    with pytest.raises(ChatDataError, match="line 3: not JSON"):
        import_jsonl(text)
    other_tools = chat_example("q?", "a", [{"type": "function", "function": {"name": "a"}}])
    with pytest.raises(ChatDataError, match="train line 2 offers 1 tools, not the 6 most lines offer"):
        import_jsonl(to_jsonl([data.train[0], other_tools]))
    renamed = build_chat_data(city_router(), seed=1)  # renamed copies offer renamed tools, as many
    again = import_jsonl(to_jsonl(renamed.train), to_jsonl(renamed.val))
    assert again.train == renamed.train and again.tools == renamed.tools


def test_chat_data_saved_in_the_workspace(workspace):
    dataset_id = save_dataset(workspace, "tools", router_dataset(), None, {}).id
    data = build_chat_data(router_dataset(), dataset_id=dataset_id)
    save_chat_data(workspace, "tools-chat", data)
    loaded = load_chat_data(workspace, "tools-chat")
    assert loaded.train == data.train and loaded.dataset_id == dataset_id and loaded.tools_hash == data.tools_hash
    assert list_chat_data(workspace) == ["tools-chat"]
    with pytest.raises(ChatDataError, match="already exists"):
        save_chat_data(workspace, "tools-chat", data)
    with pytest.raises(ChatDataError, match="letters, digits"):
        save_chat_data(workspace, "../escape", data)
    with pytest.raises(ChatDataError, match="saved: tools-chat"):
        load_chat_data(workspace, "nope")


@pytest.mark.fault(
    "A chat data save killed half-way, or two saves of one name at once",
    sees="the second save: 'already exists: pick another name'",
    kept="the first save whole; a killed save's staging folder is removed on the next open",
)
def test_chat_data_saves_stage_apart_and_a_dead_ones_folder_is_removed(workspace, monkeypatch):
    import subprocess
    import sys

    from ragtune_core.store import Workspace
    from ragtune_core.training.llm import data as chat_data

    data = build_chat_data(router_dataset())
    folder = workspace.dir(chat_data.DATA_FOLDER) / "chat"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stray = folder.with_name(f".chat.{int(dead.stdout)}.abcdefgh.partial")  # a save killed before its rename
    stray.mkdir(parents=True)
    (stray / "train.jsonl").write_text("{")
    live = staging_folder(folder)  # this process is saving
    Workspace(workspace.root)
    assert not stray.exists() and live.exists()
    # Another save of the name renames first, between this one's check and its rename:
    real_publish = chat_data.publish_folder
    monkeypatch.setattr(
        chat_data, "publish_folder", lambda staged, target: real_publish(live, target) or real_publish(staged, target)
    )
    for name in ("train.jsonl", "val.jsonl", "data.json"):  # the other save's whole folder
        (live / name).write_text("x")
    with pytest.raises(ChatDataError, match="'chat' already exists"):
        save_chat_data(workspace, "chat", data)
    assert sorted(p.name for p in folder.parent.iterdir()) == ["chat"] and (folder / "data.json").read_text() == "x"


def city_router() -> QADataset:
    """Three cities with a tool of each kind; Oslo's questions are the validation part."""
    cities = ("Berlin", "Lisbon", "Oslo")
    tools = [
        {
            "id": f"{kind}:{city}",
            "name": f"{kind}_tool_{city.lower()}",
            "document_id": city,
            "kind": kind,
            "description": f"Useful for {'specific questions' if kind == 'vector' else 'a holistic summary'} "
            f"about {city}.",
        }
        for city in cities
        for kind in ("vector", "summary")
    ]
    asked = {
        "q1": ("How old is Berlin's zoo?", "vector:Berlin"),
        "q2": ("berlin in a nutshell", "summary:Berlin"),
        "q3": ("What is the tallest tower?", "vector:Lisbon"),
        "q4": ("When was Oslo founded?", "vector:Oslo"),
    }
    return QADataset(
        queries={q: text for q, (text, _) in asked.items()},
        corpus={t["id"]: t["description"] for t in tools},
        relevant_docs={q: [tool] for q, (_, tool) in asked.items()},
        passage_docs={t["id"]: t["document_id"] for t in tools},
        split={q: "val" if tool.endswith("Oslo") else "train" for q, (_, tool) in asked.items()},
        kind="router",
        extra={"tools": tools},
    )


def test_training_lines_that_name_their_city_get_a_copy_with_every_city_renamed():
    data = build_chat_data(city_router(), seed=1)
    originals, copies = data.train[0::2], data.train[1::2]  # each line, then its copy
    assert [line["messages"][1]["content"] for line in originals] == [
        "How old is Berlin's zoo?",
        "berlin in a nutshell",
        "What is the tallest tower?",
    ]  # names no city: no copy
    assert len(copies) == 2 and all(line["tools"] == data.tools for line in originals)
    assert [line["messages"][1]["content"] for line in data.val] == ["When was Oslo founded?"] and data.val[0][
        "tools"
    ] == data.tools
    for copy, kind in zip(copies, ("vector", "summary"), strict=True):
        query, called = copy["messages"][1]["content"], called_tool(copy)
        names = [t["function"]["name"] for t in copy["tools"]]
        assert "berlin" not in (query + json.dumps(copy["tools"])).lower()  # every city renamed, everywhere
        assert called.startswith(f"{kind}_tool_") and called in names and check_example(copy) == []
        invented = called.split("_tool_")[1]
        described = next(t for t in copy["tools"] if t["function"]["name"] == called)["function"]["description"]
        assert invented.capitalize() in described and len(set(names)) == 6
        assert invented[:2] in query.lower()  # the question names it (a quarter misspell it)
    assert build_chat_data(city_router(), seed=1) == data  # the seed fixes the names
    assert len(build_chat_data(city_router(), name_swaps=0).train) == 3
    assert data.renamed == 2 and data.summary()["renamed"] == 2
