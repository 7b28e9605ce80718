"""What a fine-tuned LLM costs to route with, from a saved comparison: latency percentiles, invalid
outputs by kind, the cost of 1,000 queries (USD for a hosted model, CPU-seconds for a local one),
and how often it picks what its teacher picks.

A hosted cost is an estimate: the tokens of each query's prompt (system prompt, tools, query; ~4
characters a token) and of one tool call, at the fine-tuned model's inference price.
"""

from __future__ import annotations

import json

import numpy as np

from ..llm.pricing import ModelPrice, price_for
from ..llm.tokens import estimate_tokens
from ..routing.compare import RouterComparison
from ..routing.llm_selector import HOSTED, INVALID_OUTPUT_KINDS, FinetunedLLM, invalid_output_kind
from ..routing.specs import llm_model_spec
from ..routing.stats import TeacherAgreement, teacher_agreement
from ..training.llm.data import DATASET_LABELS, load_chat_data, teacher_labels

CALL_TOKENS = 12  # one tool call without arguments, as the model writes it


def fine_tuned_price(base_model: str, prices: dict[str, ModelPrice] | None = None) -> tuple[float, float] | None:
    """USD per 1k tokens (input, output) of a model fine-tuned from `base_model`, from the price table
    (`prices`, default the known one; llm.pricing); None when unknown."""
    price = price_for(base_model, prices)
    return price.fine_tuned_per_1k() if price else None


def hosted_cost_per_1000(
    queries: list[str], model: FinetunedLLM, prices: dict[str, ModelPrice] | None = None
) -> float | None:
    """Estimated USD for 1,000 queries like these; None when the base model has no known price."""
    price = fine_tuned_price(model.base_model, prices)
    if price is None or not queries:
        return None
    fixed = estimate_tokens([model.system_prompt, json.dumps(model.tools)])
    prompt = fixed + estimate_tokens(queries) / len(queries)
    return 1000 * (prompt / 1000 * price[0] + CALL_TOKENS / 1000 * price[1])


def llm_selector_rows(
    comparison: RouterComparison, models: dict[str, FinetunedLLM], prices: dict[str, ModelPrice] | None = None
) -> list[dict]:
    """Per selector: latency p50/p95 (ms), invalid outputs (all, and by kind) and, for the fine-tuned
    LLMs in `models` (by label), the cost of 1,000 queries."""
    rows = []
    for report in comparison.reports:
        latencies = np.array(report.latencies or [report.mean_latency], dtype=float) * 1000
        kinds = [invalid_output_kind(error) for error in report.errors]
        row = {
            "selector": report.name,
            "p50_ms": float(np.percentile(latencies, 50)),
            "p95_ms": float(np.percentile(latencies, 95)),
            "invalid_outputs": sum(k is not None for k in kinds),
            **{kind: kinds.count(kind) for kind in INVALID_OUTPUT_KINDS},
            "usd_per_1000": None,
            "cpu_seconds_per_1000": None,
        }
        model = models.get(report.name)
        if model is not None and model.where == HOSTED:
            row["usd_per_1000"] = hosted_cost_per_1000(comparison.queries, model, prices)
        elif model is not None:
            row["cpu_seconds_per_1000"] = report.mean_latency * 1000
        rows.append(row)
    return rows


def finetuned_llms(ws) -> dict[str, FinetunedLLM]:
    """The workspace's fine-tuned LLMs by their selector label (as the selector picker names them);
    one whose description cannot be read is left out (its selector says why when picked)."""
    models = {}
    for record in ws.list_models("llm"):
        try:
            models[llm_model_spec(record.name, record.path).label] = FinetunedLLM.load(record.path)
        except (OSError, ValueError):
            continue
    return models


def teacher_agreements(ws, comparison: RouterComparison, models: dict[str, FinetunedLLM]) -> list[TeacherAgreement]:
    """Agreement with its teacher of each fine-tuned LLM of `models` (by label) in the comparison: with
    the teacher LLM selector when it ran too, else with the teacher's calls saved with the model's
    data. A model trained on the dataset's own labels has no teacher and no row."""
    rows = []
    for report in comparison.reports:
        model = models.get(report.name)
        if model is None:
            continue
        data = _chat_data_of(ws, model)
        if data is not None and data.labels == DATASET_LABELS:
            continue
        found = teacher_agreement(
            comparison, report.name, data.teacher if data else None, teacher_labels(data) if data else None
        )
        if found is not None:
            rows.append(found)
    return rows


def _chat_data_of(ws, model: FinetunedLLM):
    """The chat data the model learned from, or None when it is not known or no longer there."""
    if not model.data_name:
        return None
    try:
        return load_chat_data(ws, model.data_name)
    except (OSError, ValueError):
        return None
