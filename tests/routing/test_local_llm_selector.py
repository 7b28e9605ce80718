"""The local LLM selector on a tiny random Llama: it scores every tool's whole call exactly as a plain
forward pass would, calibrates it by the tool's prior, answers only with tools offered, and its scores
are probabilities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ragtune_core.routing.local_llm_selector import CALIBRATION, CONTENT_FREE_QUERIES, LocalLLMSelector
from ragtune_core.routing.selectors import Choice
from tests.training.llm.helpers import TOOLS
from tests.training.llm.tiny_llm import SYSTEM_PROMPT, tiny_llm

CHOICES = [Choice(tool_id, name, description) for tool_id, name, _, description in TOOLS]
QUERIES = ["How long should I knead bread dough?", "Summarize the whole tax manual for me."]


@pytest.fixture(scope="module")
def selector(tmp_path_factory) -> LocalLLMSelector:
    return LocalLLMSelector(tiny_llm(tmp_path_factory.mktemp("tiny") / "tiny-model"))


def full_log_likelihood(selector: LocalLLMSelector, text: str, from_char: int, name_end: int) -> float:
    """The summed log-probability, by one plain pass over `text`, of its tokens that end after
    `from_char`, up to the first token that ends after `name_end`."""
    import torch

    encoded = selector.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, ends = encoded["input_ids"], [end for _, end in encoded["offset_mapping"]]
    last = next(i for i, end in enumerate(ends) if end > name_end)
    with torch.no_grad():
        log_probs = torch.log_softmax(selector.model(torch.tensor([ids])).logits[0].float(), dim=-1)
    return sum(log_probs[i - 1, ids[i]].item() for i in range(1, last + 1) if ends[i] > from_char)


@pytest.mark.parametrize("query", QUERIES + ["x"])  # the second and third reuse the first's stem
def test_scores_are_the_likelihood_of_each_call(selector, query):
    """The stem and the query run once, and the tools' tokens in a padded batch on a repeated cache:
    each score must equal the full pass's log-likelihood of that tool's call, up to one constant."""
    calls = selector.calls(query, CHOICES)
    start = calls[0][0].rfind('{"name": "') + len('{"name": "')  # where the tool's name begins
    assert all(
        text[start:name_end] == choice.name and text[name_end] == '"'
        for (text, name_end), choice in zip(calls, CHOICES, strict=True)
    )
    expected = [full_log_likelihood(selector, text, start, name_end) for text, name_end in calls]
    scored = selector.log_likelihoods(query, CHOICES)
    offsets = [e - s for e, s in zip(expected, scored, strict=True)]
    assert max(offsets) - min(offsets) < 1e-3
    assert len({round(s, 3) for s in scored}) > 1  # the tools do differ


def test_the_tools_are_encoded_once_per_choice_list(selector):
    lengths: list[int] = []
    hook = selector.model.register_forward_pre_hook(
        lambda module, args, kwargs: lengths.append(
            kwargs["input_ids"].shape[1] if "input_ids" in kwargs else args[0].shape[1]
        ),
        with_kwargs=True,
    )
    try:
        selector.select(QUERIES, CHOICES[::-1])  # a new choice list: its stem runs first
        first = len(lengths)
        selector.select(QUERIES, CHOICES[::-1])
    finally:
        hook.remove()
    prompt = len(selector.call_tokens(QUERIES[0], CHOICES[::-1])[0])
    # The stem, then per query (the content-free ones of the tools' prior first): the query and the tools.
    assert first == 1 + 2 * (len(CONTENT_FREE_QUERIES) + len(QUERIES)) and lengths[0] > prompt / 2
    assert len(lengths) == first + 2 * len(QUERIES) and sum(lengths[first:]) < prompt


def test_each_query_gets_one_offered_tool_and_probabilities(selector):
    selections = selector.select(QUERIES, CHOICES)
    assert len(selections) == len(QUERIES)
    for selection, query in zip(selections, QUERIES, strict=True):
        assert selection.error is None and 0 <= selection.index < len(CHOICES)
        assert len(selection.scores) == len(CHOICES) and math.isclose(sum(selection.scores), 1.0, rel_tol=1e-6)
        assert selection.scores[selection.index] == max(selection.scores)
        calibrated = np.array(selector.log_likelihoods(query, CHOICES)) - selector.calibration * selector.prior(CHOICES)
        assert selection.index == calibrated.argmax()
        softmax = np.exp(calibrated - calibrated.max()) / np.exp(calibrated - calibrated.max()).sum()
        assert np.allclose(selection.scores, softmax, atol=1e-6)
        assert selection.latency > 0
    assert selector.select([], CHOICES) == []


def test_the_prior_is_each_tools_likelihood_after_content_free_queries(selector):
    prior = selector.prior(CHOICES)
    expected = np.mean([selector.log_likelihoods(query, CHOICES) for query in CONTENT_FREE_QUERIES], axis=0)
    assert np.allclose(prior, expected, atol=1e-4) and np.ptp(prior) > 0
    selector.calibration = 0.0  # uncalibrated: the raw likelihoods rank the tools
    try:
        for query, selection in zip(QUERIES, selector.select(QUERIES, CHOICES), strict=True):
            likelihoods = selector.log_likelihoods(query, CHOICES)
            assert selection.index == likelihoods.index(max(likelihoods))
    finally:
        selector.calibration = CALIBRATION
    with pytest.raises(ValueError, match="calibration must be between 0 and 1"):
        LocalLLMSelector(selector.tokenizer.name_or_path, calibration=1.5)


def test_tools_whose_names_share_a_start_and_a_single_tool(selector):
    """A name that begins another (tax, tax_summary) is still scored on its own end of call."""
    choices = [Choice("a", "tax", "Tax questions"), Choice("b", "tax_summary", "Summaries of the tax manual")]
    tax, _ = selector.call_tokens(QUERIES[1], choices)
    assert selector.tokenizer.decode(tax[-1:]).startswith('"')  # "tax" is scored with the quote that ends it
    selection = selector.select(QUERIES[1:], choices)[0]
    assert selection.index in (0, 1) and math.isclose(sum(selection.scores), 1.0, rel_tol=1e-6)
    assert selector.select(QUERIES, choices[:1])[0].scores == [1.0]


def test_prompts_start_as_trained_and_the_model_is_named(selector):
    text = selector.calls(QUERIES[0], CHOICES)[0][0]
    assert text.startswith(f"<|im_start|>system\n{SYSTEM_PROMPT}\n\nTools:\n- vector_tool_cooking: ")
    assert selector.name == "local LLM tiny-model"


def test_a_choice_without_description_or_a_template_without_calls_is_refused(selector):
    with pytest.raises(ValueError, match="has no description"):
        selector.select(QUERIES, [Choice("a", "a", " ")])
    template = selector.tokenizer.chat_template
    selector.tokenizer.chat_template = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
    try:
        with pytest.raises(ValueError, match="does not render tool calls by name"):
            selector.select(QUERIES, CHOICES)
    finally:
        selector.tokenizer.chat_template = template


def test_an_untuned_llm_is_compared_by_the_cli(workspace, run_cli, selector, tmp_path):
    """`--untuned-llm FOLDER` routes every query with the model as it comes, beside an embedding model."""
    import json

    from ragtune_core.questions.qa_dataset import save_dataset
    from tests.training.llm.helpers import router_dataset

    save_dataset(workspace, "tools", router_dataset(), None, {})
    folder = tmp_path / "untuned"
    selector.model.save_pretrained(folder)
    selector.tokenizer.save_pretrained(folder)
    code, out, err = run_cli(
        "compare-selectors", "tools", "--untuned-llm", str(folder), "--embedding", "base", "--part", "all"
    )
    assert code == 0, err
    summary = json.loads(out)
    label = f"untuned LLM · {folder}"
    assert label in summary["match_rates"] and 0.0 <= summary["match_rates"][label] <= 1.0
    code, _, err = run_cli("compare-selectors", "tools", "--untuned-llm", str(tmp_path / "nowhere"))
    assert code == 2 and "nowhere" in err and "Traceback" not in err
