"""A small router dataset and a fake teacher that answers by function calls, for the LLM tests."""

from tests.routing.test_compare import QUERIES, TOOL_IDS, TOOLS, router_dataset  # noqa: F401

NAME_OF = {tool_id: name for tool_id, name, *_ in TOOLS}
RIGHT_TOOL = {query: NAME_OF[tool_id] for query, tool_id in QUERIES}
# The teacher's mistakes: a wrong tool, plain text, two calls and a tool that does not exist.
WRONG = {"How long should I knead bread dough?": "summary_tool_cooking"}
PLAIN_TEXT = "What VAT rate applies to restaurant meals?"
TWO_CALLS = "How many moons does Jupiter have?"
MADE_UP = "Summarize the whole astronomy guide for me."


def tool_call(*names: str) -> dict:
    calls = [
        {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": "{}"}} for i, n in enumerate(names)
    ]
    return {"role": "assistant", "content": None, "tool_calls": calls}


def teacher(request: dict) -> str | dict:
    """Calls the right tool of each test query, except for the mistakes above."""
    query = request["messages"][-1]["content"]
    assert request.get("tool_choice") == "required" and request.get("tools"), "asked without tools"
    if query == PLAIN_TEXT:
        return "I think it is the tax tool."
    if query == TWO_CALLS:
        return tool_call("vector_tool_astronomy", "summary_tool_astronomy")
    if query == MADE_UP:
        return tool_call("astronomy_everything")
    return tool_call(WRONG.get(query, RIGHT_TOOL[query]))


def interrupted_hosted_run(workspace, server) -> str:
    """A hosted fine-tuning ("chat" data to model "ft" at the fake `server`) whose worker is killed
    (SIGKILL) once the endpoint's job exists: the interrupted run's id."""
    import os
    import signal
    import time

    from ragtune_core import jobs
    from ragtune_core.llm.config import LLMConfig
    from ragtune_core.training.llm.finetune import LLMFinetuneRequest

    endpoint = LLMConfig(base_url=server.base_url, model="fake-base").to_public_dict()
    run_id = jobs.start_llm_finetune_job(
        workspace, LLMFinetuneRequest("chat", "ft", "openai", "fake-base", llm=endpoint, poll_seconds=1.0)
    ).run_id
    deadline = time.monotonic() + 60
    while not any(e["event"] == "provider_job" for e in jobs.read_events(workspace, run_id)):
        assert time.monotonic() < deadline, "the fine-tuning job was never created"
        time.sleep(0.05)
    os.kill(jobs.read_status(workspace, run_id).pid, signal.SIGKILL)
    assert jobs.wait(workspace, run_id, timeout=30).state == "interrupted"
    return run_id


def hosted_flags(base_url: str, provider: str = "openai") -> list[str]:
    """The CLI flags of a hosted fine-tune of "fake-base" on a fake provider at `base_url`, polled fast."""
    return ["--provider", provider, "--base-model", "fake-base", "--base-url", base_url, "--poll-seconds", "0.01"]
