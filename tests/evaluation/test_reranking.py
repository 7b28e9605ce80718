import json
import math
import re
from dataclasses import replace

import numpy as np
import pytest
import torch

from ragtune_core.evaluation.blend import Blend, keep_blend, kept_blend, saved_blend
from ragtune_core.evaluation.metrics import METRIC_NAMES
from ragtune_core.evaluation.reranking import (
    best_blend,
    cross_encoder_scores,
    first_stage,
    rerank,
    rerank_names,
    rerank_report,
    reranked,
    reranked_name,
    retrieval_report,
    shows_words_alone,
    words_alone,
    words_alone_name,
)
from ragtune_core.evaluation.retrieval import ModelSpec, evaluate_retrieval, latest_reports
from ragtune_core.questions.qa_dataset import DatasetError, QADataset, save_dataset
from ragtune_core.store.models import DEFAULT_BASE_MODEL, resolve_model
from tests.fake_clock import StoppedClock


class VectorEmbedder:
    """Stands in for a SentenceTransformer with only `encode`: each text's embedding comes from a table."""

    def __init__(self, vectors: dict[str, list[float]]):
        self.vectors = vectors

    def encode(self, texts, **kwargs):
        return torch.tensor(np.array([self.vectors[t] for t in texts]), dtype=torch.float32)


class TableScorer:
    """Stands in for a CrossEncoder: (question, passage) scores from a table, 0 for unlisted pairs."""

    def __init__(self, scores: dict[tuple[str, str], float]):
        self.scores = scores
        self.calls: list[list[tuple[str, str]]] = []

    def predict(self, pairs, **kwargs):
        self.calls.append(list(pairs))
        return np.array([self.scores.get(tuple(pair), 0.0) for pair in pairs])


def at_angle(degrees: float) -> list[float]:
    return [math.cos(math.radians(degrees)), math.sin(math.radians(degrees))]


def fan_case(copies: int = 1) -> tuple[QADataset, VectorEmbedder]:
    """Six passages fanned out 20 degrees apart: for a question at 0 degrees the embedder ranks p0..p5.
    Two questions, each asked `copies` times (as q-head, q-head-2, ...)."""
    corpus = {f"p{i}": f"passage {i}" for i in range(6)}
    vectors = {f"passage {i}": at_angle(20 * i) for i in range(6)}
    asked = {"q-head": ("about p2", "p2"), "q-tail": ("about p4", "p4")}
    ids = {name + (f"-{copy}" if copy > 1 else ""): name for copy in range(1, copies + 1) for name in asked}
    queries = {qid: asked[name][0] for qid, name in ids.items()}
    vectors.update({"about p2": at_angle(-1), "about p4": at_angle(-2)})
    relevant = {qid: [asked[name][1]] for qid, name in ids.items()}
    dataset = QADataset(queries, corpus, relevant, split=dict.fromkeys(ids, "val"))
    return dataset, VectorEmbedder(vectors)


def ranks(report) -> dict[str, list[str]]:
    return {q.query_id: q.ranked_ids for q in report.per_query}


# --- no model needed ---------------------------------------------------------------------------
def test_retrieval_report_is_what_evaluate_retrieval_gives():
    dataset, embedder = fan_case()
    embedder.encode_query = embedder.encode_document = embedder.encode  # evaluate_retrieval needs both
    ours = retrieval_report(first_stage(embedder, dataset, "val"), "emb")
    theirs = evaluate_retrieval(embedder, dataset, "emb", "val")
    assert ours.metrics == theirs.metrics
    assert [(q.query_id, q.ranked_ids, q.rank) for q in ours.per_query] == [
        (q.query_id, q.ranked_ids, q.rank) for q in theirs.per_query
    ]
    assert ours.metrics["accuracy@1"] == 0.0 and ours.metrics["mrr@10"] == pytest.approx((1 / 3 + 1 / 5) / 2)


def test_rerank_reorders_the_top_k_and_keeps_the_embedders_tail():
    dataset, embedder = fan_case()
    first = first_stage(embedder, dataset, "val")
    # p4 scores highest of all, but it is outside q-tail's top 3, so the cross-encoder never sees it.
    scorer = TableScorer(
        {
            ("about p2", "passage 2"): 5.0,
            ("about p2", "passage 0"): 1.0,
            ("about p4", "passage 4"): 9.0,
            ("about p4", "passage 1"): 2.0,
        }
    )
    report = rerank(scorer, first, top_k=3, name="reranked")
    assert ranks(report)["q-head"] == ["p2", "p0", "p1", "p3", "p4", "p5"]
    assert ranks(report)["q-tail"] == ["p1", "p0", "p2", "p3", "p4", "p5"]  # p0/p2 tie at 0: embedder order
    by_id = {q.query_id: q for q in report.per_query}
    assert by_id["q-head"].rank == 1 and by_id["q-head"].top_score == 5.0
    assert by_id["q-tail"].rank == 5
    assert report.metrics["accuracy@1"] == 0.5 and report.metrics["mrr@10"] == pytest.approx((1 + 1 / 5) / 2)
    assert len(scorer.calls) == 1 and len(scorer.calls[0]) == 6  # one predict call, top_k pairs per question


