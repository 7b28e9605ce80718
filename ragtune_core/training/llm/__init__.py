"""Fine-tuning an LLM on tool calls: chat data from router datasets, a pre-flight check, and
providers (hosted: OpenAI-shaped, Together or Fireworks; local: TRL + LoRA) behind one interface."""

from .data import (
    SYSTEM_PROMPT,
    ChatData,
    ChatDataError,
    build_chat_data,
    check_example,
    import_jsonl,
    list_chat_data,
    load_chat_data,
    parse_jsonl,
    save_chat_data,
    to_jsonl,
)
from .finetune import LLMFinetuneRequest, check_request, default_base_url, fine_tune_llm, hosted_provider
from .fireworks import FIREWORKS_NOTICE, FireworksProvider, fireworks_base_url
from .local_provider import LocalProvider
from .openai_shaped import OPENAI_NOTICE, OpenAIShapedProvider
from .preflight import (
    PreflightReport,
    length_histogram,
    local_token_counter,
    preview,
    run_preflight,
    training_price_per_1m,
)
from .providers import PROVIDERS, Availability, ProviderError, ProviderJob
from .together import TOGETHER_BASE_URL, TOGETHER_NOTICE, TogetherProvider

__all__ = [
    "SYSTEM_PROMPT",
    "ChatData",
    "ChatDataError",
    "build_chat_data",
    "check_example",
    "parse_jsonl",
    "import_jsonl",
    "to_jsonl",
    "save_chat_data",
    "load_chat_data",
    "list_chat_data",
    "PreflightReport",
    "local_token_counter",
    "run_preflight",
    "preview",
    "length_histogram",
    "training_price_per_1m",
    "OPENAI_NOTICE",
    "PROVIDERS",
    "Availability",
    "ProviderJob",
    "ProviderError",
    "OpenAIShapedProvider",
    "LocalProvider",
    "TOGETHER_BASE_URL",
    "TOGETHER_NOTICE",
    "TogetherProvider",
    "FIREWORKS_NOTICE",
    "FireworksProvider",
    "fireworks_base_url",
    "hosted_provider",
    "default_base_url",
    "LLMFinetuneRequest",
    "check_request",
    "fine_tune_llm",
]
