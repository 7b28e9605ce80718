"""A curation round: the same training on the new version, both models compared with intervals, by the job
the Compare page would run for their kind (retrieval, reranking, routing)."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from ragtune_core.evaluation import reranking, retrieval
from ragtune_core.evaluation.retrieval import evaluate_retrieval, save_report
from ragtune_core.jobs import JobKind, JobStatus, comparison_tasks, llm_finetune, rounds
from ragtune_core.jobs.comparison_tasks import run_evaluation_job, run_router_comparison_job
from ragtune_core.jobs.rounds import (
    earlier_models,
    retrain_params,
    round_gains,
    start_retrain,
    start_round_evaluation,
)
from ragtune_core.llm.config import JOB_API_KEY_ENV
from ragtune_core.questions.qa_dataset import DatasetError, QADataset, load_dataset, save_dataset, split_dataset
from ragtune_core.questions.versions import save_version
from ragtune_core.routing import specs
from ragtune_core.routing.llm_selector import FinetunedLLM
from ragtune_core.routing.selectors import selections_from_scores
from ragtune_core.runs import JobState
from ragtune_core.training.llm.data import build_chat_data, called_tool, load_chat_data, save_chat_data
from ragtune_core.training.llm.finetune import LLMFinetuneRequest, fine_tune_llm
from tests.fake_job import FakeContext
from tests.fake_openai import FakeOpenAIServer
from tests.questions.test_queue import dataset as flagged_dataset
from tests.training.llm.helpers import router_dataset, tool_call


class BagOfWords:
    """Stands in for a SentenceTransformer: counts the words of a fixed vocabulary (of `min_length` letters or more)."""

    def __init__(self, texts, min_length=1):
        self.vocabulary = sorted({w for t in texts for w in t.lower().split() if len(w) >= min_length})

    def encode(self, texts, **kwargs):
        rows = [[t.lower().split().count(w) for w in self.vocabulary] for t in texts]
        return torch.tensor(np.array(rows, dtype=float) + 1e-6, dtype=torch.float32)

    encode_query = encode_document = encode


class SharedWords:
    """Stands in for a CrossEncoder, or a router's selector: a question and a passage (or a tool's
    description) score the words of `min_length` letters or more they share."""

    def __init__(self, min_length=1, name="shared words"):
        self.min_length, self.name = min_length, name

    def shared(self, question: str, passage: str) -> int:
        def words(text):
            return {w for w in text.lower().replace("?", "").split() if len(w) >= self.min_length}

        return len(words(question) & words(passage))

    def predict(self, pairs, **kwargs):
        return np.array([self.shared(q, p) for q, p in pairs], dtype=float)

    def select(self, queries, choices):
        scores = np.array([[self.shared(q, c.description) for c in choices] for q in queries], dtype=float)
        return selections_from_scores(scores + 1e-6, 0.001)


def trained_here(ws, name: str, kind: str, dataset_id: str, params: dict | None = None):
    """A model registered by a training run on `dataset_id` whose parameters were `params` (its folder
    empty: loading it is faked)."""
    job = {
        "embedding": JobKind.TRAIN_EMBEDDING,
        "cross_encoder": JobKind.TRAIN_CROSS_ENCODER,
        "llm": JobKind.TRAIN_LLM,
    }[kind]
    run = ws.create_run(job, name, {"dataset_id": dataset_id, "model_name": name, **(params or {})}, dataset_id)
    record = ws.commit_model(ws.reserve_model(name, kind, "base", run_id=run.id).id, dataset_id=dataset_id)
    Path(record.path).mkdir(parents=True, exist_ok=True)
    return record


@pytest.fixture
def versions(workspace):
    half_held_out = flagged_dataset()
    half_held_out.split = split_dataset(half_held_out, 0.5, "query", seed=0)
    first = save_dataset(workspace, "volcanoes", half_held_out, None, {})
    tuned = trained_here(workspace, "tuned", "embedding", first.id, {"config": {"epochs": 3}})
    trained_here(workspace, "reranker", "cross_encoder", first.id, {"config": {"epochs": 2, "embedder": tuned.path}})
    trained_here(workspace, "distilled", "llm", first.id, {"config": {"data_name": "calls"}})
    workspace.commit_model(workspace.reserve_model("from-cli", "embedding", "base").id, dataset_id=first.id)
    edited = load_dataset(workspace, first.id)
    edited = dataclasses.replace(edited, relevant_docs={**edited.relevant_docs, "mislabelled": ["vesuvius"]})
    return first, save_version(workspace, first.id, edited)


@pytest.fixture
def started(monkeypatch):
    """The jobs a round starts, recorded instead of run: [(kind, params)]."""
    jobs = []

    def start_job(ws, kind, params, **kwargs):
        jobs.append((kind, params))
        return JobStatus(run_id=f"run-{len(jobs)}", kind=kind)

    monkeypatch.setattr(rounds, "start_job", start_job)
    monkeypatch.setattr(comparison_tasks, "start_job", start_job)
    return jobs


def test_a_round_retrains_a_model_of_an_earlier_version_with_its_own_settings(workspace, versions):
    first, second = versions
    # the CLI's has no run to repeat; an LLM routes: it has no round on a question → passage dataset
    assert [m.name for m in earlier_models(workspace, second.id)] == ["reranker", "tuned"]  # newest first
    assert earlier_models(workspace, first.id) == []
    kind, params = retrain_params(workspace, workspace.resolve("models", "tuned"), second.id, "tuned v2")
    assert kind == JobKind.TRAIN_EMBEDDING
    assert params == {"dataset_id": second.id, "model_name": "tuned v2", "config": {"epochs": 3}}
    for unretrainable in ("from-cli", "distilled"):
        with pytest.raises(DatasetError, match=f"'{unretrainable}' cannot be trained again on this qa dataset"):
            retrain_params(workspace, workspace.resolve("models", unretrainable), second.id, "again")


def test_a_cross_encoder_is_retrained_with_its_settings_its_embedder_included(workspace, versions):
    _, second = versions
    reranker = workspace.resolve("models", "reranker")
    kind, params = retrain_params(workspace, reranker, second.id, "reranker v2")
    assert kind == JobKind.TRAIN_CROSS_ENCODER
    tuned = workspace.resolve("models", "tuned")
    assert params == {
        "dataset_id": second.id,
        "model_name": "reranker v2",
        "config": {"epochs": 2, "embedder": tuned.path},
    }


def test_the_rounds_gains_come_with_intervals_once_both_models_are_evaluated(workspace, versions):
    _, second = versions
    tuned = workspace.resolve("models", "tuned")
    new = trained_here(workspace, "tuned v2", "embedding", second.id)
    assert round_gains(workspace, second.id, tuned, new) is None
    dataset = load_dataset(workspace, second.id)
    texts = [*dataset.queries.values(), *dataset.corpus.values()]
    save_report(workspace, evaluate_retrieval(BagOfWords(texts, min_length=8), dataset, "tuned", "val"), second.id)
    assert round_gains(workspace, second.id, tuned, new) is None
    save_report(workspace, evaluate_retrieval(BagOfWords(texts), dataset, "tuned v2", "val"), second.id)
    gains = round_gains(workspace, second.id, tuned, new)
    assert [g.metric for g in gains] == ["ndcg@10", "accuracy@5", "mrr@10"]
    for gain in gains:
        assert gain.ci_low <= gain.gain <= gain.ci_high and gain.queries == 4  # the version's validation half
        assert gain.gain == pytest.approx(gain.other - gain.base)


def test_an_embedding_round_evaluates_both_models_and_reads_the_evaluations_reports(
    workspace, versions, started, monkeypatch
):
    _, second = versions
    tuned, new = workspace.resolve("models", "tuned"), trained_here(workspace, "tuned v2", "embedding", second.id)
    dataset = load_dataset(workspace, second.id)
    texts = [*dataset.queries.values(), *dataset.corpus.values()]
    embedders = {tuned.path: BagOfWords(texts, min_length=8), new.path: BagOfWords(texts)}
    monkeypatch.setattr(retrieval, "load_embedder", embedders.get)

    start_round_evaluation(workspace, second.id, tuned, new)
    [(kind, params)] = started
    assert kind == JobKind.EVALUATE
    assert params == {
        "dataset_id": second.id,
        "part": "val",
        "models": [{"label": "tuned", "path": tuned.path}, {"label": "tuned v2", "path": new.path}],
    }
    run_evaluation_job(FakeContext(workspace), params)
    gains = round_gains(workspace, second.id, tuned, new)
    reports = {r.name: r for r in retrieval.latest_reports(workspace, second.id, "val")}
    assert [(g.base, g.other) for g in gains] == [
        (reports["tuned"].metrics[m], reports["tuned v2"].metrics[m]) for m in ("ndcg@10", "accuracy@5", "mrr@10")
    ]


def test_a_reranker_round_reranks_its_embedders_top_passages_with_the_old_and_the_new(
    workspace, versions, started, monkeypatch
):
    _, second = versions
    tuned, old = workspace.resolve("models", "tuned"), workspace.resolve("models", "reranker")
    new = trained_here(workspace, "reranker v2", "cross_encoder", second.id)
    dataset = load_dataset(workspace, second.id)
    monkeypatch.setattr(reranking, "load_embedder", lambda path: BagOfWords([*dataset.corpus.values()], 8))
    scorers = {old.path: SharedWords(), new.path: SharedWords(min_length=8)}
    monkeypatch.setattr(reranking, "load_cross_encoder", scorers.get)

    start_round_evaluation(workspace, second.id, old, new)
    [(kind, params)] = started
    assert kind == JobKind.EVALUATE
    assert params["models"] == [{"label": "tuned", "path": tuned.path}]  # the embedder both were trained with
    assert params["rerankers"] == [{"label": "reranker", "path": old.path}, {"label": "reranker v2", "path": new.path}]
    assert round_gains(workspace, second.id, old, new) is None
    run_evaluation_job(FakeContext(workspace), params)

    gains = round_gains(workspace, second.id, old, new)
    reports = {r.name: r for r in retrieval.latest_reports(workspace, second.id, "val")}
    assert set(reports) == {"tuned", "tuned + rerank reranker", "tuned + rerank reranker v2"}
    before, after = reports["tuned + rerank reranker"], reports["tuned + rerank reranker v2"]
    assert [g.metric for g in gains] == ["ndcg@10", "accuracy@5", "mrr@10"]
    assert [(g.base, g.other) for g in gains] == [(before.metrics[g.metric], after.metrics[g.metric]) for g in gains]
    assert gains[0].gain > 0  # here the long words alone pick every answer, the relabelled one included
    for gain in gains:
        assert gain.ci_low <= gain.gain <= gain.ci_high and gain.queries == 4


ROUTER = QADataset(
    {
        "r1": "When did Etna erupt?",
        "r2": "Summarize the eruption of Etna",
        "r3": "How does sourdough bread rise?",
        "r4": "Summarize sourdough baking",
        "r5": "What did Etna cover with ash?",
        "r6": "Which yeast makes bread rise?",
    },
    {
        "facts_etna": "specific facts about Etna eruption ash",
        "summary_etna": "summarize everything about Etna",
        "facts_bread": "specific facts about sourdough bread yeast rise",
        "summary_bread": "summarize everything about sourdough baking",
    },
    {"r1": ["facts_etna"], "r2": ["summary_etna"], "r3": ["facts_bread"]}
    | {"r4": ["summary_bread"], "r5": ["facts_etna"], "r6": ["summary_etna"]},  # r6 mislabelled
    split={"r1": "train", "r2": "train", "r3": "train", "r4": "val", "r5": "val", "r6": "val"},
    kind="router",
)


def test_a_tool_selector_round_routes_the_validation_queries_with_both_and_gains_in_match_rate(
    workspace, started, monkeypatch
):
    first = save_dataset(workspace, "tools", ROUTER, None, {})
    old = trained_here(workspace, "selector", "cross_encoder", first.id, {"config": {"name_swaps": 2}})
    relabelled = dataclasses.replace(ROUTER, relevant_docs={**ROUTER.relevant_docs, "r6": ["facts_bread"]})
    second = save_version(workspace, first.id, relabelled)
    assert [m.name for m in earlier_models(workspace, second.id)] == ["selector"]
    assert retrain_params(workspace, old, second.id, "selector v2")[0] == JobKind.TRAIN_CROSS_ENCODER
    new = trained_here(workspace, "selector v2", "cross_encoder", second.id)
    min_length = {old.path: 6, new.path: 1}
    monkeypatch.setattr(specs, "make_selector", lambda spec: SharedWords(min_length[spec.path], spec.label))

    start_round_evaluation(workspace, second.id, old, new)
    [(kind, params)] = started
    assert kind == JobKind.COMPARE_SELECTORS and params["part"] == "val"
    assert [(s["label"], s["kind"], s["path"]) for s in params["selectors"]] == [
        ("selector", "cross_encoder", old.path),
        ("selector v2", "cross_encoder", new.path),
    ]
    assert round_gains(workspace, second.id, old, new) is None
    result = run_router_comparison_job(FakeContext(workspace), params)

    [gain] = round_gains(workspace, second.id, old, new)
    assert gain.metric == "match rate" and gain.queries == 3
    assert (gain.base, gain.other) == (result["match_rates"]["selector"], result["match_rates"]["selector v2"])
    assert gain.gain == pytest.approx(gain.other - gain.base) and gain.ci_low <= gain.gain <= gain.ci_high


# --- an LLM fine-tuned on a router dataset's labels -------------------------------------------------------
def fine_tuned(ws, params: dict, answers: dict):
    """The LLM fine-tuning of job parameters `params`, run here as its worker would run it (a run of its own),
    the model it registers taught to the fake endpoint (`learnt`)."""
    run = ws.create_run(JobKind.TRAIN_LLM, params["model_name"], params)
    model = ws.resolve("models", fine_tune_llm(ws, LLMFinetuneRequest.from_params(params), run_id=run.id).model_name)
    ws.update_run(run.id, state=JobState.SUCCEEDED)
    learnt(ws, model, answers)
    return model


def learnt(ws, model, answers: dict) -> None:
    """What a hosted fine-tuned `model` answers at the fake endpoint (`answers`, by its model id): the tools its
    chat data's lines call."""
    described = FinetunedLLM.load(model.path)
    data = load_chat_data(ws, described.data_name)
    answers[described.model_id] = {line["messages"][1]["content"]: called_tool(line) for line in data.train + data.val}


