"""A generation run's result, typed (questions.drafts): built from the generation, kept as plain JSON,
read back once; older results with fewer keys load, one of another shape names the run and the key."""

from pathlib import Path

import pytest

from ragtune_core.llm.outcomes import Usage
from ragtune_core.questions.drafts import CostEstimate, DraftResult, pending_draft
from ragtune_core.questions.generators import GenerationResult
from ragtune_core.runs import JobState
from ragtune_core.store.files import FileContentError


def _run(workspace, result: dict, state: JobState = JobState.SUCCEEDED):
    run = workspace.create_run("generate_questions", "gen", {"corpus_id": "c"})
    workspace.update_run(run.id, state=state, result=result)
    return workspace.get_run(run.id)


def test_a_draft_result_round_trips_through_the_catalogue(workspace):
    generated = GenerationResult(questions=[object()] * 3, failures=[("c1", "timeout")], usage=Usage(120, 30))
    estimate = {"prompt_tokens": 100, "completion_tokens": 40, "cost_usd": 0.002, "cached_chunks": 1}
    built = DraftResult.of_generation(Path("/runs/r/draft.json"), generated, 0.0015, estimate, tools=2)
    assert (built.questions, built.failures, built.tools) == (3, 1, 2)
    assert built.estimate == CostEstimate(prompt_tokens=100, completion_tokens=40, cost_usd=0.002, cached_chunks=1)
    run = _run(workspace, built.to_dict())
    assert run.result["usage"] == {"prompt_tokens": 120, "completion_tokens": 30}  # plain JSON
    assert DraftResult.of_run(run) == built and pending_draft(run)


def test_an_older_result_with_fewer_keys_loads_with_defaults(workspace):
    run = _run(workspace, {"draft": "somewhere/draft.json", "questions": 4})
    result = DraftResult.of_run(run)
    assert (result.draft, result.questions, result.failures, result.usage) == ("somewhere/draft.json", 4, 0, Usage())
    assert result.estimate is None and result.cost_usd is None and result.accepted_dataset_id is None
    offline = {"draft": "d.json", "questions": 2, "failures": 0, "usage": {"prompt_tokens": 0, "completion_tokens": 0}}
    assert DraftResult.of_run(_run(workspace, {**offline, "cached": 0})).usage == Usage()


def test_an_accepted_draft_or_a_run_not_finished_is_not_pending(workspace):
    assert not pending_draft(_run(workspace, {"draft": "d.json", "accepted_dataset_id": "dataset-1"}))
    assert not pending_draft(_run(workspace, {}, JobState.RUNNING))
    assert DraftResult.of_run(_run(workspace, {}, JobState.FAILED)) is None


@pytest.mark.parametrize(
    ("result", "problem"),
    [
        ({"draft": "d.json", "failures": "2"}, 'failures: expected an integer, got "2"'),
        ({"draft": "d.json", "usage": {"prompt_tokens": 1, "tokens": 2}}, "usage: unknown field(s) tokens"),
        ({"draft": "d.json", "estimate": {"prompt_tokens": 1}}, "estimate: missing completion_tokens, cost_usd"),
        ({"draft": "d.json", "drafts": "x"}, "unknown field(s) drafts"),
    ],
)
def test_a_result_of_another_shape_names_the_run_and_the_key(workspace, result, problem):
    run = _run(workspace, result)
    with pytest.raises(FileContentError, match=f"the result of run {run.id} in the catalogue: ") as raised:
        DraftResult.of_run(run)
    assert problem in str(raised.value)