def test_a_rerankers_latency_is_the_first_stages_plus_its_rescoring_per_question(monkeypatch):
    dataset, embedder = fan_case()
    clock = StoppedClock()
    monkeypatch.setattr("time.perf_counter", clock)
    encode, predict = embedder.encode, TableScorer({}).predict
    embedder.encode = lambda texts, **kwargs: clock.spend(0.1) or encode(texts)  # corpus, then the 2 questions
    scorer = TableScorer({})
    scorer.predict = lambda pairs, **kwargs: clock.spend(0.4) or predict(pairs)  # one call for both questions
    first = first_stage(embedder, dataset, "val")
    assert retrieval_report(first, "emb").latency_ms == pytest.approx(50.0)
    assert rerank(scorer, first, top_k=3, name="reranked").latency_ms == pytest.approx(50.0 + 200.0)


def test_rerank_report_gives_both_variants_named_for_the_compare_page():
    dataset, embedder = fan_case()
    scorer = TableScorer({("about p2", "passage 2"): 1.0, ("about p4", "passage 4"): 1.0})
    reports = rerank_report(embedder, scorer, dataset, "val", top_k=6, embedder_name="emb", cross_encoder_name="ce")
    assert [r.name for r in reports.reports] == ["emb", reranked_name("emb", "ce")]
    assert reports.retrieval.metrics["accuracy@1"] == 0.0 and reports.reranked.metrics["accuracy@1"] == 1.0
    for report in reports.reports:
        assert set(report.metrics) == set(METRIC_NAMES) and report.part == "val"
        assert all(0.0 <= value <= 1.0 for value in report.metrics.values())


def test_a_blend_weight_mixes_the_first_stages_order_back_in():
    dataset, embedder = fan_case()
    first = first_stage(embedder, dataset, "val")
    scorer = TableScorer(
        {("about p2", "passage 1"): 3.0, ("about p2", "passage 2"): 2.9, ("about p4", "passage 4"): 1.0}
    )
    scores = cross_encoder_scores(scorer, first, top_k=3)
    assert [s.tolist() for s in scores] == [[0.0, 3.0, 2.9], [0.0, 0.0, 0.0]]
    assert ranks(reranked(first, scores, "ce", Blend()))["q-head"] == ["p1", "p2", "p0", "p3", "p4", "p5"]
    assert ranks(reranked(first, scores, "fs", Blend(1.0))) == ranks(retrieval_report(first, "embedder"))
    # Half and half of the standardised scores: scorer (-1.41, 0.74, 0.67), embedder (1.00, 0.36, -1.37).
    blended = reranked(first, scores, "half", Blend(0.5))
    assert ranks(blended)["q-head"] == ["p1", "p0", "p2", "p3", "p4", "p5"]
    assert blended.per_query[0].top_score == pytest.approx(0.5526, abs=1e-3)
    # A question whose scores are all equal keeps the embedder's order at every weight.
    assert ranks(blended)["q-tail"] == ranks(retrieval_report(first, "embedder"))["q-tail"]


def test_the_best_blend_scores_best_and_gives_the_reranker_the_share_it_earns():
    dataset, embedder = fan_case(copies=5)
    first = first_stage(embedder, dataset, "val")
    # Every passage but the right one scores high: alone, the scorer puts the right ones last.
    high = {
        (question, f"passage {i}"): 5.0
        for question in ("about p2", "about p4")
        for i in range(6)
        if f"p{i}" not in question
    }
    misleading = cross_encoder_scores(TableScorer(high), first, top_k=6)
    assert reranked(first, misleading, "alone").metrics["mrr@10"] == pytest.approx(1 / 6)
    blend, report = best_blend(first, misleading, "blend", "mrr@10")
    assert blend.first_stage > 0.0 and report.metrics == reranked(first, misleading, "x", blend).metrics
    assert report.metrics["mrr@10"] >= retrieval_report(first, "embedder").metrics["mrr@10"]
    helpful = cross_encoder_scores(
        TableScorer({("about p2", "passage 2"): 5.0, ("about p4", "passage 4"): 5.0}), first, top_k=6
    )
    blend, report = best_blend(first, helpful, "blend", "mrr@10")
    assert blend.first_stage + blend.lexical < 1.0 and report.metrics["mrr@10"] == 1.0
    # Of the blends that score as well, the one with the reranker's smallest share.
    assert reranked(first, helpful, "x", Blend(blend.first_stage + 0.1, blend.lexical)).metrics["mrr@10"] < 1.0


