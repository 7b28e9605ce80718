"""bench_defaults' hand-written QA table, on an invented corpus and evidence set with stand-in models."""

import re

from bench.bench_defaults import BASE_LABEL, command_label, handwritten_table
from ragtune_core.corpus.documents import Document, save_corpus
from ragtune_core.evaluation.retrieval import evaluate_retrieval, save_report
from ragtune_core.questions.evidence import import_evidence_set, parse_evidence_set
from ragtune_core.questions.qa_dataset import load_dataset
from tests.app_pages.test_page_evidence import ShortWordModel
from tests.questions.test_cli_evidence import CHUNKS, EVIDENCE, WordModel


def test_the_hand_written_table_has_each_model_per_style_with_paired_gains_and_the_targets(workspace):
    document = Document("cinema", "Lanternfish annual report", "text:l.txt", " ".join(c.text for c in CHUNKS))
    save_corpus(workspace, "10k", [document], CHUNKS, {})
    record, match = import_evidence_set(workspace, parse_evidence_set(EVIDENCE), "handwritten", "10k", "hw.json")
    dataset = load_dataset(workspace, record.id)
    for label, model in ((BASE_LABEL, WordModel()), ("emb", ShortWordModel())):
        save_report(workspace, evaluate_retrieval(model, dataset, label, "all"), record.id)

    text = handwritten_table(workspace, "handwritten", {"dataset_id": record.id, **match.summary()})
    assert "3 of 4 questions have their evidence phrase in a chunk, 1 left out" in text
    rows = [line for line in text.splitlines() if line.startswith(f"| {BASE_LABEL} |") or line.startswith("| emb |")]
    assert [row.split(" | ")[1:3] for row in rows] == [["all", "3"], ["terse", "2"], ["synonym", "1"]] * 2
    assert rows[0].endswith("| — | — |") and "[" in rows[3]  # only the other models have a gain over the base
    assert "Targets on the hand-written set: emb accuracy@5 gain" in text
    assert "NOT met" in text  # two stand-ins that rank alike gain nothing
    assert "reranker" not in text  # no reranked report: that target is not claimed
    assert "a document they never trained on" not in text
    unseen = handwritten_table(
        workspace, "handwritten", {"dataset_id": record.id, **match.summary()}, never_trained_on=True
    )
    assert "Lyft's 10-K is a document they never trained on" in unseen


def test_the_rerankers_gain_is_split_into_its_blend_without_its_score_and_what_its_score_adds(workspace):
    from bench.bench_defaults import blend_without_the_cross_encoder
    from ragtune_core.evaluation.blend import Blend
    from ragtune_core.evaluation.reranking import (
        cross_encoder_scores,
        first_stage,
        reranked,
        retrieval_report,
        words_alone,
        words_alone_name,
    )
    from tests.questions.test_cli_evidence import OverlapScorer

    document = Document("cinema", "Lanternfish annual report", "text:l.txt", " ".join(c.text for c in CHUNKS))
    save_corpus(workspace, "10k", [document], CHUNKS, {})
    record, _ = import_evidence_set(workspace, parse_evidence_set(EVIDENCE), "handwritten", "10k", "hw.json")
    first = first_stage(ShortWordModel(), load_dataset(workspace, record.id), None)
    blend = Blend(0.5, 0.2)
    # What `rerank handwritten` saves: the first stage, the reranking, and the blend without its score.
    for report in (
        retrieval_report(first, "emb"),
        reranked(first, cross_encoder_scores(OverlapScorer(), first, 3), "emb + rerank ce", blend),
        words_alone(first, blend, 3, words_alone_name("emb", "ce")),
    ):
        save_report(workspace, report, record.id)

    text = blend_without_the_cross_encoder(workspace, "handwritten", blend)
    assert "(ce kept the blend: first stage 0.5, word match 0.2, its own score 0.3)" in text
    parts = re.findall(r"(the blend without ce's score over emb|ce's score over that) ([+-]\d\.\d{3}) \[", text)
    assert [name for name, _ in parts] == ["the blend without ce's score over emb", "ce's score over that"]
    # A blend that gives its score no share: the whole gain is the first stage's and word match's.
    assert blend_without_the_cross_encoder(workspace, "handwritten", Blend(0.5, 0.5)).endswith(
        "its own score 0.0): the first stage and word match alone."
    )


def test_the_timing_table_judges_an_eta_only_with_seconds_enough_left_to_read_it():
    from bench.bench_defaults import TIMED, eta_at_a_tenth, timing_table

    progress = "evaluate: 20% · 6s elapsed · 24s left · encoded 256/5015 texts\n"
    TIMED.append({"command": "evaluate qa", "estimated": 24.0, "seconds": 25.0, "eta": eta_at_a_tenth(progress)})
    TIMED.append({"command": "evaluate handwritten", "estimated": 5.0, "seconds": 6.0, "eta": (5.0, 0.0)})
    rows = timing_table().splitlines()[-2:]
    assert rows[0] == "| `evaluate qa` | 24 s | 25 s | 0.96 | 24 s | 19 s | 1.26 |"
    assert rows[1] == "| `evaluate handwritten` | 5 s | 6 s | 0.83 | 0 s | 1 s | — (under 2 s left) |"
    assert not TIMED  # a section's table takes its commands' times with it


def test_a_timed_training_is_named_by_the_model_it_trains():
    # Two trainings of one dataset (the defaults and the seeds' recipe) are two rows of the table.
    assert command_label(("train", "router", "--name", "seeds", "--epochs", "30")) == "train router --name seeds"
    assert command_label(("rerank", "qa", "--embedder", "emb")) == "rerank qa"
