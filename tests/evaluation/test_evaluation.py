import json
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from ragtune_core.evaluation import retrieval
from ragtune_core.evaluation.metrics import METRIC_NAMES, bootstrap_ci, per_query_metric_values
from ragtune_core.evaluation.retrieval import evaluate_retrieval, latest_reports, list_reports, save_report, text_work
from ragtune_core.evaluation.tables import comparison_table, per_query_comparison
from ragtune_core.jobs.comparison_tasks import run_evaluation_job
from ragtune_core.questions.qa_dataset import DatasetError, QADataset, save_dataset
from ragtune_core.reporting.history import history
from tests.fake_clock import StoppedClock
from tests.fake_job import FakeContext


class VectorModel:
    """Stands in for a SentenceTransformer: every text's embedding is looked up in a table."""

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors = vectors
        self.encoded: list[str] = []

    def encode(self, texts, **kwargs):
        self.encoded.extend(texts)
        return torch.tensor(np.array([self.vectors[t] for t in texts]), dtype=torch.float32)

    encode_query = encode_document = encode


def at_angle(degrees: float) -> list[float]:
    return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees))]


def small_case() -> tuple[QADataset, VectorModel]:
    """Five passages on a half circle; the query direction decides every rank."""
    corpus = {f"p{i}": f"passage {i}" for i in range(5)}
    vectors = {f"passage {i}": at_angle(i * 40) for i in range(5)}  # p0 closest to 0 degrees
    queries = {"first": "near p0", "third": "near p0 too", "pair": "near p1"}
    vectors.update({"near p0": at_angle(0), "near p0 too": at_angle(-1), "near p1": at_angle(41)})
    relevant = {"first": ["p0"], "third": ["p2"], "pair": ["p0", "p3"]}
    dataset = QADataset(
        queries,
        corpus,
        relevant,
        passage_docs={p: "doc" for p in corpus},
        split={"first": "val", "third": "val", "pair": "train"},
    )
    return dataset, VectorModel(vectors)


def test_metrics_and_per_query_results_computed_by_hand():
    dataset, model = small_case()
    report = evaluate_retrieval(model, dataset, "toy", part=None)
    by_id = {q.query_id: q for q in report.per_query}
    # "near p1" at 41 degrees: p1 (1 away), p0/p2 (41/39 away: p2 first), p3, p4.
    assert by_id["pair"].ranked_ids == ["p1", "p2", "p0", "p3", "p4"]
    assert (by_id["pair"].rank, by_id["pair"].relevant_ranks) == (3, [3, 4])
    assert (by_id["first"].rank, by_id["third"].rank) == (1, 3)
    assert by_id["first"].top_id == "p0" and by_id["first"].top_score == pytest.approx(1.0)
    m = report.metrics
    assert list(m) == list(METRIC_NAMES)
    assert m["accuracy@1"] == pytest.approx(1 / 3)
    assert m["accuracy@3"] == pytest.approx(1.0)
    assert m["precision@3"] == pytest.approx((1 / 3 + 1 / 3 + 1 / 3) / 3)
    assert m["recall@3"] == pytest.approx((1 + 1 + 0.5) / 3)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 3 + 1 / 3) / 3)
    pair_ndcg = (1 / math.log2(4) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(4) + pair_ndcg) / 3)
    assert m["map@100"] == pytest.approx((1 + 1 / 3 + (1 / 3 + 2 / 4) / 2) / 3)
    assert report.passages == {p: dataset.corpus[p] for p in ("p0", "p1", "p2", "p3")}
    assert (report.part, report.n_corpus) == ("all", 5)


