"""Generation jobs in batch mode: a cancelled job cancels its batch at the provider, and the same
job started again resumes without paying twice. Against the loopback fake's Batch API."""

import json
import time

import pytest

from ragtune_core import jobs
from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.jobs import JobKind
from ragtune_core.llm.client import make_client
from ragtune_core.llm.config import LLMConfig
from tests.fake_openai import FakeOpenAIServer

pytestmark = pytest.mark.usefixtures("plain_llm_environment")


def _corpus(workspace):
    texts = [
        f"Riverton built its harbour in {1800 + i}; the Northfield ferry has carried {i * 10} people." for i in range(6)
    ]
    return save_corpus(
        workspace,
        "harbour",
        [Document("riverton", "Riverton", "text:riverton", " ".join(texts))],
        [Chunk(f"riverton#{i}", "riverton", text) for i, text in enumerate(texts)],
        {},
    )


def _batch_created(workspace, timeout: float = 60.0) -> str:
    """The id of the batch the job's state file holds, once it holds one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in (workspace.root / "cache" / "questions" / "batches").glob("*.json"):
            batch = json.loads(path.read_text()).get("batch") or {}
            if batch.get("id"):
                return batch["id"]
        time.sleep(0.05)
    raise AssertionError("the job created no batch")


def test_cancelling_a_batch_generation_cancels_its_batch_and_a_new_run_resumes_it(workspace):
    corpus = _corpus(workspace)
    with FakeOpenAIServer(batches=True) as server:
        config = LLMConfig(server.base_url, "fake-model", batch=True)
        params = {"corpus_id": corpus.id, "generator": "llm", "llm": config.to_public_dict()}
        first = jobs.start_job(workspace, JobKind.GENERATE_QUESTIONS, params)
        batch_id = _batch_created(workspace)
        assert jobs.cancel_job(workspace, first.run_id).state == "cancelled"
        assert server.batches.batches[batch_id]["_cancel"]  # asked before the worker was gone
        assert make_client(config).batches.retrieve(batch_id).status == "cancelled"
        events = [e for e in jobs.read_events(workspace, first.run_id) if e["event"] == "batch_cancelled"]
        assert [(e["batch_id"], e["outcome"]) for e in events] == [(batch_id, "cancelled")]

        second = jobs.start_job(workspace, JobKind.GENERATE_QUESTIONS, params)
        status = jobs.wait(workspace, second.run_id, timeout=60)
        assert status.state == "succeeded", status.error
        resent = server.ft.files[server.batches.batches["batch_2"]["input_file_id"]]["content"].decode().splitlines()
        chat_requests, created = server.chat_requests, server.batches.created
    assert status.result["questions"] == 24 and status.result["failures"] == 0  # 6 chunks, 4 questions each
    assert created == 2 and chat_requests == 0
    assert len(resent) == 3  # the cancelled batch answered half its lines: only the other half is sent again
