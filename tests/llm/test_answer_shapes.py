"""Every endpoint answer is read through one schema per shape (llm/schemas.py, network.read_answer):
an answer of another shape, or a redirect not followed, is one error naming the endpoint and what is
missing; never a Python exception, never an endless poll."""

import pytest

from ragtune_core.llm.batch import BatchError, complete_in_batch
from ragtune_core.llm.client import Failure, complete_many
from ragtune_core.llm.config import LLMConfig
from ragtune_core.network import ALLOWED_HOSTS_ENV
from tests.fake_shapes import WrongShapeServer

PROMPTS = [[{"role": "user", "content": f"prompt {i}"}] for i in range(3)]


class Polls:
    """A sleep for complete_in_batch that fails the test instead of polling forever."""

    def __init__(self, most: int = 50):
        self.count, self.most = 0, most

    def __call__(self, seconds: float) -> None:
        self.count += 1
        assert self.count < self.most, "still polling"


@pytest.mark.fault(
    "An LLM endpoint that answers with a redirect (307) to a host off the allow-list",
    sees="each prompt failed with 'HTTP 307: the endpoint redirects to <host>, which is not followed', "
    "one request in all",
    kept="nothing is sent to the other host",
)
def test_a_redirect_is_not_followed_and_fails_the_run_with_its_target(plain_llm_environment, monkeypatch):
    monkeypatch.setenv(ALLOWED_HOSTS_ENV, "127.0.0.1")
    target = "http://elsewhere.example/v1/chat/completions"
    with WrongShapeServer(status=307, headers={"location": target}) as server:
        outcomes = complete_many(LLMConfig(server.base_url, "m", max_concurrency=1), PROMPTS)
    assert all(isinstance(o, Failure) for o in outcomes)
    assert outcomes[0].message.startswith(f"HTTP 307: the endpoint redirects to {target}, which is not followed")
    assert len(server.paths) == 1  # the redirect dooms the other prompts: they would be redirected too


@pytest.mark.parametrize(
    "body, missing",
    [
        ({"object": "surprise"}, "/files answered in another shape: no id"),
        ({"id": "file-1"}, "/batches answered in another shape: no status"),
        ({"id": "file-1", "status": "sleeping"}, "/batches answered in another shape: status: Input should be"),
        (["a", "list"], "/files answered in another shape: not a JSON object but"),
    ],
)
@pytest.mark.fault(
    "A Batch API endpoint answering 200 with JSON of another shape (no id, no status, an unknown status, a list)",
    sees="generation stops with one error naming the endpoint's path and the field missing or wrong; no endless "
    "'batch None None' poll",
    kept="the batch state file, to resume once the endpoint answers right",
)
def test_a_batch_endpoint_of_another_shape_is_one_error_not_an_endless_poll(
    plain_llm_environment, tmp_path, body, missing
):
    with WrongShapeServer(body=body) as server:
        config = LLMConfig(server.base_url, "m", batch=True)
        with pytest.raises(BatchError, match="answered in another shape") as refused:
            complete_in_batch(config, PROMPTS, tmp_path / "state.json", poll_seconds=0, sleep=Polls())
    assert f"{server.base_url}{missing}" in str(refused.value)


def test_a_batch_that_never_ends_is_waited_for_until_the_deadline_naming_what_it_waits_for(
    plain_llm_environment, tmp_path
):
    waits = []
    with WrongShapeServer(body={"id": "batch_9", "status": "in_progress"}) as server:
        config = LLMConfig(server.base_url, "m", batch=True)
        with pytest.raises(
            BatchError,
            match=r"batch batch_9 is still in_progress after .* h of waiting for it to "
            r"end; the batch is kept in .*state.json: run again to resume it",
        ):
            complete_in_batch(
                config, PROMPTS, tmp_path / "state.json", poll_seconds=0.01, max_wait_seconds=0.2, on_wait=waits.append
            )
    assert waits and set(waits) == {"waiting for batch batch_9 to end: in_progress"}


def _openai_shaped(base_url):
    from ragtune_core.training.llm.openai_shaped import OpenAIShapedProvider

    return OpenAIShapedProvider(LLMConfig(base_url, "m"))


def _together(base_url):
    from ragtune_core.training.llm.together import TogetherProvider

    return TogetherProvider(LLMConfig(base_url, "m"))


def _fireworks(base_url):
    from ragtune_core.training.llm.fireworks import FireworksProvider

    return FireworksProvider(LLMConfig(f"{base_url}/accounts/acme", "m"))


@pytest.mark.parametrize(
    "provider, body, missing",
    [
        (
            _openai_shaped,
            {"id": "ftjob-1", "status": "running"},
            "/fine_tuning/jobs/job-1 answered in another shape: no model; no created_at",
        ),
        (
            _openai_shaped,
            {"id": "ftjob-1", "status": "asleep", "model": "m", "created_at": 1},
            "status: Input should be",
        ),
        (_together, {"object": "fine-tune"}, "/fine-tunes/job-1) answered in another shape: no id; no status"),
        (_together, {"id": "ft-1", "status": "running", "token_count": "many"}, "token_count: Input should be"),
        (
            _fireworks,
            {"state": "JOB_STATE_RUNNING"},
            "/supervisedFineTuningJobs/job-1) answered in another shape: no name",
        ),
        (_fireworks, "<html>busy</html>", "answered in another shape: not a JSON object but '<html>busy</html>'"),
    ],
)
@pytest.mark.fault(
    "A fine-tuning endpoint (OpenAI-shaped, Together, Fireworks) answering 200 with JSON of another shape",
    sees="one error naming the endpoint's path and the field missing or wrong (no id, no created_at...), never "
    "a TypeError or KeyError",
    kept="the run and its data; the endpoint's job, to be followed again",
)
def test_a_fine_tuning_endpoint_of_another_shape_is_one_error_naming_the_field(
    plain_llm_environment, provider, body, missing
):
    from ragtune_core.training.llm.providers import ProviderError

    with WrongShapeServer(body=body) as server:
        with pytest.raises(ProviderError, match="answered in another shape") as refused:
            provider(server.base_url).status("job-1")
    assert missing in str(refused.value) and server.base_url in str(refused.value)