def test_part_selects_split_queries_and_bad_parts_are_refused():
    dataset, model = small_case()
    val = evaluate_retrieval(model, dataset, "toy", part="val")
    assert [q.query_id for q in val.per_query] == ["first", "third"]
    assert val.metrics["accuracy@1"] == pytest.approx(0.5)
    assert [q.query_id for q in evaluate_retrieval(model, dataset, "toy", part="train").per_query] == ["pair"]
    with pytest.raises(DatasetError, match="the test part of this dataset has no questions"):
        evaluate_retrieval(model, dataset, "toy", part="test")  # a split of before the test part
    with pytest.raises(DatasetError, match="part must be one of"):
        evaluate_retrieval(model, dataset, "toy", part="holdout")
    dataset.split = {}
    with pytest.raises(DatasetError, match="no train/validation split"):
        evaluate_retrieval(model, dataset, "toy", part="val")
    dataset.split = {q: "train" for q in dataset.queries}
    with pytest.raises(DatasetError, match="val part of this dataset has no questions"):
        evaluate_retrieval(model, dataset, "toy", part="val")


def test_given_corpus_embeddings_are_used_instead_of_encoding():
    dataset, model = small_case()
    embeddings = model.encode(list(dataset.corpus.values()))
    model.encoded.clear()
    report = evaluate_retrieval(model, dataset, "toy", part=None, corpus_embeddings=embeddings * 3)
    assert model.encoded == list(dataset.queries.values())  # only the questions were encoded
    assert report.metrics == evaluate_retrieval(model, dataset, "toy", part=None).metrics
    with pytest.raises(ValueError, match="4 corpus embeddings for 5 passages"):
        evaluate_retrieval(model, dataset, "toy", part=None, corpus_embeddings=embeddings[:4])


def test_progress_counts_every_encoded_text_by_its_length():
    dataset, model = small_case()
    calls = []
    evaluate_retrieval(model, dataset, "toy", part=None, batch_size=1, on_progress=lambda *a: calls.append(a))
    texts = [*dataset.corpus.values(), *dataset.queries.values()]
    assert calls[-1] == (text_work(texts), text_work(texts), "encoded 8/8 texts")
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert text_work(["a much longer passage than the question"]) > text_work(["a question"])


def tie_case() -> tuple[QADataset, VectorModel]:
    """130 passages where 30 identical ones straddle the top-100 cut of the first query."""
    corpus, vectors = {}, {}
    for i in range(100):  # distinct passages spread over a half circle
        corpus[f"u{i:03d}"] = f"unique {i}"
        vectors[f"unique {i}"] = at_angle(i * 1.8 if i < 85 else 160 + (i - 85))
    for i in range(30):  # identical text: exactly tied scores; ids not in insertion order
        corpus[f"t{(i * 7) % 30:02d}"] = "boilerplate"
    vectors["boilerplate"] = at_angle(153.5)
    queries = {
        "cut": "at zero",
        "early-tie": "at zero again",
        "reverse": "at 180",
        "multi": "at 90",
        "edge": "at zero, edge",
    }
    vectors.update(
        {
            "at zero": at_angle(0),
            "at zero again": at_angle(0.01),
            "at 180": at_angle(180),
            "at 90": at_angle(90),
            "at zero, edge": at_angle(0.02),
        }
    )
    relevant = {
        "cut": ["t20"],  # tied at ranks 86-115: id order puts t20 at rank 106, past the cut
        "early-tie": ["t03"],  # rank 89 among the ties, by id
        "reverse": ["t29", "u000"],
        "multi": ["u050", "u049", "t00", "u099"],
        "edge": ["t14"],
    }  # the last tie inside the cut: rank 100
    return QADataset(queries, corpus, relevant), VectorModel(vectors)


def evaluator_metrics(model, dataset: QADataset, batch_size: int = 64, call: bool = False) -> dict:
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator
    from sentence_transformers.util import cos_sim

    relevant = {q: set(p) for q, p in dataset.relevant_docs.items()}
    if call:  # the evaluator exactly as training uses it, scoring with the model's own similarity
        evaluator = InformationRetrievalEvaluator(
            dataset.queries, dataset.corpus, relevant, batch_size=batch_size, write_csv=False
        )
        return {k.removeprefix("cosine_"): v for k, v in evaluator(model).items()}
    evaluator = InformationRetrievalEvaluator(
        dataset.queries,
        dataset.corpus,
        relevant,
        batch_size=batch_size,
        score_functions={"cosine": cos_sim},
        write_csv=False,
    )
    scores = evaluator.compute_all_metrics(model)["cosine"]
    return {name.replace("@k", f"@{k}"): value for name, values in scores.items() for k, value in values.items()}


