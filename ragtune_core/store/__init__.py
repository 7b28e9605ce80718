"""The workspace: its SQLite catalogue, files written atomically, and where models come from."""

from .workspace import (
    Workspace,
    WorkspaceError,
    CorpusRecord,
    DatasetRecord,
    RunRecord,
    ModelRecord,
    check_name,
    new_id,
)
from .files import atomic_write_text, write_json, read_json, write_jsonl, read_jsonl, check_keys
from .models import (
    DEFAULT_BASE_MODEL,
    ModelNotFound,
    resolve_model,
    load_embedder,
    load_cross_encoder,
    load_tokenizer,
    max_seq_length,
    prefer_offline,
    zip_model,
)

__all__ = [
    "Workspace",
    "WorkspaceError",
    "CorpusRecord",
    "DatasetRecord",
    "RunRecord",
    "ModelRecord",
    "check_name",
    "new_id",
    "atomic_write_text",
    "write_json",
    "read_json",
    "write_jsonl",
    "read_jsonl",
    "check_keys",
    "DEFAULT_BASE_MODEL",
    "ModelNotFound",
    "resolve_model",
    "load_embedder",
    "load_cross_encoder",
    "load_tokenizer",
    "max_seq_length",
    "prefer_offline",
    "zip_model",
]
