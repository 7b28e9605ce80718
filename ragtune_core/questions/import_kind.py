"""Which kind (question → passage, or router) an imported dataset file is.

An explicit kind always wins: the file's own (`"ragtune": {"kind": ...}`) or the one the user chose,
and the two must agree. Only a file that says nothing is guessed at, and the answer says it was a guess:
a file whose answers are all tool-shaped names ("vector_tool_oslo") is a router dataset, any other a QA
one. The Questions page's import and `ragtune import-dataset` both decide here.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .qa_dataset import DatasetError, QADataset
from .router.tools import RoutingError, as_router_dataset, dataset_tools, looks_like_router_dataset

GUESS = "guess"
IMPORT_KINDS = (GUESS, "qa", "router")  # what a user may choose; GUESS lets the file, or a guess, decide


@dataclass(frozen=True)
class ImportedKind:
    dataset: QADataset  # as that kind (a router dataset with its tools)
    kind: str  # "qa" | "router"
    guessed: bool  # neither the file nor the user named the kind
    note: str  # what decided it, for the user


def declared_kind(data) -> str | None:
    """The kind the parsed file names in its RAGTune block, or None when it names none."""
    block = data.get("ragtune") if isinstance(data, dict) else None
    return block.get("kind") if isinstance(block, dict) else None


def resolve_kind(data, dataset: QADataset, chosen: str | None, file: str) -> ImportedKind:
    """`dataset` (read from the parsed file `data`) as the kind the file names, `chosen` names, or else
    a guess. DatasetError, naming the file, when the choice contradicts the file or the kind cannot apply."""
    chosen = None if chosen in (None, GUESS) else chosen
    if chosen not in (None, *IMPORT_KINDS):
        raise DatasetError(f"the kind must be one of {', '.join(IMPORT_KINDS)}, not {chosen!r}")
    declared = declared_kind(data)
    if chosen and declared and chosen != declared:
        raise DatasetError(
            f"{file} says it is a {declared} dataset (ragtune.kind), but {chosen} was chosen: "
            f"choose {declared} or guess, or change the file"
        )
    if chosen or declared:
        kind, guessed = chosen or declared, False
        note = f"{kind}: as chosen" if chosen else f"{kind}: as the file says (ragtune.kind)"
    else:
        kind, guessed = ("router" if looks_like_router_dataset(dataset) else "qa"), True
        note = f"{kind}: guessed, the file names no kind and its answers " + (
            "are tool names" if kind == "router" else "are not tool names"
        )
    return ImportedKind(_as_kind(dataset, kind, file), kind, guessed, note)


def refuse_router_evidence(chosen: str | None, file: str) -> None:
    """An evidence-phrase set is a question/passage evaluation set: DatasetError if router was chosen."""
    if chosen == "router":
        raise DatasetError(
            f"{file} is an evidence-phrase set, a question/passage (qa) evaluation set: the router kind does not apply"
        )


def _as_kind(dataset: QADataset, kind: str, file: str) -> QADataset:
    if kind == "qa":
        return replace(dataset, kind="qa")
    try:
        if not dataset.extra.get("tools"):
            return as_router_dataset(dataset)
        dataset_tools(dataset)  # the stored tools can be routed between (unique, one right answer each)
        return replace(dataset, kind="router")
    except (DatasetError, RoutingError) as exc:  # tools that cannot be routed between
        raise DatasetError(f"{file}: {exc}") from exc