def test_metrics_equal_the_sentence_transformers_evaluator_with_ties_at_the_cut():
    dataset, model = tie_case()
    report = evaluate_retrieval(model, dataset, "fake", part=None)
    expected = evaluator_metrics(model, dataset)
    assert set(expected) == set(METRIC_NAMES)
    for name in METRIC_NAMES:
        assert report.metrics[name] == pytest.approx(expected[name], abs=1e-9), name
    by_id = {q.query_id: q for q in report.per_query}
    assert by_id["cut"].rank is None and by_id["cut"].relevant_ranks == []
    assert by_id["early-tie"].rank == 89
    assert by_id["edge"].rank == 100
    assert by_id["reverse"].ranked_ids[0] == "u099" and len(by_id["reverse"].ranked_ids) == 10


def test_per_query_values_average_to_the_metrics():
    dataset, model = tie_case()
    report = evaluate_retrieval(model, dataset, "fake", part=None)
    for name in METRIC_NAMES:
        values = per_query_metric_values(report.per_query, name)
        assert values.shape == (5,)
        assert values.mean() == pytest.approx(report.metrics[name])
    assert per_query_metric_values(report.per_query, "accuracy@100").tolist() == [0.0, 1.0, 1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="unknown metric 'hits@5'"):
        per_query_metric_values(report.per_query, "hits@5")
    with pytest.raises(ValueError, match="unknown metric"):
        per_query_metric_values(report.per_query, "ndcg@1000")


def test_bootstrap_interval():
    assert bootstrap_ci(np.full(50, 0.3)) == pytest.approx((0.3, 0.3))
    coin = np.tile([0.0, 1.0], 200)  # mean 0.5, standard error 0.025
    low, high = bootstrap_ci(coin)
    assert low < 0.5 < high
    assert high - low == pytest.approx(2 * 1.96 * 0.025, rel=0.15)
    assert bootstrap_ci(coin, seed=3) == bootstrap_ci(coin, seed=3)
    narrow = bootstrap_ci(coin, confidence=0.5)
    assert low < narrow[0] < narrow[1] < high
    small = bootstrap_ci(coin[:40])
    assert small[1] - small[0] > high - low
    with pytest.raises(ValueError, match="no values"):
        bootstrap_ci(np.array([]))
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci(coin, confidence=95)


def two_reports():
    dataset, model = small_case()
    base = evaluate_retrieval(model, dataset, "base", part=None)
    # A "fine-tuned" model that points every question at its first expected passage.
    tuned_vectors = dict(model.vectors) | {"near p0 too": at_angle(80), "near p1": at_angle(0)}
    tuned = evaluate_retrieval(VectorModel(tuned_vectors), dataset, "tuned", part=None)
    return dataset, base, tuned


def test_latency_is_a_questions_encoding_and_search_not_the_corpus_encoding(monkeypatch):
    dataset, model = small_case()
    clock = StoppedClock()
    monkeypatch.setattr("time.perf_counter", clock)

    def timed(seconds):
        def encode(texts, **kwargs):
            clock.spend(seconds)
            return model.encode(texts)

        return encode

    model.encode_query, model.encode_document = timed(0.3), timed(60.0)  # one call each: 3 questions, 5 passages
    assert evaluate_retrieval(model, dataset, "m", part=None).latency_ms == pytest.approx(100.0)


def test_a_report_saved_before_latency_was_measured_still_loads(workspace):
    _, base, _ = two_reports()
    saved = save_report(workspace, base, "dataset-1")
    path = workspace.dir("evaluations") / f"{saved.report_id}.json"
    stored = json.loads(path.read_text())
    del stored["latency_ms"]
    path.write_text(json.dumps(stored))
    (loaded,) = list_reports(workspace, "dataset-1")
    assert loaded.latency_ms is None and loaded.metrics == base.metrics and base.latency_ms is not None


