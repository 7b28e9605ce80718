"""MediaWikiClient against a small stand-in for the MediaWiki API served on 127.0.0.1."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ragtune_core.corpus.mediawiki import USER_AGENT, MediaWikiClient

TORONTO = (
    "Toronto is the most populous city in Canada.\n\n\n"
    "== History ==\n\n\n=== Early history ===\nThe area was inhabited for 10,000 years.\n\n\n"
    "== Geography ==\nThe city lies on Lake Ontario.\n\n\n== References ==\n"
)
REDIRECTS = {"TO": "Toronto"}
NORMALIZED = {"toronto": "Toronto"}


def api_answer(title: str) -> tuple[int, str]:
    """(status, body) the stand-in API gives for one `titles=` value."""
    if title == "Boom":
        return 500, "Internal Server Error"
    if title == "Garbage":
        return 200, "<html>not an API</html>"
    query = {}
    if title in NORMALIZED:
        query["normalized"] = [{"fromencoded": False, "from": title, "to": NORMALIZED[title]}]
        title = NORMALIZED[title]
    if title in REDIRECTS:
        query["redirects"] = [{"from": title, "to": REDIRECTS[title]}]
        title = REDIRECTS[title]
    if title == "Toronto":
        page = {"pageid": 64646, "ns": 0, "title": "Toronto", "extract": TORONTO}
    elif title == "Mercury":
        page = {
            "pageid": 19,
            "ns": 0,
            "title": "Mercury",
            "pageprops": {"disambiguation": ""},
            "extract": "Mercury may refer to:\nMercury (planet)\nMercury (element)",
        }
    else:
        page = {"ns": 0, "title": title, "missing": True}
    return 200, json.dumps({"batchcomplete": True, "query": {**query, "pages": [page]}})


class FakeWiki:
    def __init__(self):
        self.requests: list[dict] = []
        wiki = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                wiki.requests.append({"path": url.path, "params": params, "user_agent": self.headers["User-Agent"]})
                if params.get("titles") == "Slow":
                    time.sleep(1.5)
                status, body = api_answer(params.get("titles", ""))
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}/w/api.php"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def titles_asked(self) -> list[str]:
        return [r["params"]["titles"] for r in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def client(wiki, tmp_path, **options) -> MediaWikiClient:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment between us and 127.0.0.1
    return MediaWikiClient(wiki.endpoint, cache_dir=tmp_path / "cache", session=session, timeout=5.0, **options)


def test_fetches_a_page_with_sections_and_a_descriptive_user_agent(wiki, tmp_path):
    result = client(wiki, tmp_path).fetch(["Toronto"])
    assert not result.errors
    doc = result.documents[0]
    assert doc.title == "Toronto"
    assert doc.source == f"mediawiki:127.0.0.1:{wiki.server.server_port}:Toronto"
    assert "References" not in doc.text  # empty section dropped
    sections = {doc.text[s.start : s.end].split("\n")[-1]: s.section for s in doc.spans}
    assert sections == {
        "Toronto is the most populous city in Canada.": None,
        "History": "History",
        "The area was inhabited for 10,000 years.": "History > Early history",
        "The city lies on Lake Ontario.": "Geography",
    }
    request = wiki.requests[0]
    assert request["path"] == "/w/api.php"
    assert request["user_agent"] == USER_AGENT
    assert USER_AGENT.startswith("RAGTune/") and "requests/" in USER_AGENT
    params = request["params"]
    assert params["action"] == "query" and params["explaintext"] == "1" and params["redirects"] == "1"
    assert params["formatversion"] == "2" and "pageprops" in params["prop"].split("|")


def test_redirects_and_normalization_give_the_final_title(wiki, tmp_path):
    result = client(wiki, tmp_path).fetch(["TO"])
    assert [d.title for d in result.documents] == ["Toronto"]
    result = client(wiki, tmp_path).fetch(["toronto", "https://en.wikipedia.org/wiki/Toronto"])
    assert [d.title for d in result.documents] == ["Toronto"]


def test_missing_disambiguation_and_server_errors_are_reported_by_typed_title(wiki, tmp_path):
    result = client(wiki, tmp_path).fetch(["Nowhere Land", "Mercury", "Boom", "Garbage", "Toronto", "A|B"])
    assert [d.title for d in result.documents] == ["Toronto"]
    errors = {e.name: e.message for e in result.errors}
    assert errors["Nowhere Land"] == "no such page"
    assert "disambiguation page" in errors["Mercury"]
    assert "HTTP 500" in errors["Boom"]
    assert "not JSON" in errors["Garbage"]
    assert "'|'" in errors["A|B"]
    assert "A|B" not in wiki.titles_asked()


def test_a_title_typed_twice_is_loaded_once(wiki, tmp_path):
    result = client(wiki, tmp_path).fetch(["Toronto", "TO"])
    assert len(result.documents) == 1
    assert result.errors[0].name == "TO"
    assert "same page as 'Toronto'" in result.errors[0].message


def test_cached_pages_are_not_fetched_again(wiki, tmp_path):
    first = client(wiki, tmp_path).fetch(["TO"])
    assert wiki.titles_asked() == ["TO"]
    # Both the typed title and the final one hit the cache; failures are not cached.
    again = client(wiki, tmp_path).fetch(["TO", "Toronto", "Nowhere Land"])
    assert wiki.titles_asked() == ["TO", "Nowhere Land"]
    assert again.documents[0].text == first.documents[0].text
    assert [e.name for e in again.errors] == ["Toronto", "Nowhere Land"]  # the same page twice; missing
    client(wiki, tmp_path).fetch(["Nowhere Land"])
    assert wiki.titles_asked() == ["TO", "Nowhere Land", "Nowhere Land"]


def test_a_corrupt_cache_entry_is_fetched_again(wiki, tmp_path):
    client(wiki, tmp_path).fetch(["Toronto"])
    for entry in (tmp_path / "cache").glob("*.json"):
        entry.write_text("{not json")
    result = client(wiki, tmp_path).fetch(["Toronto"])
    assert result.documents[0].title == "Toronto"
    assert wiki.titles_asked() == ["Toronto", "Toronto"]


def test_no_cache_dir_means_every_fetch_asks(wiki, tmp_path):
    session = requests.Session()
    session.trust_env = False
    uncached = MediaWikiClient(wiki.endpoint, session=session, timeout=5.0)
    uncached.fetch(["Toronto"])
    uncached.fetch(["Toronto"])
    assert wiki.titles_asked() == ["Toronto", "Toronto"]


def test_timeouts_and_unreachable_hosts_are_errors_not_exceptions(wiki, tmp_path):
    slow = client(wiki, tmp_path)
    slow.timeout = 0.3
    error = slow.fetch(["Slow"]).errors[0]
    assert error.name == "Slow" and "no answer" in error.message

    closed = FakeWiki()
    closed.close()  # nothing listens on this port any more
    unreachable = MediaWikiClient(closed.endpoint, session=requests.Session(), timeout=2.0)
    unreachable.session.trust_env = False
    error = unreachable.fetch(["Toronto"]).errors[0]
    assert error.name == "Toronto" and "could not reach" in error.message


def test_progress_is_reported_per_title(wiki, tmp_path):
    seen = []
    client(wiki, tmp_path).fetch(["Toronto", " ", "Nowhere Land"], on_progress=lambda *a: seen.append(a))
    assert seen == [(1, 2, "Toronto"), (2, 2, "Nowhere Land")]


def test_wikipedia_source_and_bad_endpoint():
    from ragtune_core.corpus.mediawiki import WikiPage

    doc = MediaWikiClient().document(WikiPage("Toronto", "Toronto is a city."))
    assert doc.source == "wikipedia:Toronto"
    with pytest.raises(ValueError, match="http"):
        MediaWikiClient("en.wikipedia.org/w/api.php")


# the host allow-list (RAGTUNE_ALLOWED_HOSTS) ---------------------------------------------------
class Redirector:
    """An endpoint that answers every request with a redirect to `target`."""

    def __init__(self, target: str):
        redirector = self
        self.hits = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                redirector.hits += 1
                self.send_response(302)
                self.send_header("Location", target + "?" + urlsplit(self.path).query)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_port}/w/api.php"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_an_endpoint_off_the_allow_list_is_refused_naming_host_and_setting(wiki, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_ALLOWED_HOSTS", "wiki.example.org")
    with pytest.raises(ValueError) as refused:
        client(wiki, tmp_path)
    assert "may not contact 127.0.0.1" in str(refused.value) and "RAGTUNE_ALLOWED_HOSTS" in str(refused.value)
    assert wiki.requests == []
    assert MediaWikiClient().host == "en.wikipedia.org"  # Wikipedia, the default, stays allowed
    monkeypatch.setenv("RAGTUNE_ALLOWED_HOSTS", "wiki.example.org, 127.0.0.1")
    assert not client(wiki, tmp_path).fetch(["Toronto"]).errors


def test_a_redirect_off_the_allow_list_is_not_followed(wiki, tmp_path, monkeypatch):
    # The same wiki under another name: "localhost" is not on the list, 127.0.0.1 is.
    redirector = Redirector(wiki.endpoint.replace("127.0.0.1", "localhost"))
    try:
        session = requests.Session()
        session.trust_env = False
        monkeypatch.setenv("RAGTUNE_ALLOWED_HOSTS", "127.0.0.1")
        refused = MediaWikiClient(redirector.endpoint, session=session, timeout=5.0).fetch(["Toronto"])
        assert wiki.requests == [] and redirector.hits == 1
        assert "may not contact localhost" in refused.errors[0].message
        monkeypatch.delenv("RAGTUNE_ALLOWED_HOSTS")
        followed = MediaWikiClient(redirector.endpoint, session=session, timeout=5.0).fetch(["Toronto"])
        assert [d.title for d in followed.documents] == ["Toronto"] and wiki.titles_asked() == ["Toronto"]
    finally:
        redirector.close()


@pytest.mark.parametrize(
    "body, missing",
    [
        ({"batchcomplete": True}, "answered in another shape: no query"),
        ({"query": {"pages": {"64646": {"title": "Toronto"}}}}, "query.pages: Input should be a valid list"),
        ({"query": {"pages": []}}, "query.pages: List should have at least 1 item"),
        (
            {"query": {"pages": [{"title": "Toronto", "extract": ["a", "list"]}]}},
            "query.pages[0].extract: Input should",
        ),
        ({"query": {"pages": [{"title": "Toronto", "pageprops": "none"}]}}, "query.pages[0].pageprops: Input should"),
        ({"error": "down for maintenance"}, "answered in another shape: error: Input should be"),
        (["Toronto"], "answered in another shape: not a JSON object but"),
    ],
)
@pytest.mark.fault(
    "A MediaWiki endpoint answering 200 with JSON of another shape (no query, pages as an object, a list for the "
    "text, an error that is a string)",
    sees="each title listed as not loaded, with the endpoint and the field missing or wrong; never an "
    "AttributeError or KeyError",
    kept="the corpus being built from the titles that loaded; nothing cached for the others",
)
def test_a_mediawiki_answer_of_another_shape_is_an_error_naming_the_endpoint_and_field(tmp_path, body, missing):
    from tests.fake_shapes import WrongShapeServer

    with WrongShapeServer(body=body) as server:
        endpoint = f"{server.base_url}/api.php"
        session = requests.Session()
        session.trust_env = False
        result = MediaWikiClient(endpoint, cache_dir=tmp_path / "cache", session=session, timeout=5.0).fetch(
            ["Toronto", "Ottawa"]
        )
    assert result.documents == [] and [e.name for e in result.errors] == ["Toronto", "Ottawa"]
    assert all(e.message.startswith(endpoint) and missing in e.message for e in result.errors)
    assert not list((tmp_path / "cache").glob("*.json"))
