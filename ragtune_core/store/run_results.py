"""The base of a job kind's result, typed: a dataclass its adapter builds and returns as `to_dict()` (what
the run's status.json and the catalogue keep), parsed once where it is read (`of_run`, `read`).

Each kind's result lives in its stage beside the work it sums up (`questions/drafts.py`,
`evaluation/run_result.py`, `routing/run_result.py`, `corpus/wiki_fetch.py`, `training/llm/finetune.py`,
`jobs/results.py`). A field that older RAGTune versions did not keep has a default, so their results load;
a result of another shape (a field of another type, an unknown key) is a FileContentError naming the run
and the key.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import ClassVar, Self

from ..runs import JobState
from .files import FileContentError
from .records import RunRecord
from .shapes import FILE_SHAPE, parse, stored_fields


class RunResult:
    """Mixed into a job kind's result dataclass: `read` a stored result, `of_run` a run's, `to_dict` to store."""

    __pydantic_config__ = FILE_SHAPE  # strict types, no unknown keys
    # keys an older RAGTune kept that this one no longer reads: left out when read, not refused
    DROPPED: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def read(cls, result: dict, run_id: str) -> Self:
        """`result` (a run's, as status.json or the catalogue keep it) as this type; FileContentError naming
        the run and the key when it is of another shape."""
        kept = {key: value for key, value in result.items() if key not in cls.DROPPED}
        return parse(cls, kept, f"the result of run {run_id} in the catalogue", FileContentError)

    @classmethod
    def of_run(cls, run: RunRecord) -> Self | None:
        """The result of a run that succeeded; None while it runs, or when it did not succeed."""
        return cls.read(run.result, run.id) if run.state == JobState.SUCCEEDED else None

    def to_dict(self) -> dict:
        """As the run's status.json and the catalogue keep it, without the fields kept in memory only."""
        stored = stored_fields(type(self))
        return {key: value for key, value in asdict(self).items() if key in stored}
