"""Each job kind's result is one typed model (store.run_results.RunResult): kept as plain JSON in the
catalogue, read back equal; a result an older RAGTune kept (fewer keys) loads; one of another shape is a
FileContentError naming the run and the key."""

import pytest

from ragtune_core.corpus.wiki_fetch import FetchRunResult
from ragtune_core.evaluation.run_result import EvaluationRunResult
from ragtune_core.jobs import JobKind, JobState
from ragtune_core.routing.run_result import ComparisonRunResult
from ragtune_core.store.files import FileContentError
from ragtune_core.training.llm.finetune import LLMFinetuneResult

FINETUNED = LLMFinetuneResult(
    model_id="model-1",
    model_name="router-ft",
    model_path="/models/router-ft",
    provider="openai",
    provider_job="ftjob-1",
    fine_tuned_model="ft:gpt:1",
    base_model="gpt-4o-mini",
    tools_hash="abc",
    trained_tokens=1200,
    metrics={"train_loss": 0.4, "trained_tokens": 1200, "status": "succeeded"},
)
# (kind, a result as this version builds it, one an older version kept, a damaged one, what its error says)
CASES = [
    (
        JobKind.EVALUATE,
        EvaluationRunResult(
            reports=["r1", "r2"],
            metrics={"base": {"ndcg@10": 0.5}},
            held_out={"evidence": {"base": {"ndcg@10": 0.4}}},
            estimated_seconds=3.0,
            seconds=2.5,
        ),
        {"reports": ["r1"], "metrics": {"base": {"ndcg@10": 0.5}}},
        {"reports": ["r1"], "metrics": {"base": {"ndcg@10": "high"}}},
        'metrics["base"]["ndcg@10"]: expected a number, got "high"',
    ),
    (
        JobKind.COMPARE_SELECTORS,
        ComparisonRunResult(
            comparison_id="c1",
            match_rates={"base": 0.8},
            skipped=[("LLM", "no key")],
            held_out={"hand": {"base": 0.7}},
            failed=[("local", "out of memory")],
        ),
        {"comparison_id": "c1", "match_rates": {"base": 0.8}, "skipped": []},
        {"comparison_id": "c1", "match_rates": {"base": 0.8}, "failed": [["local"]]},
        "failed[0]: expected a list of 2",
    ),
    (
        JobKind.FETCH_WIKI_PAGES,
        FetchRunResult(documents=2, failed=[("Nowhere", "no such page")]),
        {"documents": 1},
        {"documents": 1, "pages": 1},
        "unknown field(s) pages (known: documents, failed)",
    ),
    (
        JobKind.TRAIN_LLM,
        FINETUNED,
        {k: v for k, v in FINETUNED.to_dict().items() if k not in ("trained_tokens", "metrics")},
        {**FINETUNED.to_dict(), "provider_job": None},
        "provider_job: expected a string, got null",
    ),
]


def _run(workspace, kind: str, result: dict, state: JobState = JobState.SUCCEEDED):
    run = workspace.create_run(kind, "a run", {})
    workspace.update_run(run.id, state=state, result=result)
    return workspace.get_run(run.id)


@pytest.mark.parametrize(("kind", "built", "older", "damaged", "problem"), CASES, ids=[c[0] for c in CASES])
def test_a_job_result_round_trips_loads_older_and_names_a_bad_key(workspace, kind, built, older, damaged, problem):
    shape = type(built)
    assert shape.of_run(_run(workspace, kind, built.to_dict())) == built
    assert shape.of_run(_run(workspace, kind, built.to_dict(), JobState.FAILED)) is None
    old = shape.of_run(_run(workspace, kind, older))
    assert {key: value for key, value in old.to_dict().items() if key in older} == older
    bad = _run(workspace, kind, damaged)
    with pytest.raises(FileContentError, match=f"the result of run {bad.id} in the catalogue: ") as raised:
        shape.of_run(bad)
    assert problem in str(raised.value)
