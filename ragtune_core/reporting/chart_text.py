"""Chart text shown as text: Plotly renders the HTML tags it knows in a chart's labels, legends, titles
and hover boxes, so a dataset, model or tool named `<a href=...>` would make a link. Every chart a
page shows (app_pages.components.chart) and every chart of a report goes through `escape_chart_text`."""

from __future__ import annotations

import html
import re

# Trace properties that hold text shown to the reader (a category on an axis, a legend entry, a
# label on a bar, a hover line). Templates hold both: Plotly Express writes a trace's name into its
# hovertemplate beside the template's own line breaks, which are all that is kept of their tags.
# Group keys are never shown, but escaped alike so that no tag at all reaches the browser.
_TRACE_TEXT = (
    "name",
    "legendgroup",
    "offsetgroup",
    "alignmentgroup",
    "x",
    "y",
    "text",
    "hovertext",
    "labels",
    "customdata",
)
_TEMPLATES = ("hovertemplate", "texttemplate")
_TEMPLATE_TAGS = {"&lt;br&gt;": "<br>", "&lt;extra&gt;": "<extra>", "&lt;/extra&gt;": "</extra>"}


def escape_chart_text(figure):
    """The figure with the text of its traces (categories, legend names, labels, hover text) and of
    its layout (titles, axis titles and tick labels, annotations) HTML-escaped: Plotly renders the
    tags it knows in any of them, so a dataset, model or tool named `<a href=...>` would make a link
    (and `<br>`, `<b>`... would restyle the chart). Numbers are left alone."""
    for trace in figure.data:
        for name in _TRACE_TEXT:
            value = getattr(trace, name, None) if name in trace else None
            if value is not None:
                trace[name] = _escaped(value)
        for name in _TEMPLATES:
            template = getattr(trace, name, None) if name in trace else None
            if isinstance(template, str):
                trace[name] = re.sub("|".join(_TEMPLATE_TAGS), lambda m: _TEMPLATE_TAGS[m.group(0)], _escaped(template))
    layout = figure.layout
    for title_of in (layout, layout.legend, *_axes(figure)):
        if title_of.title.text is not None:
            title_of.title.text = _escaped(title_of.title.text)
    for axis in _axes(figure):
        if axis.ticktext is not None:
            axis.ticktext = _escaped(axis.ticktext)
    for note in layout.annotations:
        note.text = _escaped(note.text)
    return figure


def _axes(figure) -> list:
    axes = []
    figure.for_each_xaxis(axes.append)
    figure.for_each_yaxis(axes.append)
    return axes


def _escaped(value):
    """Strings escaped, in lists and tuples (and arrays of objects) too; anything else as it is."""
    if isinstance(value, str):
        return html.escape(value, quote=False)
    if isinstance(value, (list, tuple)) or getattr(value, "dtype", None) == object:  # noqa: E721
        return [_escaped(item) for item in value]
    return value