def test_a_reranker_that_helps_one_question_and_hurts_another_gets_no_share():
    dataset, embedder = fan_case()
    first = first_stage(embedder, dataset, "val")
    # Right first for one question, a wrong passage first and the right one last for the other.
    mixed = cross_encoder_scores(
        TableScorer({("about p2", "passage 2"): 5.0, ("about p4", "passage 5"): 5.0}), first, top_k=6
    )
    embedder_alone = retrieval_report(first, "embedder").metrics["mrr@10"]
    assert reranked(first, mixed, "alone").metrics["mrr@10"] > embedder_alone  # better on average...
    blend, report = best_blend(first, mixed, "blend", "mrr@10")
    assert blend.first_stage + blend.lexical == pytest.approx(1.0)  # ...but within noise
    assert report.metrics["mrr@10"] == max(
        reranked(first, mixed, "x", Blend(1 - words / 10, words / 10)).metrics["mrr@10"] for words in range(6)
    )


def test_a_rerankers_blend_travels_in_its_saved_config(tmp_path):
    from ragtune_core.store.models import CROSS_ENCODER, load_model

    model = load_model(CROSS_ENCODER, None)
    assert kept_blend(model) == Blend() and kept_blend(TableScorer({})) == Blend()
    keep_blend(model, Blend(0.5, 0.2))
    model.save(str(tmp_path / "reranker"))
    assert kept_blend(load_model(CROSS_ENCODER, str(tmp_path / "reranker"))) == Blend(0.5, 0.2)
    dataset, embedder = fan_case()
    first = first_stage(embedder, dataset, "val")
    scorer = TableScorer({("about p2", "passage 0"): 5.0})
    scorer.config = model.config  # rerank reads the blend from the model it is given
    expected = reranked(first, cross_encoder_scores(scorer, first, 3), "r", Blend(0.5, 0.2))
    assert rerank(scorer, first, 3, "r").metrics == expected.metrics


def test_a_reranker_whose_score_has_no_share_is_neither_run_nor_counted_in_estimates(tmp_path):
    from ragtune_core.evaluation.duration import RERANKING, evaluation_phases
    from ragtune_core.store.models import CROSS_ENCODER, load_model
    from ragtune_core.timing.pace import Pace

    model = load_model(CROSS_ENCODER, None)
    keep_blend(model, Blend(0.5, 0.5))
    model.save(str(tmp_path / "words"))
    assert saved_blend(str(tmp_path / "words")) == Blend(0.5, 0.5) and saved_blend(None) == Blend()
    dataset, embedder = fan_case()
    first = first_stage(embedder, dataset, "val")
    scorer = TableScorer({("about p2", "passage 0"): 5.0})
    scorer.config = model.config
    report = rerank(scorer, first, 3, "r")
    assert scorer.calls == []  # nothing scored...
    scored = cross_encoder_scores(TableScorer({("about p2", "passage 0"): 5.0}), first, 3)
    assert report.metrics == reranked(first, scored, "r", Blend(0.5, 0.5)).metrics  # ...and nothing lost
    pace = Pace(1000.0, 100.0, 0.1, 1.0)

    def reranking_seconds(reranker: str | None) -> float:
        return evaluation_phases(dataset, "val", [None], lambda model: pace, [reranker], 3).phases[RERANKING]

    assert reranking_seconds(str(tmp_path / "words")) == 0.0 < reranking_seconds(None)


def word_case() -> tuple[QADataset, VectorEmbedder]:
    """Three passages the embedder cannot tell apart; only one holds the question's rare words."""
    corpus = {
        "p0": "Revenue grew in every market.",
        "p1": "Express Drive rentals grew; revenue from rentals grew.",
        "p2": "Revenue fell in one market.",
    }
    vectors = {text: at_angle(0) for text in corpus.values()}
    vectors["express drive revenue"] = at_angle(0)
    dataset = QADataset({"q": "express drive revenue"}, corpus, {"q": ["p1"]}, split={"q": "val"})
    return dataset, VectorEmbedder(vectors)


