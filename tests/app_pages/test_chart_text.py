"""Charts show names as text: a dataset, model or tool named with HTML cannot make a link, an image
or restyle the chart, because every chart goes through widgets.charts.chart, which escapes its text."""

import json
import re
from pathlib import Path

import pandas as pd
import plotly.express as px
import pytest
from streamlit.testing.v1 import AppTest

from ragtune_core.reporting.chart_text import escape_chart_text

PAGES = Path(__file__).resolve().parents[2] / "app_pages"
EVIL = '<a href="http://evil.example/beacon">click</a><img src="http://evil.example/i.png">'
TAGS = re.compile(r"<(?!br>|extra>|/extra>)[a-z/]", re.IGNORECASE)  # any tag but a template's own


def spec_text(figure) -> str:
    return json.dumps(json.loads(figure.to_json()), ensure_ascii=False)


def test_names_in_bars_legends_titles_and_hover_are_escaped():
    frame = pd.DataFrame({"tool": [EVIL, "vector_tool_a"], "score": [0.4, 0.9], "selector": [f"<b>{EVIL}</b>", "base"]})
    figure = px.bar(
        frame, x="tool", y="score", color="selector", barmode="group", text_auto=".3f", title=f"Scores on {EVIL}"
    )
    figure.add_annotation(text=EVIL, x=0, y=0)
    figure.update_xaxes(title_text=EVIL)
    before = spec_text(figure)
    assert TAGS.search(before)  # the figure as built does carry the tags
    after = spec_text(escape_chart_text(figure))
    assert not TAGS.search(after), TAGS.findall(after)
    assert '&lt;a href=\\"http://evil.example/beacon\\"&gt;click' in after  # shown as text
    assert figure.data[0].hovertemplate.endswith("<br>tool=%{x}<br>score=%{y}<extra></extra>")
    assert list(figure.data[1].x) == ["vector_tool_a"] and list(figure.data[0].y) == [0.4]  # data kept


def test_heatmap_labels_and_line_series_are_escaped():
    heatmap = escape_chart_text(px.imshow([[1, 0], [0, 1]], x=[EVIL, "b"], y=["<i>c</i>", "d"], text_auto=True))
    lines = escape_chart_text(
        px.line(
            pd.DataFrame({"step": [1, 2], "value": [1.0, 0.5], "series": [EVIL, EVIL]}),
            x="step",
            y="value",
            color="series",
        )
    )
    for figure in (heatmap, lines):
        assert not TAGS.search(spec_text(figure))


@pytest.mark.fault(
    "A dataset, model or tool named with HTML (<a href>, <img>) shown in a chart",
    sees="the name as text: no link, no image request",
    kept="the name as typed",
)
def test_a_chart_shown_by_a_page_carries_no_tag():
    def page():
        import pandas as pd
        import plotly.express as px

        from app_pages.widgets.charts import chart

        evil = '<a href="http://evil.example/beacon">click</a>'
        chart(px.bar(pd.DataFrame({"tool": [evil], "score": [1.0]}), x="tool", y="score", title=evil))

    at = AppTest.from_function(page).run()
    assert not at.exception
    spec = at.get("plotly_chart")[0].proto.spec
    assert "evil.example" in spec and not TAGS.search(json.dumps(json.loads(spec), ensure_ascii=False))


def test_no_page_shows_a_chart_any_other_way():
    callers = [
        path.relative_to(PAGES).as_posix() for path in PAGES.rglob("*.py") if "plotly_chart(" in path.read_text()
    ]
    assert callers == ["widgets/charts.py"]
