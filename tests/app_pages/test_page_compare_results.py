"""Compare page results: each comparison opens with its headline and recommendation, its charts read
right (axis titles in words, values above the whiskers, latency linear from zero), every comparison
is kept (the latest shown, an earlier one on request, a cancelled one marked and never mixed), and
the scores across comparisons are charted. Comparisons are saved by hand: no model runs."""

import base64
import json
import re
from contextlib import contextmanager

import numpy as np
import pytest

import app_pages.compare_retrievers as retrievers
from ragtune_core.evaluation.retrieval import save_report
from ragtune_core.questions.qa_dataset import QADataset, save_dataset
from ragtune_core.reporting.history import RETRIEVAL, ROUTER, recording
from ragtune_core.routing.compare import RouterComparison, load_router_task, save_comparison
from ragtune_core.store.models import DEFAULT_BASE_MODEL
from ragtune_core.store.workspace import Workspace
from ragtune_core.timing.work import Estimate
from tests.page_helpers import open_page, shown, widget
from tests.reporting.fixtures import retrieval_report, selector
from tests.routing.test_compare import router_dataset

BASE = f"embedding · {DEFAULT_BASE_MODEL}"


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    # The estimate before Evaluate measures this machine with the bundled model: not what these tests read.
    monkeypatch.setattr(retrievers, "estimate_evaluation", lambda *args: Estimate({"encoding": 1.0}))
    return Workspace(tmp_path / "ws")


def compared(
    ws, dataset_id: str, right: dict[str, int], latency: dict[str, float], created: float, models: str = "models"
) -> None:
    """A kept comparison of the dataset's validation queries: selector `name` routes the first right[name] right;
    all but the first are cross-encoders, saved in `models`/name."""
    task = load_router_task(ws, dataset_id, "val")
    wrong = [(want + 1) % len(task.choices) for want in task.expected]
    reports = [
        selector(
            name,
            task.expected[:count] + wrong[count:],
            task.expected,
            latency[name],
            "embedding" if i == 0 else "cross_encoder",
            "" if i == 0 else f"{models}/{name}",
            len(task.choices),
        )
        for i, (name, count) in enumerate(right.items())
    ]
    with recording(ws, ROUTER, dataset_id, "val", list(right)) as kept:
        comparison = RouterComparison(
            f"route-{created}",
            dataset_id,
            "val",
            created,
            task.queries,
            task.query_ids,
            task.choices,
            task.expected,
            reports,
        )
        kept.add(save_comparison(ws, comparison).comparison_id)


