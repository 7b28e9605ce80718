"""Which hosts RAGTune may contact: an optional allow-list for a shared server.

Whoever can open the app can type an LLM base URL or a MediaWiki endpoint, and the server then
sends requests there: on a shared server that reaches hosts its visitors cannot (an internal
network, a cloud metadata address). `RAGTUNE_ALLOWED_HOSTS` (comma-separated host names; `*.`
allows every subdomain: `*.wikipedia.org`) limits the hosts RAGTune contacts to those listed and
to the ones its administrator already chose: the LLM endpoint the server is configured for and
Wikipedia (each caller names its own defaults). Unset or empty: any host is allowed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from urllib.parse import urlsplit

ALLOWED_HOSTS_ENV = "RAGTUNE_ALLOWED_HOSTS"


class HostNotAllowedError(ValueError):
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
            f"server's {ALLOWED_HOSTS_ENV} setting (ask its administrator to add it)")


def _matches(host: str, entry: str) -> bool:
    if entry.startswith("*."):
        return host.endswith(entry[1:])
    return host == entry