def llm_server(answers: dict[str, dict[str, str]]) -> FakeOpenAIServer:
    """A fake endpoint that fine-tunes and routes: each fine-tuned model calls the tool `answers` (by its id,
    then by query) gives, which `learnt` fills."""
    return FakeOpenAIServer(
        lambda request: tool_call(answers[request["model"]][request["messages"][-1]["content"]]),
        fine_tuning=True,
        models=("fake-base",),
    )


@pytest.fixture
def llm_endpoint(plain_llm_environment):
    """`llm_server` running: (the server, its answers)."""
    answers = {}
    with llm_server(answers) as server:
        yield server, answers


def distilled(ws, server, answers: dict):
    """A router dataset "tools" and an LLM fine-tuned at `server` on its labels: (dataset record, model)."""
    first = save_dataset(ws, "tools", router_dataset(), None, {})
    save_chat_data(ws, "tools-chat", build_chat_data(router_dataset(), dataset_id=first.id, name_swaps=2))
    endpoint = {"base_url": server.base_url, "model": "fake-base", "max_retries": 0}
    request = LLMFinetuneRequest(
        "tools-chat", "distilled", "openai", "fake-base", epochs=2, llm=endpoint, poll_seconds=0.01
    )
    return first, fine_tuned(ws, request.to_params(), answers)


