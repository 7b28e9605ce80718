"""Which hosts RAGTune may contact: an optional allow-list for a shared server.

Whoever can open the app can type an LLM base URL or a MediaWiki endpoint, and the server then
sends requests there: on a shared server that reaches hosts its visitors cannot (an internal
network, a cloud metadata address). `RAGTUNE_ALLOWED_HOSTS` (comma-separated host names; `*.`
allows every subdomain: `*.wikipedia.org`) limits the hosts RAGTune contacts to those listed and
to the ones its administrator already chose: the LLM endpoint the server is configured for and
Wikipedia (each caller names its own defaults). Unset or empty: any host is allowed.

What an endpoint answers is read through one schema per shape (`Answer`, `read_answer`): an answer of
another shape is one error naming the endpoint and what it lacks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pydantic

from .errors import RagtuneError

ALLOWED_HOSTS_ENV = "RAGTUNE_ALLOWED_HOSTS"


class HostNotAllowedError(RagtuneError):
    """A URL whose host the allow-list does not name; the message names the host and the setting."""


def allowed_hosts() -> list[str] | None:
    """The allow-list's entries, lower case; None when any host is allowed."""
    entries = [entry.strip().lower().rstrip(".") for entry in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",")]
    entries = [entry for entry in entries if entry]
    return entries or None


def host_of(url: str) -> str:
    """The host name of a URL, lower case, without port or trailing dot ("" if it has none)."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host.rstrip(".")


def is_allowed(url: str, always: Iterable[str] = ()) -> bool:
    """True when no allow-list is set, or the URL's host is on it or among `always` (the caller's defaults)."""
    entries = allowed_hosts()
    if entries is None:
        return True
    host = host_of(url)
    if not host:
        return False
    defaults = {host_of(u) if "://" in u else u.lower().rstrip(".") for u in always}
    return host in defaults or any(_matches(host, entry) for entry in entries)


def check_allowed(url: str, what: str, always: Iterable[str] = ()) -> None:
    """Raise HostNotAllowedError unless `is_allowed(url, always)`; `what` names the setting refused."""
    if not is_allowed(url, always):
        host = host_of(url) or url
        raise HostNotAllowedError(
            f"{what}: this server may not contact {host}: it is not among the hosts allowed by the "
            f"server's {ALLOWED_HOSTS_ENV} setting (ask its administrator to add it)"
        )


def _matches(host: str, entry: str) -> bool:
    if entry.startswith("*."):
        return host.endswith(entry[1:])
    return host == entry


# what endpoints answer -----------------------------------------------------------------------------
class Answer(pydantic.BaseModel):
    """A shape an endpoint answers in: the fields RAGTune reads, checked; any others ignored."""

    model_config = pydantic.ConfigDict(extra="ignore")


AnswerT = TypeVar("AnswerT", bound=Answer)


def read_answer(shape: type[AnswerT], data: Any, endpoint: str, error: type[Exception]) -> AnswerT:
    """`data` (parsed JSON, or an SDK object, which the SDK builds without checking) as `shape`; else
    `error` naming the endpoint and what was missing or wrong in its answer: never a bare Python
    exception (a KeyError, a float() of None) further on."""
    if hasattr(data, "to_dict"):
        data = data.to_dict()
    try:
        return shape.model_validate(data)
    except pydantic.ValidationError as exc:
        raise error(f"{endpoint} answered in another shape: {_problems(exc, data)}") from None


def _problems(exc: pydantic.ValidationError, data: Any, most: int = 3) -> str:
    if not isinstance(data, dict):
        text = " ".join(str(data).split())
        return f"not a JSON object but {text[:80] + ('...' if len(text) > 80 else '')!r}"
    said = []
    for problem in exc.errors()[:most]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in problem["loc"]).lstrip(".")
        said.append(f"no {where}" if problem["type"] == "missing" else f"{where or 'the answer'}: {problem['msg']}")
    more = exc.error_count() - most
    return "; ".join(said) + (f" (and {more} more)" if more > 0 else "")
