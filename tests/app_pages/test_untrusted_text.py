"""Text users and documents wrote reaches the browser as literal text: no remote image, no link, no HTML.

Every page's Markdown-rendering fields (bodies of markdown, captions, alerts and headings, widget
labels, progress texts) are rendered here with a CommonMark renderer; a name or title such as
`![](http://host/beacon)` must come out as the very text typed, never as an <img> or <a>.
"""

import json
import re
import time
from html import unescape

import pytest
from google.protobuf.json_format import MessageToDict
from markdown_it import MarkdownIt

from app_pages.basics import WORD_JOINER, literal
from ragtune_core import jobs
from ragtune_core.corpus.documents import Chunk, Document, save_corpus
from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.routing.compare import (
    RouterComparison,
    SelectorReport,
    save_comparison,
)
from ragtune_core.routing.selectors import Choice
from ragtune_core.store.workspace import Workspace
from tests.fake_openai import FakeOpenAIServer
from tests.page_helpers import open_page, widget

BEACON = "![seen](http://127.0.0.1:9/beacon.png)"
LINK = "[click me](http://127.0.0.1:9/phish) <img src=http://127.0.0.1:9/x.png> www.example.org a@b.example"
MARKDOWN_FIELDS = {"body", "label", "text", "help"}  # the proto fields Streamlit renders as Markdown
COMMONMARK = MarkdownIt("commonmark")
# What remark-gfm (Streamlit's Markdown) turns into links in a text node, escapes already resolved.
GFM_AUTOLINKS = (re.compile(r"(?i)(https?://|www(?=\.))[-.\w]+"), re.compile(r"[-.\w+]+@[-\w]+(\.[-\w]+)+", re.ASCII))


def markdown_sources(at) -> list[str]:
    """Every string the page hands to Streamlit's Markdown renderer."""
    found = []

    def collect(value, key=None):
        if isinstance(value, dict):
            for k, v in value.items():
                collect(v, k)
        elif isinstance(value, list):
            for v in value:
                collect(v, key)
        elif isinstance(value, str) and key in MARKDOWN_FIELDS:
            found.append(value)

    for node in at._tree:
        if getattr(node, "proto", None) is not None:
            collect(MessageToDict(node.proto, preserving_proto_field_name=False))
    return found


def shown(source: str) -> str:
    """The text a reader sees of a Markdown source (CommonMark, tags dropped, entities resolved)."""
    html = COMMONMARK.render(source).replace("<br />\n", "\n")
    return unescape(re.sub(r"<[^>]+>", "", html)).strip()


def assert_inert(sources: list[str]) -> None:
    for source in sources:
        html = COMMONMARK.render(source)
        assert "<img" not in html and "<a " not in html, source
        text = shown(source)
        assert not any(pattern.search(text) for pattern in GFM_AUTOLINKS), text


def seen(elements) -> str:
    return "\n".join(shown(str(e.value)) for e in elements).replace(WORD_JOINER, "")


@pytest.mark.parametrize(
    "text",
    [
        BEACON,
        LINK,
        "**bold** _it_ `code` # heading\n- item\n1. one",
        ":red[x] :material/home: $x^2$ ~~s~~ | a | b |",
        "a@b.example <!-- c --> &amp; \\* \\ www.x.org https://y.org",
        "line one\nline two\r\nthree",
    ],
)
def test_literal_markdown_shows_the_text_as_typed(text):
    source = literal(text)
    html = COMMONMARK.render(source)
    for tag in ("<img", "<a ", "<em>", "<strong>", "<code>", "<h1>", "<li>", "<!--"):
        assert tag not in html, (tag, html)
    assert_inert([source])
    assert shown(source).replace(WORD_JOINER, "") == text.replace("\r\n", "\n")


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    for name in (
        "OPENAI_API_KEY",
        "RAGTUNE_LLM_API_KEY",
        "OPENAI_BASE_URL",
        "RAGTUNE_LLM_BASE_URL",
        "RAGTUNE_ALLOWED_HOSTS",
    ):
        monkeypatch.delenv(name, raising=False)
    return Workspace(tmp_path / "ws")


def test_corpus_page_shows_titles_and_names_literally(ws):
    document = Document("doc", BEACON, "text:doc", "Some text about volcanoes and bread.")
    save_corpus(ws, LINK, [document], [Chunk("doc#0", "doc", document.text)], {})
    at = open_page("corpus")
    assert not at.exception
    sources = markdown_sources(at)
    assert any("Delete" in s for s in sources)  # the popover's question names the corpus
    assert_inert(sources)

    widget(at, "text_input", "Title").input(BEACON)
    widget(at, "text_area", "Text").input("A pasted text about the beacon.")
    widget(at, "button", "Add text").click().run()
    assert not at.exception
    assert BEACON in seen(at.success)
    assert_inert(markdown_sources(at))