# Relabelled in the second version: a training query, and a validation one (about the held-out tax manual).
RELABELLED = {"How do I stop my cake recipe from sinking?": "summary:cooking"}
RELABELLED |= {"Are charitable donations tax deductible?": "summary:tax"}


def relabelled_version(ws, first):
    dataset = load_dataset(ws, first.id)
    relabels = {qid: [RELABELLED[query]] for qid, query in dataset.queries.items() if query in RELABELLED}
    return save_version(ws, first.id, dataclasses.replace(dataset, relevant_docs={**dataset.relevant_docs, **relabels}))


def test_an_llms_retrain_is_its_own_request_on_the_new_versions_chat_data(workspace, llm_endpoint, monkeypatch):
    first, old = distilled(workspace, *llm_endpoint)
    followed = {**workspace.get_run(old.run_id).params}  # as if its run had followed an interrupted one's job
    followed["config"] = {**followed["config"], "provider_job_id": "ftjob-0"}
    workspace.update_run(old.run_id, params=followed)
    second = relabelled_version(workspace, first)
    assert earlier_models(workspace, second.id) == [old]

    kind, params = retrain_params(workspace, old, second.id, "distilled · tools v2")
    assert kind == JobKind.TRAIN_LLM
    own = followed["config"]
    assert params == {
        "model_name": "distilled · tools v2",
        "config": {
            **own,
            "data_name": "distilled-tools-v2-chat",
            "model_name": "distilled · tools v2",
            "provider_job_id": None,  # a new job: the old one is not followed again
        },
    }

    launched = []

    def start_job(ws, kind, params, name=None, dataset_id=None, secret_env=None):
        launched.append((kind, params, secret_env))
        return JobStatus(run_id="run-new", kind=kind)

    monkeypatch.setattr(llm_finetune, "start_job", start_job)
    start_retrain(workspace, old, second.id, "distilled · tools v2", api_key="sk-typed")
    [(kind, started_params, secret_env)] = launched
    assert (kind, started_params) == (JobKind.TRAIN_LLM, params)
    assert secret_env == {JOB_API_KEY_ENV: "sk-typed"} and "sk-typed" not in json.dumps(started_params)
    data = load_chat_data(workspace, "distilled-tools-v2-chat")  # the new version's lines, built as the old
    learned = load_chat_data(workspace, "tools-chat")
    assert data.dataset_id == second.id and (data.labels, data.name_swaps) == (learned.labels, learned.name_swaps)
    calls = {line["messages"][1]["content"]: called_tool(line) for line in data.train + data.val}
    assert calls["How do I stop my cake recipe from sinking?"] == "summary_tool_cooking"
    assert calls["Are charitable donations tax deductible?"] == "summary_tool_tax"
    assert len(data.train) == len(learned.train) and len(data.val) == len(learned.val)


