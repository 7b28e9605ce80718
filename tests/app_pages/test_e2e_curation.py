"""The curation round trip in headless Chromium: a flagged question relabelled in the queue and saved as the
dataset's next version; the review grid and the queue photographed for a person to look at."""

from pathlib import Path

import pytest

from ragtune_core.questions.qa_dataset import load_dataset
from ragtune_core.questions.versions import versions_of
from ragtune_core.store.workspace import Workspace
from tests.app_pages.test_e2e_browser import CHROMIUM, SHOTS, _shot, _wait_idle, app_url, browser_page  # noqa: F401
from tests.app_pages.test_page_curation import flagged_draft, notes_workspace

pytestmark = [pytest.mark.e2e, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make browser)")]


def test_flagged_relabelled_saved_as_a_new_version(tmp_path, app_url, browser_page):  # noqa: F811
    ws = notes_workspace(Workspace(tmp_path / "workspace"))  # the server's workspace
    flagged_draft(ws)
    first = ws.resolve("datasets", "volcanoes")
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 1600})
    page.goto(f"{app_url}/questions")
    page.get_by_text("7 questions over 3 chunks · 4 flagged").wait_for()
    _wait_idle(page)
    page.get_by_role("heading", name="Review and accept").scroll_into_view_if_needed()
    _shot(page, "curation-1-grid")
    page.get_by_role("button", name="Build the queue").click()
    page.get_by_text("every scorer picks vesuvius, not the labelled etna").wait_for(timeout=120_000)
    _wait_idle(page)
    card = page.locator("[data-testid='stVerticalBlock']", has_text="What did Vesuvius bury?").last
    card.scroll_into_view_if_needed()
    card.screenshot(path=str(SHOTS / "curation-2-queue-card.png"))
    page.get_by_role("button", name="Answer: vesuvius").first.click()
    page.get_by_text("answer: vesuvius", exact=True).wait_for()
    page.get_by_role("button", name="Save as a new version (1 decisions)").click()
    page.get_by_text("Saved volcanoes v2: 1 relabelled").wait_for()
    _wait_idle(page)
    _shot(page, "curation-3-saved")
    _, second = versions_of(ws, first.id)
    assert load_dataset(ws, first.id).relevant_docs["mislabelled"] == ["etna"]  # the old version kept
    assert load_dataset(ws, second.id).relevant_docs["mislabelled"] == ["vesuvius"]