def test_word_match_blended_in_puts_the_passage_with_the_questions_rare_words_first():
    dataset, embedder = word_case()
    first = first_stage(embedder, dataset, "val")
    flat = cross_encoder_scores(TableScorer({}), first, top_k=3)  # a scorer that knows nothing
    assert ranks(reranked(first, flat, "alone"))["q"][0] == "p0"  # ties keep the embedder's (id) order
    assert ranks(reranked(first, flat, "words", Blend(lexical=0.3)))["q"][0] == "p1"
    blend, report = best_blend(first, flat, "blend", "mrr@10")
    assert blend.lexical > 0.0 and report.metrics["mrr@10"] == 1.0


def test_a_blend_with_word_match_is_also_reported_without_the_rerankers_score(tmp_path):
    from ragtune_core.store.models import CROSS_ENCODER, load_model

    dataset, embedder = word_case()
    first = replace(first_stage(embedder, dataset, "val"), latency_ms=2.0)
    words = words_alone(first, Blend(0.2, 0.5), 3, "emb + word match (ce's shares)")
    # The embedder cannot tell the passages apart; word match at ce's shares finds the one with the words.
    assert ranks(words)["q"][0] == "p1" and ranks(retrieval_report(first, "emb"))["q"][0] == "p0"
    assert words.name == "emb + word match (ce's shares)" and words.latency_ms >= 2.0
    # Reported only where both word match and the reranker's score have a share: otherwise there is
    # nothing to tell apart (no word match: the blend without its score is the embedder; no score: it is
    # the reranking itself).
    assert shows_words_alone(Blend(0.2, 0.5))
    assert not any(shows_words_alone(blend) for blend in (Blend(0.5, 0.5), Blend(0.5), Blend()))
    names = []
    for folder, blend in (("mixed", Blend(0.2, 0.5)), ("silent", Blend(0.5, 0.5))):
        model = load_model(CROSS_ENCODER, None)
        keep_blend(model, blend)
        model.save(str(tmp_path / folder))
        names.append(ModelSpec(folder, str(tmp_path / folder)))
    assert rerank_names("emb", names) == [
        reranked_name("emb", "mixed"),
        words_alone_name("emb", "mixed"),
        reranked_name("emb", "silent"),
    ]


def test_word_match_is_left_out_where_it_misleads():
    dataset, embedder = word_case()
    dataset.relevant_docs["q"] = ["p2"]  # the passage without the question's words is the right one
    first = first_stage(embedder, dataset, "val")
    knows = cross_encoder_scores(TableScorer({("express drive revenue", dataset.corpus["p2"]): 5.0}), first, 3)
    blend, report = best_blend(first, knows, "blend", "mrr@10")
    assert blend.lexical == 0.0 and report.metrics["mrr@10"] == 1.0


@pytest.mark.parametrize("top_k", [0, 101, True, 2.5])
def test_top_k_out_of_range_is_refused(top_k):
    dataset, embedder = fan_case()
    with pytest.raises(ValueError, match="top_k"):
        rerank_report(embedder, TableScorer({}), dataset, "val", top_k=top_k)


def test_an_empty_part_is_refused_by_name():
    dataset, embedder = fan_case()
    with pytest.raises(DatasetError, match="train"):
        first_stage(embedder, dataset, "train")


# --- CLI -----------------------------------------------------------------------------------------
def tiny_qa() -> QADataset:
    topics = {
        "volcano": ("Volcanoes erupt when magma rises through the crust.", "How does a volcano erupt?"),
        "bread": ("Bread dough rises because yeast releases carbon dioxide.", "Why does bread dough rise?"),
        "tides": ("Ocean tides are caused by the gravitational pull of the Moon.", "What causes ocean tides?"),
        "piano": ("A piano sounds when felt hammers strike tuned steel strings.", "How does a piano make sound?"),
    }
    return QADataset(
        queries={f"{t}-q": q for t, (_, q) in topics.items()},
        corpus={f"{t}-0": p for t, (p, _) in topics.items()},
        relevant_docs={f"{t}-q": [f"{t}-0"] for t in topics},
        split={f"{t}-q": "val" if t in ("tides", "piano") else "train" for t in topics},
    )