def test_an_llm_learned_from_a_teacher_is_not_retrained_with_the_datasets_labels(workspace, llm_endpoint):
    first, old = distilled(workspace, *llm_endpoint)
    teacher_labelled = load_chat_data(workspace, "tools-chat")
    teacher_labelled.labels, teacher_labelled.teacher = "teacher", "gpt-teacher"
    save_chat_data(workspace, "taught", teacher_labelled)
    params = workspace.get_run(old.run_id).params
    workspace.update_run(old.run_id, params={**params, "config": {**params["config"], "data_name": "taught"}})
    second = relabelled_version(workspace, first)
    with pytest.raises(DatasetError, match="chat data 'taught' has teacher labels, not the dataset's"):
        start_retrain(workspace, old, second.id, "distilled v2")
    assert workspace.list_runs(JobKind.TRAIN_LLM) == [workspace.get_run(old.run_id)]


def test_an_llm_round_fine_tunes_on_the_relabelled_version_and_gains_in_match_rate(
    workspace, llm_endpoint, monkeypatch
):
    server, answers = llm_endpoint
    first, old = distilled(workspace, server, answers)
    second = relabelled_version(workspace, first)
    launched = []
    monkeypatch.setattr(llm_finetune, "start_job", lambda ws, kind, params, **kw: launched.append(params))
    start_retrain(workspace, old, second.id, "distilled v2")
    new = fine_tuned(workspace, launched[0], answers)  # what the worker runs
    assert new.dataset_id == second.id and new.kind == "llm"

    recorded = []
    monkeypatch.setattr(comparison_tasks, "start_job", lambda ws, kind, params, **kw: recorded.append((kind, params)))
    start_round_evaluation(workspace, second.id, old, new)
    [(kind, params)] = recorded
    assert kind == JobKind.COMPARE_SELECTORS and params["part"] == "val"
    assert [(s["label"], s["kind"], s["path"]) for s in params["selectors"]] == [
        ("fine-tuned LLM · distilled", "finetuned_llm", old.path),  # as the Compare page names them
        ("fine-tuned LLM · distilled v2", "finetuned_llm", new.path),
    ]
    assert round_gains(workspace, second.id, old, new) is None
    result = run_router_comparison_job(FakeContext(workspace), params)

    [gain] = round_gains(workspace, second.id, old, new)
    rates = result["match_rates"]
    assert (gain.base, gain.other) == (rates["fine-tuned LLM · distilled"], rates["fine-tuned LLM · distilled v2"])
    # seven tax questions: the old model still calls the relabelled one's old tool, the new one learned the new
    assert gain.queries == 7 and gain.base == pytest.approx(6 / 7) and gain.other == 1.0
    assert gain.ci_low <= gain.gain <= gain.ci_high
