"""A tiny randomly initialised Llama and a byte-level BPE tokenizer trained on the spot, saved as a
model folder: the local LLM tests train and route with it in seconds, with no download."""

from __future__ import annotations

import json
from pathlib import Path

from ragtune_core.store.llm_models import TOOLS_CHAT_TEMPLATE

from .helpers import NAME_OF, QUERIES, TOOLS

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SYSTEM_PROMPT = "Route the user's query: call the one tool that should answer it."


def function_tools() -> list[dict]:
    return [
        {
            "type": "function",
            "function": {"name": name, "description": description, "parameters": {"type": "object", "properties": {}}},
        }
        for _, name, _, description in TOOLS
    ]


def chat_line(query: str, tool_name: str) -> dict:
    call = {"type": "function", "id": "call_0", "function": {"name": tool_name, "arguments": "{}"}}
    return {
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": query},
            {"role": "assistant", "tool_calls": [call]},
        ],
        "tools": function_tools(),
        "parallel_tool_calls": False,
    }


def write_lines(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


def right_lines() -> list[dict]:
    """Every test query with its right tool."""
    return [chat_line(query, NAME_OF[tool_id]) for query, tool_id in QUERIES]


def tiny_llm(folder: Path, seed: int = 0) -> Path:
    """Save a 2-layer, 32-wide Llama with a 600-token BPE vocabulary (learnt from the test chats) and
    the tools chat template in `folder`."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    texts = [json.dumps(line) for line in right_lines()] + [TOOLS_CHAT_TEMPLATE]
    bpe.train_from_iterator(
        texts,
        trainers.BpeTrainer(
            vocab_size=600, special_tokens=SPECIAL_TOKENS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = TOOLS_CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
        initializer_range=0.5,
    )  # the tied output layer needs weights large enough for a peaked guess
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