def test_cli_rerank_refuses_models_of_the_wrong_kind_and_bad_top_k(workspace, run_cli):
    record = save_dataset(workspace, "qa", tiny_qa(), None, {})
    workspace.register_model("my-embedder", "embedding", workspace.root / "nowhere", DEFAULT_BASE_MODEL)
    workspace.register_model("my-reranker", "cross_encoder", workspace.root / "nowhere", DEFAULT_BASE_MODEL)
    code, out, err = run_cli("rerank", "qa", "--embedder", "base", "--cross-encoder", "my-embedder")
    assert code == 2 and "--cross-encoder 'my-embedder'" in err and out == ""
    code, _, err = run_cli("rerank", "qa", "--embedder", "my-reranker", "--cross-encoder", "my-reranker")
    assert code == 2 and "--embedder 'my-reranker'" in err
    code, _, err = run_cli("rerank", record.id, "--embedder", "base", "--cross-encoder", "my-reranker", "--top-k", "0")
    assert code == 2 and "top_k" in err
    code, _, err = run_cli("rerank", "no-such-dataset", "--embedder", "base", "--cross-encoder", "my-reranker")
    assert code == 2 and "no-such-dataset" in err
    assert not (workspace.root / "evaluations").exists() or not list((workspace.root / "evaluations").iterdir())
    assert not list(workspace.dir("comparisons").iterdir())  # no comparison kept either


# --- real models ---------------------------------------------------------------------------------
@pytest.mark.slow
def test_cli_rerank_saves_both_reports_with_real_models(workspace, run_cli):
    record = save_dataset(workspace, "qa", tiny_qa(), None, {})
    # The bundled embedding folder loads as a cross-encoder with an untrained head: fine for the plumbing.
    code, out, err = run_cli(
        "rerank", "qa", "--embedder", "base", "--cross-encoder", resolve_model(None), "--top-k", "3"
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["part"] == "val" and summary["queries"] == 2 and summary["top_k"] == 3
    assert len(summary["models"]) == 2 and DEFAULT_BASE_MODEL in summary["models"]
    for metrics in summary["models"].values():
        assert set(metrics) == set(METRIC_NAMES) and all(0.0 <= v <= 1.0 for v in metrics.values())
    saved = latest_reports(workspace, record.id, "val")
    assert sorted(r.report_id for r in saved) == sorted(summary["reports"])
    # The embedder alone ranks these four distinct topics perfectly.
    assert summary["models"][DEFAULT_BASE_MODEL]["accuracy@1"] == 1.0


@pytest.mark.slow
def test_cli_rerank_reports_a_rerankers_word_match_without_its_score(workspace, run_cli, tmp_path):
    from ragtune_core.reporting import history
    from ragtune_core.reporting.history import RETRIEVAL
    from ragtune_core.store.models import CROSS_ENCODER, load_model

    record = save_dataset(workspace, "qa", tiny_qa(), None, {})
    model = load_model(CROSS_ENCODER, None)
    keep_blend(model, Blend(0.4, 0.3))  # a share each for the embedder, word match and its own score
    model.save(str(tmp_path / "ce"))
    code, out, err = run_cli("rerank", "qa", "--embedder", "base", "--cross-encoder", str(tmp_path / "ce"))
    assert code == 0, err
    summary = json.loads(out)
    (reranking, words) = [name for name in summary["models"] if name != DEFAULT_BASE_MODEL]
    assert words == words_alone_name(DEFAULT_BASE_MODEL, reranking.split(" + rerank ")[1])
    (entry,) = history(workspace, record.id, "val", RETRIEVAL)
    assert entry.complete and entry.models == list(summary["models"])
    assert sorted(r.report_id for r in latest_reports(workspace, record.id, "val")) == sorted(summary["reports"])


@pytest.mark.slow
def test_cli_rerank_says_how_long_before_it_starts_and_reranks_a_sample(workspace, run_cli):
    save_dataset(workspace, "qa", tiny_qa(), None, {})
    code, out, err = run_cli(
        "rerank",
        "qa",
        "--embedder",
        "base",
        "--cross-encoder",
        resolve_model(None),
        "--top-k",
        "3",
        "--part",
        "all",
        "--sample",
        "3",
    )
    assert code == 0, err
    summary = json.loads(out)
    assert summary["queries"] == 3  # 3 of the 4 questions, spread over them
    assert summary["estimated_seconds"] > 0 and summary["seconds"] > 0
    assert err.index("estimated: about") < err.index("rerank: ")  # said before anything runs
    percents = [int(p) for p in re.findall(r"rerank: (\d+)%", err)]
    assert percents == sorted(percents) and percents[-1] == 100
    code, _, err = run_cli(
        "rerank", "qa", "--embedder", "base", "--cross-encoder", resolve_model(None), "--sample", "0"
    )
    assert code == 2 and "a sample must be at least 1 question, not 0" in err
