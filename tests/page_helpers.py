"""Helpers for AppTest page tests: open a page on a fresh workspace, find widgets by label."""

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parent.parent / "app_pages"
APP = PAGES.parent / "app.py"


def open_page(name: str) -> AppTest:
    return AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=120).run()


def widget(at: AppTest, kind: str, label: str):
    """The widget of a kind ("button", "text_input", ...) whose label is `label`."""
    found = [w for w in getattr(at, kind) if w.label == label]
    assert found, f"no {kind} labelled {label!r}; have {[w.label for w in getattr(at, kind)]}"
    return found[0]


def texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def shown(elements) -> str:
    """The elements' text as a reader sees it: Markdown escapes (basics.literal) resolved."""
    return re.sub(r"\\(.)", r"\1", texts(elements)).replace("\u2060", "")
