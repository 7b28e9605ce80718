"""The Compare page with a fine-tuned LLM beside its teacher: the paired McNemar table and the
agreement with the teacher, from a saved comparison (no model is loaded)."""

import pytest

from ragtune_core.llm.config import LLMConfig
from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.routing.compare import compare_selectors
from ragtune_core.routing.specs import SelectorSpec
from ragtune_core.store.workspace import Workspace
from ragtune_core.training.llm.data import build_chat_data, save_chat_data
from ragtune_core.training.llm.finetune import LLMFinetuneRequest, fine_tune_llm
from tests.fake_openai import FakeOpenAIServer
from tests.page_helpers import open_page
from tests.routing.test_compare_llm import answers
from tests.training.llm.helpers import router_dataset


def fine_tuned_beside_its_teacher(ws: Workspace) -> None:
    """A router dataset, a model fine-tuned (at a fake endpoint) on teacher "t"'s labels, and a saved
    comparison of the two on the validation part."""
    with FakeOpenAIServer(responder=answers, fine_tuning=True, models=("fake-base", "t")) as server:
        dataset = save_dataset(ws, "tools", router_dataset(), None, {})
        save_chat_data(
            ws, "taught", build_chat_data(router_dataset(), "teacher", LLMConfig(base_url=server.base_url, model="t"))
        )
        fine_tune_llm(
            ws,
            LLMFinetuneRequest(
                "taught", "router-ft", "openai", "fake-base", llm={"base_url": server.base_url}, poll_seconds=0.01
            ),
        )
        specs = [
            SelectorSpec("fine-tuned LLM · router-ft", "finetuned_llm", ws.list_models("llm")[0].path),
            SelectorSpec("LLM · t", "llm", llm={"base_url": server.base_url, "model": "t"}),
        ]
        compare_selectors(ws, dataset.id, specs, "val")


@pytest.fixture
def ws(tmp_path, monkeypatch):
    monkeypatch.setenv("RAGTUNE_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    fine_tuned_beside_its_teacher(ws)
    return ws


def test_the_paired_test_and_the_teacher_agreement_are_shown(ws):
    at = open_page("compare")
    assert not at.exception
    frames = [frame.value for frame in at.dataframe]
    [mcnemar] = [f for f in frames if "Verdict" in f.columns]
    # Validation: the 7 tax queries. Only "LLM · t" (numbered list) fails the garbled one; only the
    # fine-tuned model fails the plain-text answer its teacher taught it.
    assert mcnemar[["Selector A", "Selector B", "Right only by A", "Right only by B"]].values.tolist() == [
        ["fine-tuned LLM · router-ft", "LLM · t", 1, 1]
    ]
    assert mcnemar["Verdict"].tolist() == ["no significant difference (p ≥ 0.05)"]
    assert mcnemar["p-value"].tolist() == ["1.000"]
    [agreement] = [f for f in frames if "agreement" in f.columns]
    assert agreement[["selector", "teacher", "queries"]].values.tolist() == [
        ["fine-tuned LLM · router-ft", "LLM · t", 6]
    ]
    assert agreement["agreement"].tolist() == pytest.approx([5 / 6])


def test_a_damaged_price_file_is_named_and_the_rest_is_shown(ws):
    (ws.root / "llm_prices.json").write_text("[]")
    at = open_page("compare")
    assert not at.exception
    assert any("llm_prices.json" in error.value.replace("\\", "") for error in at.error)
    assert any("Verdict" in frame.value.columns for frame in at.dataframe)  # the paired test is still shown