TOOLS = [
    Choice("vector_tool_a", "vector_tool_a", "Facts about A."),
    Choice("summary_tool_a", "summary_tool_a", "A summary of A."),
]


def _report(name: str, picks: list, errors: list) -> SelectorReport:
    scores = [[] if p is None else [float(i == p) for i in range(len(TOOLS))] for p in picks]
    return SelectorReport(
        name,
        sum(p == e for p, e in zip(picks, [0, 1], strict=True)) / 2,
        (0.0, 1.0),
        0.01,
        sum(p is None for p in picks),
        picks,
        scores,
        errors,
    )


def test_compare_page_shows_failed_selectors_apart_and_every_name_literally(ws):
    dataset = QADataset(
        {"q1": "facts about a?", "q2": BEACON},
        {c.id: c.description for c in TOOLS},
        {"q1": ["vector_tool_a"], "q2": ["summary_tool_a"]},
        kind="router",
    )
    record = save_dataset(ws, LINK, dataset, None, {})
    save_dataset(ws, BEACON, dataset, None, {"imported": "handwritten.json"})
    reports = [
        _report("fine", [0, 1], [None, None]),
        _report(f"partial {BEACON}", [0, None], [None, f"HTTP 500: {LINK}"]),
    ]
    comparison = RouterComparison(
        "route-1",
        record.id,
        "all",
        time.time(),
        list(dataset.queries.values()),
        list(dataset.queries),
        TOOLS,
        [0, 1],
        reports,
        skipped=[(f"skipped {BEACON}", f"no key for {LINK}")],
        failed=[(f"LLM {BEACON}", f"HTTP 401: {LINK}")],
    )
    save_comparison(ws, comparison)
    at = open_page("compare")
    widget(at, "selectbox", "Dataset").set_value(record.id).run()
    assert not at.exception
    errors, warnings = seen(at.error), seen(at.warning)
    assert "failed on every query, so it has no match rate" in errors and "HTTP 401" in errors
    assert "1 of 2 queries failed and count as misses" in warnings and "was skipped" in warnings
    assert list(at.dataframe[0].value["Model"]) == ["fine", f"partial {BEACON}"]  # no 0.0 for the failed one
    assert_inert(markdown_sources(at))


def test_a_job_error_is_shown_literally(ws):
    run = ws.create_run(jobs.JobKind.COMPARE_SELECTORS, "compare", {})
    status = jobs.JobStatus(
        run_id=run.id,
        kind=jobs.JobKind.COMPARE_SELECTORS,
        state="failed",
        started=time.time(),
        finished=time.time(),
        error=f"RoutingError: selector {BEACON} failed: {LINK}",
    )
    jobs.runner.write_status(ws, status)
    dataset = QADataset(
        {"q1": "facts about a?"}, {c.id: c.description for c in TOOLS}, {"q1": ["vector_tool_a"]}, kind="router"
    )
    record = save_dataset(ws, "router", dataset, None, {})
    at = open_page("compare")
    at.session_state["dataset_id"] = record.id
    at.session_state["selector_run"] = run.id
    at.run()
    assert f"selector {BEACON} failed: {LINK}" in seen(at.error)
    assert_inert(markdown_sources(at))


def test_playground_explains_tools_of_a_dataset_imported_without_them(ws):
    """An import without RAGTune's tools: a tool per passage, no kind, no document; the page must not crash."""
    dataset = QADataset(
        {"q1": "Tell me about volcanoes", "q2": "Summarise bread"},
        {"volcano_facts": f"Volcano facts. {BEACON}", "bread_overview": "All about bread."},
        {"q1": ["volcano_facts"], "q2": ["bread_overview"]},
        kind="router",
    )
    save_dataset(ws, "imported", dataset, None, {"imported": "plain.json"})

    def pick_first(request):
        return json.dumps({"choice": 1, "reason": f"see {LINK}"})

    with FakeOpenAIServer(responder=pick_first) as server:
        at = open_page("playground")
        widget(at, "multiselect", "Selectors").set_value([])
        at.toggle[0].set_value(True).run()
        widget(at, "text_input", "Base URL").input(server.base_url)
        widget(at, "text_input", "Model").input("fake-model").run()
        widget(at, "text_input", "Query").input("Tell me about volcanoes")
        widget(at, "button", "Route").click().run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value.loc[0, "pick"] == "volcano_facts"
    assert "cannot be run here: the dataset names no kind for it" in seen(at.info)
    assert_inert(markdown_sources(at))
