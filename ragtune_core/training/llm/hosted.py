"""What every hosted provider shares: its endpoint's settings, one SDK client, requests retried through
429s and 5xx (`HostedProvider`); and `JobsAPIProvider`, a provider with a fine-tuning API of its own
(Together, Fireworks) asked in JSON through that client, with the helpers their answers need."""

from __future__ import annotations

import datetime
import functools

import openai

from ...llm.client import describe_error, make_client, wait_callback
from ...llm.config import LLMConfig
from ...llm.retries import call_retrying
from ...network import Answer, read_answer
from .providers import Availability, ProviderError, ProviderJob


class HostedProvider:
    """A provider behind an HTTP API: the endpoint's settings, and one SDK client made on first use."""

    def __init__(self, config: LLMConfig):
        self.config = config

    @functools.cached_property
    def client(self) -> openai.OpenAI:
        return make_client(self.config)

    @property
    def inference_base_url(self) -> str | None:
        """Where a model fine-tuned here answers (None: OpenAI's API): this endpoint, unless a provider
        says otherwise."""
        return self.config.base_url

    def _send(self, request, *args, retrying: bool = True, **kwargs):
        """`request(*args, **kwargs)`, retried through 429s, 5xx and dropped connections up to the endpoint's
        `max_retries` (each wait told to the `report_waits` callback in effect). `retrying=False` sends it
        once: a job's creation, which a 5xx may answer after the job was made, so that a retry would train
        (and bill) twice."""
        retries = self.config.max_retries if retrying else 0
        return call_retrying(lambda: request(*args, **kwargs), retries, wait_callback(None))


class JobsAPIProvider(HostedProvider):
    """A provider with a fine-tuning API of its own (Together, Fireworks), asked in JSON through the SDK's
    client (its key handling, host allow-list and errors), not a second HTTP stack. A subclass names the
    provider in messages (`label`), says what its users must know (`notice`), and which path answers
    where its API is served (`probe_path`)."""

    label = ""
    notice = ""
    probe_path = ""
    not_found_hint = ""  # added to the reason a server without the API (404) is refused

    @classmethod
    def default_base_url(cls) -> str:
        """Where the provider's API is when no base URL is given."""
        raise NotImplementedError

    def availability(self, base_model: str) -> Availability:
        refused = "name the base model to fine-tune" if not base_model.strip() else self._refusal()
        if refused:
            return Availability(False, refused, self.notice)
        try:
            self.client.get(self.probe_path, cast_to=object)
        except openai.NotFoundError:
            return Availability(
                False,
                f"{self.config.base_url} has no {self.label} fine-tuning API "
                f"({self.probe_path} answered 404){self.not_found_hint}",
                self.notice,
            )
        except (openai.APIError, ValueError) as exc:
            return Availability(False, f"{self.config.base_url} cannot be asked: {describe_error(exc)}", self.notice)
        return Availability(True, f"fine-tune {base_model} (LoRA) at {self.label}", self.notice)

    def _refusal(self) -> str | None:
        """Why this endpoint's settings cannot reach the API at all (asked before any request), or None."""
        return None

    def _request(
        self, what: str, method: str, path: str, shape: type[Answer] = Answer, retrying: bool = True, **kwargs
    ) -> dict:
        """The JSON object `method` ("get", "post"...) at `path` answers, checked as `shape` (llm/schemas.py)
        and given back as a dict of its fields; ProviderError saying what was refused or missing."""
        refused = self._refusal()
        if refused:
            raise ProviderError(f"{self.label} cannot be asked to {what}: {refused}")
        try:
            answer = self._send(getattr(self.client, method), path, cast_to=object, retrying=retrying, **kwargs)
        except (openai.APIError, ValueError) as exc:
            raise ProviderError(f"{self.label} refused to {what}: {describe_error(exc)}") from exc
        return read_answer(shape, answer, f"{self.label} ({self.config.base_url}{path})", ProviderError).model_dump()


def epoch_seconds(when: str | int | float | None) -> float:
    """A time given as an ISO date (or epoch seconds), as epoch seconds; 0 when absent."""
    if isinstance(when, (int, float)):
        return float(when)
    try:
        return datetime.datetime.fromisoformat(str(when).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def newest_first(jobs, limit: int) -> list[ProviderJob]:
    """At most `limit` of `jobs`, the newest first (for a provider that lists them in another order)."""
    return sorted(jobs, key=lambda job: job.created, reverse=True)[:limit]
