"""The router path in headless Chromium: a corpus, a router dataset generated offline, the selectors
compared (charts shown) and a query routed in the Playground (the picked tool shown and run).

Screenshots land in tests/screenshots/ (router-*.png) for a person to look at.
"""

import re

from tests.app_pages.test_e2e_browser import (  # noqa: F401  (fixtures and marks)
    _go,
    _shot,
    _wait_idle,
    app_url,
    browser_page,
    page,
    paste_corpus,
    pytestmark,
    wait_for_run,
)

SELECTOR = "embedding · all-MiniLM-L6-v2 (bundled)"


def _router_dataset(page) -> None:
    _go(page, "2 · Questions")
    page.get_by_text("Router: question → tool", exact=True).click()
    page.get_by_text("Tools: each document gets a vector tool").wait_for()
    for label, value in (("Specific questions per document", "4"), ("Summary requests per document", "2")):
        page.get_by_label(label, exact=True).fill(value)
        page.get_by_label(label, exact=True).press("Enter")
        _wait_idle(page)
    page.get_by_role("button", name="Generate").click()
    page.get_by_role("button", name="Accept and save dataset").wait_for(timeout=120_000)
    page.get_by_label("Dataset name").fill("e2e router")
    page.get_by_role("button", name="Accept and save dataset").click()
    page.get_by_text("Saved dataset").wait_for()


def test_router_dataset_to_compare_charts_and_a_playground_answer(page):  # noqa: F811
    paste_corpus(page)
    _router_dataset(page)
    _shot(page, "router-1-questions")

    _go(page, "4 · Compare")
    page.get_by_text(SELECTOR).first.wait_for()  # the bundled embedder is a chosen selector
    page.get_by_role("button", name="Compare selectors").click()
    wait_for_run(page, "compare selectors")
    page.get_by_text(re.compile(r": match rate \d\.\d{3} \[95% CI")).first.wait_for()  # one model's headline
    page.get_by_role("heading", name="Confusion").wait_for()
    page.locator(".js-plotly-plot").first.get_by_text("Match rate").first.wait_for()
    page.locator(".js-plotly-plot", has_text="picked tool").first.wait_for()  # the confusion heatmap
    _shot(page, "router-2-compare")

    _go(page, "5 · Playground")
    page.get_by_label("Query").fill("Which eruption caused the Year Without a Summer?")
    page.get_by_role("button", name="Route", exact=True).click()
    page.get_by_role("heading", name="Run the tool").wait_for(timeout=120_000)
    page.locator(".js-plotly-plot").first.wait_for()  # score per tool
    assert page.get_by_label("Use the pick of").input_value() == f"{SELECTOR} → vector_tool_volcanoes"  # the pick
    page.locator("strong", has_text="vector_tool_volcanoes").wait_for()  # the picked tool, run
    page.get_by_text("Top passages of Volcanoes").wait_for()
    page.get_by_text("grounded on these passages").wait_for()  # no LLM: the answer step says what it needs
    _shot(page, "router-3-playground")
