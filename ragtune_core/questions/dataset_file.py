"""The layout of a dataset file, as read: LlamaIndex's four keys and RAGTune's block (qa_dataset.py
explains both). One schema checks every dataset file, QA or router, when it is read; a mismatch names
the file, the key (`queries["q3"]`, `ragtune.extra.tools[0].name`) and what was expected."""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic
from pydantic_core import PydanticCustomError

from ..store.shapes import FILE_SHAPE, Text, expect

EVALUATION_ONLY = "evaluation_only"  # the extra key (and dataset record param) of an evaluation-only dataset
STYLES = "styles"  # the extra key of {query id: style} (an evidence set's "terse", "analyst"...)


class StoredTool(pydantic.BaseModel):
    """A router tool as a dataset file stores it (questions.router.tools.Tool; a test keeps the two alike)."""

    model_config = FILE_SHAPE
    id: Text
    name: Text
    description: Text
    kind: str
    document_id: str | None = None


class Extra(pydantic.BaseModel):
    """RAGTune's extras: a router dataset's tools, an evidence set's flags; other keys are kept verbatim."""

    model_config = pydantic.ConfigDict(strict=True, extra="allow")
    tools: list[StoredTool] = []
    evaluation_only: bool = False
    styles: dict[str, Text] = {}


class RagtuneBlock(pydantic.BaseModel):
    model_config = FILE_SHAPE
    kind: Literal["qa", "router"] = "qa"
    passage_docs: dict[str, str] = {}
    split: dict[str, Literal["train", "val", "test"]] = {}
    extra: Extra = Extra()


def _one_id_as_a_list(ids):
    """LlamaIndex's files may give a single relevant passage as its id alone."""
    if isinstance(ids, str) and ids.strip():
        return [ids]
    if not isinstance(ids, list):
        raise PydanticCustomError("expected", "expected {expected}", {"expected": "a list or a non-empty string"})
    return ids


RelevantIds = Annotated[list[str], pydantic.BeforeValidator(_one_id_as_a_list)]


class DatasetFile(pydantic.BaseModel):
    model_config = FILE_SHAPE
    queries: Annotated[dict[str, Text], expect(bool, "at least one question")]
    corpus: Annotated[dict[str, Text], expect(bool, "at least one passage")]
    relevant_docs: dict[str, RelevantIds]
    mode: str = "text"
    ragtune: RagtuneBlock | None = None

    def extra(self) -> dict:
        """RAGTune's extras as the dataset keeps them: the keys the file holds, each tool with all its fields."""
        if self.ragtune is None:
            return {}
        extra = self.ragtune.extra.model_dump(exclude_unset=True)
        if "tools" in self.ragtune.extra.model_fields_set:
            extra["tools"] = [tool.model_dump() for tool in self.ragtune.extra.tools]
        return extra
