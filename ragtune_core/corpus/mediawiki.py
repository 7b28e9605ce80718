"""Wikipedia (or any MediaWiki) pages as Documents, through the API's plain-text extracts.

One title per request: the extracts API returns the full text of only one page per request
anyway. Pages are cached on disk, so building several corpora from the same pages asks the
server once. Every failure (missing page, disambiguation page, HTTP or network error, an answer
that is not the API's JSON, or JSON of another shape: `WikiAnswer`) becomes an IngestError under
the title the user typed, naming the endpoint and what its answer lacked. On a server
with a host allow-list (`ragtune_core.network`), an endpoint elsewhere than Wikipedia and the
listed hosts is refused, and so is a redirect that leads there.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import requests
from pydantic import Field

from .. import __version__
from ..network import Answer, HostNotAllowedError, check_allowed, read_answer
from ..store.files import write_json
from .documents import CorpusError, Document, IngestError, IngestResult, make_doc_id
from .ingest import split_sections

WIKIPEDIA_API = "https://en.wikipedia.org/w/api.php"
MAX_REDIRECTS = 5
USER_AGENT = f"RAGTune/{__version__} (https://github.com/ragtune; RAG tuning tool) requests/{requests.__version__}"
_QUERY = {
    "action": "query",
    "prop": "extracts|pageprops",
    "ppprop": "disambiguation",
    "explaintext": 1,
    "redirects": 1,
    "format": "json",
    "formatversion": 2,
}


class _PageError(Exception):
    """Why one title could not be fetched; becomes that title's IngestError."""


# what the API answers (formatversion 2), the fields read here ----------------------------------------
class WikiFailure(Answer):
    code: str | None = None
    info: str | None = None


class WikiRefusal(Answer):
    error: WikiFailure


class WikiPageAnswer(Answer):
    title: str | None = None
    extract: str | None = None
    missing: bool = False
    invalid: bool = False
    invalidreason: str | None = None
    pageprops: dict[str, Any] | None = None


class WikiQuery(Answer):
    pages: list[WikiPageAnswer] = Field(min_length=1)


class WikiAnswer(Answer):
    query: WikiQuery


@dataclass
class WikiPage:
    title: str  # the final title, after normalization and redirects
    extract: str


