"""One comparison as a self-contained HTML file to share: it opens offline (Plotly's bundled
JavaScript is inlined, nothing is fetched) and holds the headline with its intervals, the charts,
the per-slice tables, latency and cost, the biggest wins and regressions as examples, the models'
cards, and what it takes to reproduce the numbers.

Every name in it (datasets, models, queries) is escaped: a page or chart shows it as text."""

from __future__ import annotations

import hashlib
import html
import importlib.metadata
import platform
from datetime import datetime
from pathlib import Path

import pandas as pd

from .. import __version__
from ..evaluation.metrics import METRIC_NAMES
from ..evaluation.retrieval import CHART_METRICS
from ..evaluation.tables import comparison_table
from ..store.workspace import Workspace
from .chart_text import escape_chart_text
from .figures import latency_bars, metric_bars, score_bars, tradeoff_chart
from .headline import best, headline
from .history import PART_NAMES, ComparisonEntry
from .tables import mcnemar_words, score_table, slice_scores, wins_and_regressions
from .views import ComparisonView, load_view

BOOTSTRAP = "percentile bootstrap, 1,000 resamples of the queries, seed 0, 95%"
PACKAGES = ("plotly", "numpy", "scipy", "torch", "sentence-transformers", "transformers", "streamlit")
STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2933}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5em 0}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f3f4f6}
.headline li{margin:.3em 0;font-size:1.05em}.keep{background:#eef6ee;padding:.8em;border-left:4px solid #2e7d32}
.warn{background:#fff4e5;padding:.8em;border-left:4px solid #ed6c02}footer{margin-top:2em;color:#555;font-size:.9em}"""


def report_file_name(entry: ComparisonEntry, dataset_name: str) -> str:
    stamp = datetime.fromtimestamp(entry.created).strftime("%Y%m%d-%H%M")
    safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in dataset_name)[:40]
    return f"ragtune-report-{safe}-{stamp}.html"


def render_report(ws: Workspace, entry: ComparisonEntry) -> str:
    """The report of the comparison `entry`, as one HTML document."""
    import plotly.offline

    view = load_view(ws, entry)
    sections = [_heading(view), *_findings(view), _models(ws, view), _footer(ws, view)]
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_text(_title(view))}</title>"
        f"<style>{STYLE}</style><script>{plotly.offline.get_plotlyjs()}</script></head><body>"
        + "\n".join(sections)
        + "</body></html>"
    )


def _title(view: ComparisonView) -> str:
    kind = "Router selectors" if view.router is not None or view.entry.kind == "router" else "Retrievers"
    return f"{kind} on {view.dataset_name}"


def _heading(view: ComparisonView) -> str:
    entry = view.entry
    when = datetime.fromtimestamp(entry.created).strftime("%Y-%m-%d %H:%M")
    text = (
        f"<h1>{_text(_title(view))}</h1><p>{_text(PART_NAMES.get(entry.part, entry.part))}, compared {when}, "
        f"models: {_text(', '.join(entry.models))}.</p>"
    )
    if not entry.complete:
        text += (
            f"<p class='warn'>This comparison is {entry.state.value}: it holds only the results saved before "
            "it ended, and is never mixed with another comparison's.</p>"
        )
    return text


def _findings(view: ComparisonView) -> list[str]:
    scores = view.scores
    if scores is None:
        return ["<p class='warn'>It saved no result.</p>"]
    sections = [
        f"<h2>Headline</h2><p>{_text(view.measured_on)}</p><ul class='headline'>"
        + "".join(f"<li>{_text(s)}</li>" for s in headline(scores))
        + "</ul>"
        + (f"<p class='keep'>{_text(view.recommendation)}</p>" if view.recommendation else ""),
        _chart(f"{scores.metric.capitalize()} with 95% intervals", score_bars(scores)),
    ]
    if view.router is not None:
        sections += [
            _chart("Latency per query", latency_bars(scores)),
            _chart("Quality, latency and cost on one plane", tradeoff_chart(scores)),
        ]
    else:
        sections.append(_chart("Every charted metric", metric_bars(comparison_table(view.reports), CHART_METRICS)))
        if scores.timed:
            sections.append(_chart("Quality and latency on one plane", tradeoff_chart(scores)))
    sections.append(
        "<h2>Scores, latency and cost</h2>"
        + _table(score_table(scores))
        + f"<p>Intervals: {BOOTSTRAP}; gains are paired (the same queries resampled for both).</p>"
    )
    if view.router is not None and len(view.router.reports) > 1:
        sections.append("<h2>Paired tests (McNemar)</h2>" + _table(mcnemar_words(view.router)))
    if view.reports:
        metrics = pd.DataFrame({r.name: {m: round(r.metrics[m], 3) for m in METRIC_NAMES} for r in view.reports})
        sections.append("<h2>Every metric</h2>" + _table(metrics.rename_axis("metric").reset_index()))
    sections += [
        f"<h2>By {_text(kind.lower())}</h2>" + _table(slice_scores(scores, slice_of, kind))
        for kind, slice_of in view.slices.items()
    ]
    return sections + [_examples(view)]


