"""Pages preselect what belongs together: never an imported evaluation set for training or the Playground."""

import pytest

from ragtune_core.questions.qa_dataset import load_dataset, save_dataset
from tests.app_pages.test_page_playground import ws  # noqa: F401  (a corpus and its generated router dataset)
from tests.page_helpers import open_page, widget


@pytest.fixture
def with_imported_set(ws):  # noqa: F811
    """A router dataset imported from a file (hand-written queries), newer than the generated one."""
    generated = ws.resolve("datasets", "topics router")
    save_dataset(
        ws, "hand-written router", load_dataset(ws, generated.id), generated.corpus_id, {"imported": "router.json"}
    )
    return ws


@pytest.mark.parametrize(
    "page, label", [("playground", "Router dataset"), ("finetune_llm", "Router dataset"), ("finetune", "Dataset")]
)
def test_a_newer_imported_evaluation_set_is_not_the_default(with_imported_set, page, label):
    at = open_page(page)
    assert not at.exception
    picker = widget(at, "selectbox", label)
    assert picker.value == with_imported_set.resolve("datasets", "topics router").id
    assert (
        with_imported_set.resolve("datasets", "hand-written router").id in picker.options
        or "hand-written router" in picker.options
    )  # still offered, only not preselected
