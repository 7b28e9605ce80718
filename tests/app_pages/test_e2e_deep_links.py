"""Every page answers at its own address in a real browser, the first one too (a bookmark of
/corpus used to open a "Page not found" dialog), and the root address opens the first page."""

import pytest

from tests.app_pages.test_e2e_browser import app_url, browser_page, pytestmark  # noqa: F401  (fixtures, marks)

PAGES = {
    "corpus": "Corpus",
    "questions": "Questions",
    "finetune": "Fine-tune",
    "finetune_llm": "Fine-tune an LLM",
    "compare": "Compare",
    "playground": "Playground",
}


@pytest.mark.fault(
    "A bookmark of a page's address (/corpus, /compare...) opened on a fresh server",
    sees="that page, with the app's navigation; / opens /corpus",
    kept="nothing is changed",
)
def test_every_page_answers_at_its_own_address(app_url, browser_page):  # noqa: F811
    for path in ["", *PAGES]:
        browser_page.goto(f"{app_url}/{path}")
        browser_page.get_by_role("heading", name=PAGES.get(path, "Corpus"), exact=True).wait_for()
        browser_page.get_by_role("link", name="5 · Playground").wait_for()
        browser_page.wait_for_timeout(1500)  # "Page not found" is reported after the first run
        assert not browser_page.get_by_text("Page not found").is_visible(), path
        assert browser_page.url == f"{app_url}/{path or 'corpus'}"
