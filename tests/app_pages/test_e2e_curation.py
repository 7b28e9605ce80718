"""The curation round trip in headless Chromium: a flagged question relabelled in the queue and saved as the
dataset's next version, a reranker of the first version retrained on it and the two compared; the review
grid, the queue and the round's gains photographed for a person to look at."""

import json
import re
from pathlib import Path

import pytest

from ragtune_core import jobs
from ragtune_core.questions.qa_dataset import load_dataset, split_dataset, update_dataset
from ragtune_core.questions.versions import versions_of
from ragtune_core.runs import JobState
from ragtune_core.store.workspace import Workspace
from ragtune_core.training import CrossEncoderTrainConfig
from tests.app_pages.test_e2e_browser import (  # noqa: F401
    CHROMIUM,
    SHOTS,
    _shot,
    _wait_idle,
    app_url,
    browser_page,
    wait_for_run,
)
from tests.app_pages.test_page_curation import flagged_draft, notes_workspace
from tests.questions.test_cli_datasets import ROUTER_FILE

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make browser)"),
]


def trained_reranker(ws: Workspace, dataset_id: str) -> None:
    """ "reranker": a QA reranker fine-tuned on the dataset, half of it held out, by a training job (its
    run keeps the settings a round repeats), with the smallest settings that train: about 20 s."""
    dataset = load_dataset(ws, dataset_id)
    dataset.split = split_dataset(dataset, 0.5, "query", seed=0)  # 4 validation questions to compare on
    update_dataset(ws, dataset_id, dataset)
    config = CrossEncoderTrainConfig(epochs=1, batch_size=4, max_length=32, hard_negatives=1)
    params = jobs.training_job_params(dataset_id, "reranker", config)
    started = jobs.start_job(ws, jobs.JobKind.TRAIN_CROSS_ENCODER, params, name="reranker", dataset_id=dataset_id)
    ended = jobs.wait(ws, started.run_id, timeout=300)
    assert ended.state == JobState.SUCCEEDED, ended.error


def test_flagged_relabelled_saved_retrained_and_compared(tmp_path, app_url, browser_page):  # noqa: F811
    ws = notes_workspace(Workspace(tmp_path / "workspace"))  # the server's workspace
    flagged_draft(ws)
    first = ws.resolve("datasets", "volcanoes")
    trained_reranker(ws, first.id)
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

    page.get_by_role("heading", name="Retrain and compare").scroll_into_view_if_needed()
    page.get_by_role("button", name="Retrain on this version").click()
    wait_for_run(page, "train cross encoder")
    page.get_by_role("button", name="Compare the round").click()
    wait_for_run(page, "evaluate")
    page.get_by_text("What the round changed: reranker · volcanoes v2 over reranker, on 4 validation").wait_for()
    _wait_idle(page)
    gains = page.locator("[data-testid='stDataFrame']").last
    gains.scroll_into_view_if_needed()
    _shot(page, "curation-4-round")
    table = gains.text_content()  # the grid's cells, as its accessible table holds them
    assert "reranker · volcanoes v2" in table and "ndcg@10" in table and "mrr@10" in table
    assert len(re.findall(r"[+-]\d\.\d{3} … [+-]\d\.\d{3}", table)) == 3  # each gain's 95% interval


def test_the_import_offers_the_kind_and_an_explicit_kind_wins(tmp_path, app_url, browser_page):  # noqa: F811
    ws = notes_workspace(Workspace(tmp_path / "workspace"))
    says_qa = tmp_path / "says-qa.json"
    says_qa.write_text(json.dumps({**ROUTER_FILE, "ragtune": {"kind": "qa"}}))
    page = browser_page
    page.goto(f"{app_url}/questions")
    page.get_by_role("heading", name="Datasets").wait_for()
    _wait_idle(page)

    def import_as(kind: str, name: str) -> None:
        page.get_by_role("button", name="Import a dataset").click()
        page.locator("input[type='file']").set_input_files(str(says_qa))
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_text(kind, exact=True).click()
        page.get_by_role("button", name="Import", exact=True).click()

    import_as("Router", "contradicting")
    page.get_by_text("says-qa.json says it is a qa dataset (ragtune.kind), but router was chosen").wait_for()
    _shot(page, "import-kind-refused")
    assert [d.name for d in ws.list_datasets()] == ["volcanoes"]
    page.keyboard.press("Escape")
    import_as("As the file says, else guess", "said")
    page.get_by_text("Kind qa: as the file says (ragtune.kind).").wait_for()
    assert ws.resolve("datasets", "said").kind == "qa"  # tool-shaped answers, but the file says QA