class MediaWikiClient:
    def __init__(
        self,
        endpoint: str = WIKIPEDIA_API,
        cache_dir: Path | None = None,
        session: requests.Session | None = None,
        timeout: float = 20.0,
    ):
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CorpusError(f"the MediaWiki endpoint must be an http(s) URL, got {endpoint!r}")
        check_allowed(endpoint, "MediaWiki endpoint", always=[WIKIPEDIA_API])
        self.endpoint = endpoint
        self.host = parts.netloc
        self.cache_dir = Path(cache_dir) if cache_dir else None
        if self.cache_dir:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.session = session or requests.Session()
        self.timeout = timeout

    def fetch(
        self,
        titles: list[str],
        on_progress: Callable[[int, int, str], None] | None = None,
        on_error: Callable[[IngestError], None] | None = None,
    ) -> IngestResult:
        """The pages named by `titles` (titles or /wiki/ URLs); on_progress(done, total, title) after each,
        on_error(error) as a title fails."""
        wanted = [t.strip() for t in titles if t.strip()]
        result = IngestResult()
        loaded: dict[str, str] = {}  # final title -> the title the user typed for it
        for done, typed in enumerate(wanted, start=1):
            outcome = self._document_for(typed, loaded)
            if isinstance(outcome, IngestError):
                result.errors.append(outcome)
                if on_error:
                    on_error(outcome)
            else:
                result.documents.append(outcome)
            if on_progress:
                on_progress(done, len(wanted), typed)
        return result

    def _document_for(self, typed: str, loaded: dict[str, str]) -> Document | IngestError:
        """The page `typed` names as a Document, or why not; a page already in `loaded` is not loaded twice."""
        try:
            page = self.page(typed)
        except _PageError as exc:
            return IngestError(typed, str(exc))
        if page.title in loaded:
            return IngestError(typed, f"the same page as {loaded[page.title]!r} ({page.title}); loaded once")
        loaded[page.title] = typed
        return self.document(page)

    def page(self, typed: str) -> WikiPage:
        title = _title_from_input(typed)
        cached = self._read_cache(title)
        if cached:
            return cached
        page = self._request(title)
        for key in {title, page.title}:
            self._write_cache(key, page)
        return page

    def document(self, page: WikiPage) -> Document:
        text, spans = split_sections(page.extract)
        source = f"wikipedia:{page.title}" if self.host == "en.wikipedia.org" else f"mediawiki:{self.host}:{page.title}"
        return Document(make_doc_id(source, text), page.title, source, text, spans)

    # the API -------------------------------------------------------------------------------
    def _request(self, title: str) -> WikiPage:
        response = self._get(title)
        if response.status_code != 200:
            raise _PageError(f"{self.host} answered HTTP {response.status_code} {response.reason or ''}".rstrip())
        try:
            answer = response.json()
        except ValueError as exc:
            raise _PageError(f"the answer from {self.host} is not JSON; is {self.endpoint} a MediaWiki API?") from exc
        return _page_from_answer(answer, title, self.endpoint)

    def _get(self, title: str) -> requests.Response:
        """The API's answer; redirects are followed here, each checked against the host allow-list."""
        url, params = self.endpoint, {**_QUERY, "titles": title}
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = self.session.get(
                    url, params=params, headers={"User-Agent": USER_AGENT}, timeout=self.timeout, allow_redirects=False
                )
            except requests.Timeout as exc:
                raise _PageError(f"no answer from {self.host} within {self.timeout:g} s") from exc
            except requests.RequestException as exc:
                raise _PageError(f"could not reach {self.host} ({type(exc).__name__})") from exc
            if not response.is_redirect:
                return response
            url, params = urljoin(response.url, response.headers["location"]), None
            try:
                check_allowed(url, f"{self.host} redirected to {url}", always=[WIKIPEDIA_API])
            except HostNotAllowedError as exc:
                raise _PageError(str(exc)) from exc
        raise _PageError(f"{self.host} redirected more than {MAX_REDIRECTS} times")

    # the cache -----------------------------------------------------------------------------
    def _cache_path(self, title: str) -> Path | None:
        if not self.cache_dir:
            return None
        key = hashlib.sha1(f"{self.endpoint}\n{title}".encode()).hexdigest()[:24]
        return self.cache_dir / f"{key}.json"

    def _read_cache(self, title: str) -> WikiPage | None:
        path = self._cache_path(title)
        if not path or not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return WikiPage(data["title"], data["extract"])
        except (OSError, ValueError, KeyError, TypeError):
            return None  # an unreadable cache entry is fetched again and rewritten

    def _write_cache(self, title: str, page: WikiPage) -> None:
        path = self._cache_path(title)
        if not path:
            return
        entry = {
            "endpoint": self.endpoint,
            "requested": title,
            "title": page.title,
            "extract": page.extract,
            "fetched": time.time(),
        }
        write_json(path, entry)


def _title_from_input(typed: str) -> str:
    """A title as typed, or the title inside a pasted article URL (".../wiki/New_York_City")."""
    if typed.startswith(("http://", "https://")) and "/wiki/" in typed:
        typed = unquote(urlsplit(typed).path.split("/wiki/", 1)[1]).replace("_", " ")
    if "|" in typed:
        raise _PageError("'|' cannot be part of a page title; give one title at a time")
    return typed


def _page_from_answer(answer, title: str, endpoint: str) -> WikiPage:
    """The page an API answer holds; _PageError saying why there is none, or naming what an answer of
    another shape lacks."""
    if isinstance(answer, dict) and "error" in answer:
        error = read_answer(WikiRefusal, answer, endpoint, _PageError).error
        raise _PageError(f"API error: {error.info or error.code or 'no reason given'}")
    page = read_answer(WikiAnswer, answer, endpoint, _PageError).query.pages[0]
    if page.invalid:
        raise _PageError(f"invalid title: {page.invalidreason or 'rejected by the wiki'}")
    if page.missing:
        raise _PageError("no such page")
    if "disambiguation" in (page.pageprops or {}):
        raise _PageError(f"{page.title!r} is a disambiguation page; give the title of one of the articles it lists")
    if not (page.extract or "").strip():
        raise _PageError("the page has no text")
    return WikiPage(page.title or title, page.extract)