def test_comparison_table_is_long_form_with_intervals():
    _, base, tuned = two_reports()
    table = comparison_table([base, tuned], n_resamples=200)
    assert list(table.columns) == ["model", "metric", "value", "ci_low", "ci_high"]
    assert len(table) == 2 * len(METRIC_NAMES)
    assert table.set_index(["model", "metric"]).loc[("tuned", "accuracy@1"), "value"] == tuned.metrics["accuracy@1"]
    assert ((table["ci_low"] <= table["value"] + 1e-12) & (table["value"] <= table["ci_high"] + 1e-12)).all()
    row = table.set_index(["model", "metric"]).loc[("base", "ndcg@10")]
    assert (row["ci_low"], row["ci_high"]) == bootstrap_ci(
        per_query_metric_values(base.per_query, "ndcg@10"), n_resamples=200
    )
    assert row["ci_low"] < row["ci_high"]


def test_per_query_comparison_lines_up_ranks_and_top_passages():
    dataset, base, tuned = two_reports()
    table = per_query_comparison([base, tuned])
    assert list(table.columns) == [
        "query",
        "expected passage",
        "rank · base",
        "rank · tuned",
        "top passage · base",
        "top passage · tuned",
        "rank gain · tuned vs base",
    ]
    row = table.set_index("query").loc["near p0 too"]  # p2 expected: base rank 3, tuned (at 80 degrees) rank 1
    assert (row["rank · base"], row["rank · tuned"], row["rank gain · tuned vs base"]) == (3, 1, 2)
    assert row["expected passage"] == "passage 2"
    assert row["top passage · base"] == "passage 0" and row["top passage · tuned"] == "passage 2"
    missing = base.per_query[0]
    missing.rank = None  # as if the expected passage had fallen out of the top 100
    gains = per_query_comparison([base, tuned]).set_index("query")
    assert gains.loc[missing.question, "rank gain · tuned vs base"] == 101 - 1
    assert gains["rank · base"].isna().sum() == 1
    same_name = per_query_comparison([base, base])
    assert "rank · base (2)" in same_name.columns
    assert per_query_comparison([]).empty


def test_reports_are_saved_listed_and_the_latest_per_model_kept(workspace):
    _, base, tuned = two_reports()
    first = save_report(workspace, base, "dataset-1", model_path="/models/base")
    second = save_report(workspace, tuned, "dataset-1")
    newer = save_report(workspace, replace(base, created=second.created + 1), "dataset-1")
    save_report(workspace, base, "dataset-2", model_label="renamed")
    (workspace.dir("evaluations") / "broken.json").write_text("{not json")

    path = workspace.root / "evaluations" / f"{first.report_id}.json"
    stored = json.loads(path.read_text())
    assert (stored["dataset_id"], stored["model_path"], stored["name"]) == ("dataset-1", "/models/base", "base")
    assert base.dataset_id is None  # the caller's report is left as it was

    loaded = list_reports(workspace, "dataset-1")
    assert [r.report_id for r in loaded] == [newer.report_id, second.report_id, first.report_id]
    assert loaded[-1] == first
    assert [r.name for r in list_reports(workspace, "dataset-2")] == ["renamed"]
    assert list_reports(workspace, "dataset-1", part="val") == []
    assert [r.report_id for r in latest_reports(workspace, "dataset-1", "all")] == [second.report_id, newer.report_id]


