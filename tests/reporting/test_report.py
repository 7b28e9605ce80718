"""The shareable report: `ragtune report` writes one self-contained HTML file per comparison, which
renders its charts and headline in Chromium with the network off."""

import json
import re
from pathlib import Path

import pytest

from ragtune_core.evaluation.retrieval import save_report
from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.reporting.history import RETRIEVAL, ROUTER, recording
from ragtune_core.routing.compare import save_comparison
from ragtune_core.store.models import DEFAULT_BASE_MODEL
from tests.reporting.fixtures import CHOICES, retrieval_report, router_comparison

CHROMIUM = "/usr/bin/chromium"
EVIL = '<img src="http://evil.example/x.png">'


def router_workspace(ws) -> str:
    """A router dataset with two kept comparisons: the older with 'tuned' at 60 of 100, the newer at 90."""
    queries = {f"q{i}": f"query {i}" for i in range(100)}
    dataset = QADataset(
        queries,
        {c.id: c.description for c in CHOICES},
        {q: ["a"] for q in queries},
        kind="router",
        extra={
            "tools": [
                {"id": "a", "name": "vector_a", "description": "A", "document_id": "doc", "kind": "vector"},
                {"id": "b", "name": "summary_b", "description": "B", "document_id": "doc", "kind": "summary"},
            ]
        },
    )
    dataset_id = save_dataset(ws, "tools", dataset, None, {}).id
    for index, tuned in enumerate((60, 90)):
        right = {"base": 50, f"tuned {EVIL}": tuned}
        with recording(ws, ROUTER, dataset_id, "all", list(right)) as kept:
            comparison = router_comparison(
                right,
                {"base": 0.01, f"tuned {EVIL}": 0.021},
                created=float(index),
                comparison_id=f"route-{index}",
                dataset_id=dataset_id,
                part="all",
            )
            kept.add(save_comparison(ws, comparison).comparison_id)
    return dataset_id


def test_report_writes_the_latest_comparison_with_headline_slices_examples_and_reproduction(
    workspace, run_cli, tmp_path
):
    router_workspace(workspace)
    out = tmp_path / "report.html"
    code, stdout, stderr = run_cli("report", "tools", "--out", str(out))
    assert code == 0, stderr
    summary = json.loads(stdout)
    assert summary["kind"] == "router" and summary["state"] == "complete" and summary["report"] == str(out)
    page = out.read_text()
    assert "On all 100 queries." in page  # what the scores rest on, before them
    assert "+40.0 points match rate over base [95% CI" in page and "p &lt; 0.001" in page
    assert "Keep tuned &lt;img" in page and EVIL not in page  # every name escaped
    for section in (
        "By right tool",
        "Wins and regressions",
        "Model cards",
        "Reproduce",
        f"--run {summary['comparison']}",
        "sha256",
    ):
        assert section in page, section
    assert page.count("Plotly.newPlot") == 3 and "<script src=" not in page  # inlined, nothing to fetch


def test_report_of_an_earlier_comparison_by_its_id(workspace, run_cli, tmp_path):
    router_workspace(workspace)
    _, stdout, _ = run_cli("report", "tools", "--out", str(tmp_path / "latest.html"))
    latest = json.loads(stdout)["comparison"]
    listing = sorted(p.stem for p in workspace.dir("comparisons").glob("*.json"))
    [older] = [name for name in listing if name != latest]
    code, stdout, stderr = run_cli("report", "tools", "--run", older, "--out", str(tmp_path / "older.html"))
    assert code == 0, stderr
    assert json.loads(stdout)["comparison"] == older
    assert "+10.0 points match rate" in (tmp_path / "older.html").read_text()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report", "nope", "--out", "r.html"], "no dataset"),
        (["report", "tools", "--out", "r.txt"], "name a .html file"),
        (["report", "tools", "--out", "missing/r.html"], "does not exist"),
        (["report", "tools", "--run", "cmp-nope", "--out", "r.html"], "--run 'cmp-nope' is no comparison"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(workspace, run_cli, tmp_path, monkeypatch, argv, message):
    router_workspace(workspace)
    monkeypatch.chdir(tmp_path)
    code, stdout, stderr = run_cli(*argv)
    assert code == 2 and stdout == "" and stderr.count("\n") == 1 and message in stderr, stderr


def test_a_dataset_without_a_comparison_is_refused(workspace, run_cli, tmp_path):
    save_dataset(workspace, "fresh", QADataset({"q": "x"}, {"p": "y"}, {"q": ["p"]}), None, {})
    code, _, stderr = run_cli("report", "fresh", "--out", str(tmp_path / "r.html"))
    assert code == 2 and "has no comparison yet" in stderr


def retrieval_workspace(ws) -> str:
    queries = {f"q{i}": f"question {i}" for i in range(8)}
    dataset = QADataset(
        queries,
        {f"p{i}": f"passage {i}" for i in range(8)},
        {q: [f"p{q[1:]}"] for q in queries},
        passage_docs={f"p{i}": f"doc{i % 2}" for i in range(8)},
    )
    dataset_id = save_dataset(ws, "qa", dataset, None, {}).id
    with recording(ws, RETRIEVAL, dataset_id, "all", [DEFAULT_BASE_MODEL, "tuned"]) as kept:
        for name, ranks in ((DEFAULT_BASE_MODEL, [9, 1, None, 7, 1, 8, 2, 9]), ("tuned", [1] * 8)):
            kept.add_report(save_report(ws, retrieval_report(name, ranks, part="all"), dataset_id))
    return dataset_id


@pytest.mark.e2e
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium is not installed (make browser)")
@pytest.mark.parametrize("make, dataset, charts", [(router_workspace, "tools", 3), (retrieval_workspace, "qa", 2)])
def test_the_report_renders_its_charts_and_headline_offline_in_chromium(
    workspace, run_cli, tmp_path, make, dataset, charts
):
    playwright = pytest.importorskip("playwright.sync_api")
    make(workspace)
    out = tmp_path / "report.html"
    assert run_cli("report", dataset, "--out", str(out))[0] == 0
    asked = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        context.set_offline(True)
        context.route(re.compile(r"^(?!file:).*"), lambda route: asked.append(route.request.url) or route.abort())
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(out.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {charts}")
        rendered = page.locator(".js-plotly-plot").count()
        headline = page.locator("ul.headline li").first.inner_text()
        axis_titles = page.eval_on_selector_all(".js-plotly-plot .g-ytitle", "titles => titles.map(t => t.textContent)")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert rendered == charts and not errors and not asked
    assert "points" in headline and "[95% CI" in headline
    assert all(title.strip() for title in axis_titles) and len(axis_titles) == charts
