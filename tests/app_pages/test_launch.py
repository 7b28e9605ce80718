"""Every page listed in app.py opens on a fresh workspace, through app.py's navigation and sidebar."""

import ast
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"


def app_pages() -> list[tuple[str, str]]:
    """(file, title) of each page file in app.py's st.Page calls, read without running Streamlit (the
    hidden start page that forwards "/" to the first page is a function, not a file)."""
    calls = [node for node in ast.walk(ast.parse(APP.read_text())) if isinstance(node, ast.Call)]
    return [
        (call.args[0].value, next(k.value.value for k in call.keywords if k.arg == "title"))
        for call in calls
        if getattr(call.func, "attr", None) == "Page" and isinstance(call.args[0], ast.Constant)
    ]


def test_app_lists_its_six_pages():
    assert len(app_pages()) == 6 and all((APP.parent / page).is_file() for page, _ in app_pages())


@pytest.mark.parametrize(("page", "title"), app_pages(), ids=[Path(page).stem for page, _ in app_pages()])
def test_page_opens_on_a_fresh_workspace(page, title, tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    at = AppTest.from_file(str(APP), default_timeout=60).run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.title[0].value == title.split(" · ")[1]  # "2 · Questions": the page's own heading
