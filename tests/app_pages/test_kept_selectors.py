"""The Selectors multiselect keeps what the user chose while they visit other pages; a first visit
starts at the default (the workspace's trained models, the bundled embedder first)."""

import pytest
from streamlit.testing.v1 import AppTest

from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.routing import untuned_llm_spec
from ragtune_core.store.models import DEFAULT_BASE_MODEL
from ragtune_core.store.workspace import Workspace
from tests.page_helpers import APP, widget
from tests.routing.test_compare import router_dataset

BUNDLED, UNTUNED = f"embedding · {DEFAULT_BASE_MODEL}", untuned_llm_spec().label


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    save_dataset(ws, "tools", router_dataset(), None, {})
    return ws


def test_the_selectors_chosen_on_compare_are_still_chosen_after_visiting_another_page(ws):
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    at.switch_page("app_pages/compare.py").run()
    assert widget(at, "multiselect", "Selectors").value == [BUNDLED]  # first visit: the default
    widget(at, "multiselect", "Selectors").set_value([UNTUNED]).run()
    assert not at.exception

    at.switch_page("app_pages/corpus.py").run()
    assert not [w for w in at.multiselect if w.label == "Selectors"]  # Streamlit dropped the widget's state
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception and widget(at, "multiselect", "Selectors").value == [UNTUNED]