def numbers(value) -> list:
    """A trace's values as Plotly writes them: a list, or a typed array ({"dtype", "bdata"} in base64)."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).tolist()
    return value


def figures(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def titled(at, y_title: str) -> dict:
    return next(f for f in figures(at) if f["layout"]["yaxis"]["title"]["text"].startswith(y_title))


def test_a_router_comparison_opens_with_its_headline_and_readable_charts(ws):
    dataset = save_dataset(ws, "tools", router_dataset(), None, {})
    n = len(load_router_task(ws, dataset.id, "val").queries)
    compared(ws, dataset.id, {BASE: 1, "tuned": n}, {BASE: 0.0467, "tuned": 0.0462}, created=1.0)
    at = open_page("compare")
    assert not at.exception
    documents = len(set(router_dataset().passage_docs.values()))
    assert f"On {n} queries of the validation split, about 1 of the dataset's {documents} documents." in shown(
        at.caption
    )
    sentences = shown(at.markdown)
    assert f"tuned: +{100 * (n - 1) / n:.1f} points match rate over {BASE} [95% CI" in sentences
    assert "about the same latency" in sentences
    assert shown(at.success).startswith("Keep tuned: the best match rate, 1.000")

    bars = titled(at, "Match rate (share routed right)")
    assert bars["layout"]["xaxis"]["title"]["text"] == "Selector"
    bar, labels = bars["data"]
    assert labels["mode"] == "text" and labels["textposition"] == "top center"
    whisker_tops = [value + above for value, above in zip(bar["y"], bar["error_y"]["array"], strict=True)]
    assert labels["y"] == pytest.approx(whisker_tops) and labels["text"] == [f"{1 / n:.3f}", "1.000"]

    latency = next(f for f in figures(at) if f["layout"]["yaxis"]["title"]["text"].startswith("Milliseconds"))
    assert latency["layout"]["yaxis"]["type"] == "linear" and latency["layout"]["yaxis"]["range"][0] == 0
    assert latency["data"][0]["text"] == ["46.7 ms", "46.2 ms"] and latency["data"][0]["textposition"] == "outside"
    plane = next(f for f in figures(at) if f["layout"]["xaxis"]["title"]["text"].startswith("Milliseconds"))
    assert plane["layout"]["xaxis"]["range"][0] == 0 and plane["data"][0]["text"] == [BASE, "tuned"]

    table = at.dataframe[0].value
    assert list(table.columns[:5]) == [
        "Model",
        "Match rate",
        "95% interval",
        "Gain over base, points [95% CI]",
        "p (McNemar)",
    ]
    assert table.loc[1, "Match rate"] == "1.000" and table.loc[0, "Gain over base, points [95% CI]"] == "base"
    mcnemar = next(d.value for d in at.dataframe if "Verdict" in d.value.columns)
    assert re.fullmatch(r"< 0\.001|[01]\.\d{3}", mcnemar.loc[0, "p-value"])  # never 3.6e-14
    assert [b.label for b in at.get("download_button")] == ["Download the report (HTML)"]
    heatmap = next(f for f in figures(at) if f["layout"]["yaxis"]["title"]["text"] == "right tool")
    asked = {choice.name for choice in load_router_task(ws, dataset.id, "val").choices if "tax" in choice.id}
    assert set(heatmap["data"][0]["y"]) <= asked  # only the tools these queries ask for, not a wall of zeros


def test_a_cross_encoder_whose_own_score_has_no_share_is_said_to_route_as_its_embedder(ws, tmp_path):
    dataset = save_dataset(ws, "tools", router_dataset(), None, {})
    n = len(load_router_task(ws, dataset.id, "val").queries)
    for name, shares in (("silent", (0.6, 0.4)), ("heard", (0.5, 0.0))):  # first stage, word match
        folder = tmp_path / "models" / name
        folder.mkdir(parents=True)
        keys = {"ragtune_first_stage_weight": shares[0], "ragtune_lexical_weight": shares[1]}
        (folder / "config.json").write_text(json.dumps(keys))
    latency = {BASE: 0.01, "silent": 0.01, "heard": 0.01}
    compared(ws, dataset.id, {BASE: 1, "silent": n, "heard": n}, latency, 1.0, models=str(tmp_path / "models"))
    at = open_page("compare")
    assert not at.exception
    notes = [info.value for info in at.info if "routes as its embedder does" in info.value]
    assert len(notes) == 1 and notes[0].startswith("**silent** routes as its embedder does")


def qa_workspace(ws) -> str:
    queries = {f"q{i}": f"question {i}" for i in range(8)}
    dataset = QADataset(
        queries,
        {f"p{i}": f"passage {i}" for i in range(8)},
        {f"q{i}": [f"p{i}"] for i in range(8)},
        split={q: "val" for q in queries},
    )
    return save_dataset(ws, "qa", dataset, None, {}).id


def evaluated(ws, dataset_id: str, ranks: dict[str, list], cancelled: bool = False) -> None:
    """A kept retrieval comparison; `cancelled`: stopped after the first model's report."""
    try:
        with recording(ws, RETRIEVAL, dataset_id, "val", list(ranks)) as kept:
            for index, (name, model_ranks) in enumerate(ranks.items()):
                if cancelled and index == 1:
                    raise KeyboardInterrupt
                kept.add_report(save_report(ws, retrieval_report(name, model_ranks), dataset_id))
    except KeyboardInterrupt:
        pass


