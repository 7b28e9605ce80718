"""The whole flow in headless Chromium: corpus -> questions -> fine-tune -> compare.

Screenshots of every step land in tests/screenshots/ for a person to look at.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "tests" / "screenshots"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make browser)"),
]

DOCUMENTS = {
    "Volcanoes": "A volcano is a rupture in the crust of a planet. Magma rises through vents and erupts as lava. "
    "Mount Etna in Sicily is one of the most active volcanoes in Europe. Pyroclastic flows move at "
    "hundreds of kilometres per hour. Volcanic ash can ground aircraft across a continent. "
    "The 1815 eruption of Mount Tambora caused the Year Without a Summer.",
    "Bakeries": "Sourdough bread rises with wild yeast and lactic acid bacteria. A baker feeds the starter with "
    "flour and water every day. Croissants are laminated with butter folded into the dough many times. "
    "Rye bread is dense and keeps for a week. Ovens with steam injection give baguettes a crisp crust. "
    "Paris holds a yearly contest for the best baguette.",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_url(tmp_path):
    port = _free_port()
    env = {**os.environ, "RAGTUNE_WORKSPACE": str(tmp_path / "workspace"), "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/_stcore/health", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "streamlit did not start"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:  # Streamlit's graceful shutdown takes about 20 s on 2 busy cores: what these tests check is the pages
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)


@pytest.fixture
def browser_page():
    """A Chromium tab, not yet on any address."""
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        tab.set_default_timeout(60_000)
        yield tab
        browser.close()


@pytest.fixture
def page(app_url, browser_page):
    browser_page.goto(app_url)
    return browser_page


def test_a_deep_link_on_a_fresh_server_gets_the_app_navigation(app_url, browser_page):
    """Reloading a page after an app restart must show RAGTune's pages, not a bare file list."""
    browser_page.goto(f"{app_url}/compare")
    browser_page.get_by_role("heading", name="Compare").wait_for()
    browser_page.get_by_role("link", name="5 · Playground").wait_for()
    assert browser_page.get_by_text("Workspace:").is_visible()
    browser_page.wait_for_timeout(3000)  # the legacy multipage fallback reports a missing page late
    assert not browser_page.get_by_text("Page not found").is_visible()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _go(page, title: str) -> None:
    page.get_by_role("link", name=title).click()
    page.get_by_role("heading", name=title.split(" · ")[1]).wait_for()
    _wait_idle(page)  # an input changed while the page's first run goes on may be reset (streamlit#9100)


def _wait_idle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_timeout(300)
    page.locator("[data-testid='stStatusWidget']").wait_for(state="detached", timeout=120_000)


def wait_for_run(page, label: str, timeout_ms: int = 300_000) -> None:
    """Wait until the job panel shows the run `label` ended; a run that failed, was cancelled or
    outlasts the timeout fails the test with what the page showed, not a bare timeout."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    ended = page.get_by_text(re.compile(rf"{re.escape(label)} · (succeeded|failed|cancelled)")).first
    try:
        ended.wait_for(timeout=timeout_ms)
    except PlaywrightTimeout:
        pytest.fail(f"{label} did not end in {timeout_ms / 1000:.0f} s; the page showed:\n{_main_text(page)}")
    assert f"{label} · succeeded" in ended.inner_text(), _main_text(page)


def _main_text(page) -> str:
    return page.locator("[data-testid='stMain']").inner_text()


def paste_corpus(page) -> None:
    """On the Corpus page: paste DOCUMENTS and save them as "e2e corpus" in 32-token chunks."""
    page.get_by_role("heading", name="Corpus").wait_for()
    page.get_by_role("tab", name="Paste text").click()
    for title, text in DOCUMENTS.items():
        page.get_by_label("Title", exact=True).fill(title)
        page.get_by_label("Text", exact=True).fill(text)
        page.get_by_role("button", name="Add text").click()
        page.get_by_text(f"Added 1 document(s): {title}").wait_for()
    page.get_by_label("Corpus name").fill("e2e corpus")
    page.get_by_label("Chunk size (tokens)", exact=True).fill("32")
    page.get_by_label("Overlap (tokens)", exact=True).fill("0")
    page.get_by_role("button", name="Chunk and save").click()
    page.get_by_text("Saved corpus").wait_for()


def test_corpus_to_comparison_in_the_browser(page):
    paste_corpus(page)
    _shot(page, "1-corpus")

    _go(page, "2 · Questions")
    page.get_by_label("Questions per chunk").fill("3")
    page.get_by_label("Questions per chunk").press("Enter")
    _wait_idle(page)
    page.get_by_role("button", name="Generate").click()
    page.get_by_role("button", name="Accept and save dataset").wait_for(timeout=120_000)
    _shot(page, "2-questions-review")
    page.get_by_label("Dataset name").fill("e2e questions")
    page.get_by_role("button", name="Accept and save dataset").click()
    page.get_by_text("Saved dataset").wait_for()
    _shot(page, "3-questions-saved")

    _go(page, "3 · Fine-tune")
    page.get_by_text("Advanced settings").click()
    page.get_by_text("Choose the number of epochs").click()
    page.get_by_label("Epochs", exact=True).fill("1")
    page.get_by_label("Batch size", exact=True).fill("4")
    page.get_by_label("Max length (tokens)", exact=True).fill("64")
    page.get_by_role("button", name="Start training").click()
    wait_for_run(page, "train embedding")
    _shot(page, "4-finetune")

    _go(page, "4 · Compare")
    page.get_by_role("button", name="Evaluate").click()
    wait_for_run(page, "evaluate")
    page.locator(".js-plotly-plot").first.wait_for()
    page.get_by_role("heading", name="Per query").wait_for()
    _shot(page, "5-compare")