def _examples(view: ComparisonView) -> str:
    scores = view.scores
    top = best(scores)
    shown = next((d for d in scores.deltas if d.model is top), scores.deltas[0] if scores.deltas else None)
    if shown is None:
        return ""
    ranks = {r.name: {q.query_id: q.rank for q in r.per_query} for r in view.reports} or None
    return (
        f"<h2>Wins and regressions: {_text(shown.model.name)} against {_text(shown.base.name)}</h2>"
        f"<p>{shown.wins} queries it gets right and the base wrong, {shown.losses} the other way round; "
        "at most ten of each, the biggest moves first.</p>" + _table(wins_and_regressions(shown, view.texts, ranks))
    )


def _models(ws: Workspace, view: ComparisonView) -> str:
    """A card per model: what it is, and for a workspace model what it started from and was trained on."""
    by_path = {m.path: m for m in ws.list_models()}
    sources = (
        {r.name: (r.kind, r.model) for r in view.router.reports}
        if view.router is not None
        else {r.name: ("embedding or reranker", r.model_path or "") for r in view.reports}
    )
    rows = []
    for name in view.entry.models:
        kind, source = sources.get(name, ("", ""))
        record = by_path.get(source)
        rows.append(
            {
                "Model": name,
                "Kind": record.kind if record else kind.replace("_", " "),
                "Id": record.id if record else (Path(source).name if source else "bundled"),
                "Started from": record.base_model if record else "",
                "Trained on": _dataset_name(ws, record.dataset_id) if record else "",
                "Validation metrics when trained": _metrics(record.metrics) if record else "",
                "Registered": datetime.fromtimestamp(record.created).strftime("%Y-%m-%d") if record else "",
            }
        )
    return "<h2>Model cards</h2>" + _table(pd.DataFrame(rows))


def _metrics(metrics: dict) -> str:
    return ", ".join(f"{name} {value:.3f}" for name, value in metrics.items() if isinstance(value, float))


def _footer(ws: Workspace, view: ComparisonView) -> str:
    entry = view.entry
    dataset_file = ws.dataset_path(entry.dataset_id)
    digest = hashlib.sha256(dataset_file.read_bytes()).hexdigest()[:16] if dataset_file.exists() else "not found"
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    settings = ", ".join(f"{k} = {v}" for k, v in entry.settings.items()) or "the defaults"
    lines = [
        f"Comparison {entry.id}" + (f", run {entry.run_id}" if entry.run_id else ""),
        f"Dataset {view.dataset_name} ({entry.dataset_id}), sha256 {digest}, {entry.part} part",
        f"Models: {', '.join(entry.models)}",
        f"Settings: {settings}; intervals: {BOOTSTRAP}",
        f"RAGTune {__version__}, Python {platform.python_version()}, {versions}",
        f"Again: ragtune report {entry.dataset_id} --run {entry.id} --out report.html",
    ]
    return "<footer><h2>Reproduce</h2><ul>" + "".join(f"<li>{_text(line)}</li>" for line in lines) + "</ul></footer>"


def _dataset_name(ws: Workspace, dataset_id: str | None) -> str:
    names = {d.id: d.name for d in ws.list_datasets()}
    return names.get(dataset_id, dataset_id or "")


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _chart(title: str, figure) -> str:
    body = escape_chart_text(figure).to_html(
        full_html=False, include_plotlyjs=False, config={"displaylogo": False, "responsive": True}
    )
    return f"<h2>{_text(title)}</h2>{body}"


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, na_rep="", border=0)


def _text(value: object) -> str:
    return html.escape(str(value))