def test_the_latest_comparison_is_shown_a_cancelled_one_marked_and_never_mixed(ws):
    dataset_id = qa_workspace(ws)
    evaluated(ws, dataset_id, {DEFAULT_BASE_MODEL: [9] * 8, "tuned": [1] * 8})
    evaluated(ws, dataset_id, {DEFAULT_BASE_MODEL: [2] * 8, "tuned": [1] * 8}, cancelled=True)
    at = open_page("compare")
    assert not at.exception
    picker = widget(at, "selectbox", "Comparison")
    assert len(picker.options) == 2 and "CANCELLED" in picker.options[0]
    assert "This comparison is **cancelled**: it shows only what it saved before it ended (1 of 2 models)" in shown(
        at.warning
    )
    assert list(at.dataframe[0].value["Model"]) == [DEFAULT_BASE_MODEL]  # the older run's "tuned" is not mixed in
    assert at.dataframe[0].value.loc[0, "Hit rate@5"] == "1.000"
    assert not at.success  # no model to keep from a comparison that did not complete

    picker.set_value(picker.options[1]).run()
    assert not at.exception and "cancelled" not in shown(at.warning)
    table = at.dataframe[0].value
    assert list(table["Model"]) == [DEFAULT_BASE_MODEL, "tuned"] and list(table["Hit rate@5"]) == ["0.000", "1.000"]
    assert "tuned: +100.0 points hit rate@5" in shown(at.markdown)
    assert shown(at.success).startswith("Keep tuned: the best hit rate@5, 1.000")

    evaluated(ws, dataset_id, {DEFAULT_BASE_MODEL: [3] * 8, "tuned": [2] * 8})  # a new comparison lands
    at.run()
    picker = widget(at, "selectbox", "Comparison")
    assert len(picker.options) == 3 and picker.index == 0, "the earlier one picked before it is still shown"


def test_a_selectors_match_rate_is_charted_across_comparisons(ws):
    dataset = save_dataset(ws, "tools", router_dataset(), None, {})
    n = len(load_router_task(ws, dataset.id, "val").queries)
    compared(ws, dataset.id, {BASE: 1, "tuned": n - 1}, {BASE: 0.01, "tuned": 0.02}, created=1.0)
    compared(ws, dataset.id, {BASE: 1, "tuned": n}, {BASE: 0.01, "tuned": 0.02}, created=2.0)
    at = open_page("compare")
    assert not at.exception
    assert "Across comparisons" in [h.value for h in at.subheader]
    trend = next(f for f in figures(at) if f["layout"]["xaxis"]["title"]["text"] == "Comparison (when it was run)")
    tuned = next(trace for trace in trend["data"] if trace["name"] == "tuned")
    assert numbers(tuned["y"]) == pytest.approx([(n - 1) / n, 1.0])
    assert [label.split(" · ")[0] for label in tuned["x"]] == ["#1", "#2"]


def test_a_comparison_and_the_scores_across_comparisons_load_under_a_spinner_in_their_place(ws, monkeypatch):
    import streamlit

    import app_pages.compare_results as results

    spinning, loaded_under = [], []
    real_spinner, real_load_view, real_score_trend = streamlit.spinner, results.load_view, results.score_trend

    @contextmanager
    def recorded_spinner(text, *args, **kwargs):
        with real_spinner(text, *args, **kwargs):
            spinning.append(text)
            try:
                yield
            finally:
                spinning.pop()

    def recorded(real):
        return lambda *args: loaded_under.append(list(spinning)) or real(*args)

    monkeypatch.setattr(streamlit, "spinner", recorded_spinner)
    monkeypatch.setattr(results, "load_view", recorded(real_load_view))
    monkeypatch.setattr(results, "score_trend", recorded(real_score_trend))
    dataset = save_dataset(ws, "tools", router_dataset(), None, {})
    compared(ws, dataset.id, {BASE: 1, "tuned": 2}, {BASE: 0.01, "tuned": 0.02}, created=1.0)
    assert not open_page("compare").exception
    assert loaded_under == [["Loading the comparison…"], ["Gathering the scores of every comparison…"]]