def test_evaluation_job_evaluates_each_model_and_saves_reports(workspace, monkeypatch, tmp_path):
    dataset, model = small_case()
    mine = str(tmp_path)  # a model's folder (its loading is faked)
    record = save_dataset(workspace, "toy", dataset, None, {})
    loaded = []
    monkeypatch.setattr(retrieval, "load_embedder", lambda path: loaded.append(path) or model)
    ctx = FakeContext(workspace)
    result = run_evaluation_job(
        ctx,
        {
            "dataset_id": record.id,
            "part": "val",
            "models": [{"label": "base", "path": None}, {"label": "mine", "path": mine}],
        },
    )
    assert loaded == [None, mine] * 2  # every model loaded before the first is evaluated
    assert set(result["metrics"]) == {"base", "mine"}
    assert result["metrics"]["base"]["accuracy@1"] == pytest.approx(0.5)
    assert [e[1]["model"] for e in ctx.events if e[0] == "metrics"] == ["base", "mine"]
    assert ctx.events[0][0] == "duration" and ctx.events[0][1]["estimated_seconds"] > 0  # said before it starts
    assert result["estimated_seconds"] == round(ctx.events[0][1]["estimated_seconds"], 1)
    done = [call[0] for call in ctx.progress_calls]
    assert done == sorted(done) and done[-1] == ctx.progress_calls[-1][1]  # forward only, to the end
    reports = latest_reports(workspace, record.id, "val")
    assert [r.name for r in reports] == ["base", "mine"]
    assert sorted(r.report_id for r in reports) == sorted(result["reports"])
    assert reports[1].model_path == mine
    [kept] = history(workspace, record.id, "val")  # the comparison is kept with its reports, in order
    assert kept.complete and kept.models == ["base", "mine"] and kept.results == result["reports"]


CITIES = [
    "Avalon",
    "Brimford",
    "Coldwater",
    "Dunmore",
    "Eastwick",
    "Fairhaven",
    "Glenrock",
    "Harrowgate",
    "Ironbridge",
    "Juniper Bay",
    "Kestrel",
    "Lowmoor",
    "Millbrook",
    "Northcliff",
    "Oakhurst",
]
FACTS = {
    "harbour": "Its harbour shelters fishing boats and a ferry to the islands.",
    "festival": "Every summer a music festival fills the old market square.",
    "industry": "The town grew around a steel mill that closed in the nineties.",
    "climate": "Winters are mild and wet, summers short and windy.",
}
QUESTIONS = {
    "harbour": "Where can I catch a boat in {city}?",
    "festival": "Is there anything to do in {city} in July?",
    "industry": "What did people in {city} work at?",
    "climate": "Should I pack a raincoat for {city}?",
}


def synthetic_dataset() -> QADataset:
    """15 towns x 4 facts = 60 passages (each naming a neighbour), 30 paraphrased questions.

    One passage is duplicated verbatim under an id that sorts first (an exact tie), and one
    question has two relevant passages.
    """
    corpus, passage_docs, queries, relevant, split = {}, {}, {}, {}, {}
    for c, city in enumerate(CITIES):
        for topic, sentence in FACTS.items():
            pid = f"{city.lower().replace(' ', '-')}-{topic}"
            corpus[pid] = f"{city} (near {CITIES[(c + 1) % len(CITIES)]}): {sentence}"
            passage_docs[pid] = city
        for topic in ("harbour", "festival") if c % 2 else ("industry", "climate"):
            qid = f"q-{city}-{topic}"
            queries[qid] = QUESTIONS[topic].format(city=city)
            relevant[qid] = [f"{city.lower().replace(' ', '-')}-{topic}"]
            split[qid] = "val" if c % 3 == 0 else "train"
    corpus["aa-copy-of-avalon-industry"] = corpus["avalon-industry"]
    passage_docs["aa-copy-of-avalon-industry"] = "Avalon"
    relevant["q-Avalon-climate"].append("avalon-industry")
    return QADataset(queries, corpus, relevant, passage_docs=passage_docs, split=split)


@pytest.mark.slow
def test_metrics_equal_the_evaluator_on_the_bundled_model():
    from ragtune_core.store.models import load_embedder

    model = load_embedder()
    dataset = synthetic_dataset()
    report = evaluate_retrieval(model, dataset, "base", part=None, batch_size=32)
    expected = evaluator_metrics(model, dataset, batch_size=32, call=True)
    for name in METRIC_NAMES:
        assert report.metrics[name] == pytest.approx(expected[name], abs=1e-6), name
    ranks = [q.rank for q in report.per_query]
    assert ranks.count(1) < len(ranks) - 2 and None not in ranks  # misses for the metrics to weigh
    ranked = next(q.ranked_ids for q in report.per_query if q.query_id == "q-Avalon-industry")
    assert ranked.index("aa-copy-of-avalon-industry") == ranked.index("avalon-industry") - 1  # tie: id order
