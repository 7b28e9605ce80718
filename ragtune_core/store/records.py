"""What the workspace's catalogue lists (corpora, datasets, runs, models) and the error it raises."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from ..errors import RagtuneError
from ..runs import JobState

JSON_COLUMNS = {"params", "result", "metrics"}  # catalogue columns holding JSON


class WorkspaceError(RagtuneError):
    """A request the workspace refuses (unknown id, duplicate name, damaged catalogue); nothing was changed."""


@dataclass
class CorpusRecord:
    id: str
    name: str
    created: float
    params: dict
    n_documents: int
    n_chunks: int


@dataclass
class DatasetRecord:
    id: str
    name: str
    created: float
    kind: str
    corpus_id: str | None
    params: dict
    n_queries: int


@dataclass
class RunRecord:
    id: str
    name: str
    kind: str
    created: float
    finished: float | None
    state: JobState
    dataset_id: str | None
    params: dict
    result: dict


@dataclass
class ModelRecord:
    id: str
    name: str
    kind: str  # "embedding" | "cross_encoder" | "llm" (a fine-tuned LLM: its folder holds llm_model.json)
    created: float
    path: str
    base_model: str
    run_id: str | None
    metrics: dict = field(default_factory=dict)
    dataset_id: str | None = None  # the dataset it was fine-tuned on (None: registered from elsewhere)


def new_id(prefix: str) -> str:
    return f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"


def check_name(name: str) -> str:
    """The name stripped, or WorkspaceError saying why it cannot be used (checked before any work)."""
    name = (name or "").strip()
    if not name:
        raise WorkspaceError("a name is required")
    if len(name) > 120:
        raise WorkspaceError("names are at most 120 characters")
    return name
