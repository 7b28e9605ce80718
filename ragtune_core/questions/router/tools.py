"""The tools a RAG app routes between: per document a "vector" tool for specific facts and a
"summary" tool for holistic summaries (or whatever tools the user defines), from templates."""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import asdict, dataclass, replace

from ...corpus.documents import Document
from ...errors import RagtuneError
from ...store.shapes import FILE_SHAPE, parse
from ..qa_dataset import QADataset

VECTOR, SUMMARY = "vector", "summary"
TEMPLATE_FIELDS = ("title", "slug")
SLUG_LENGTH = 48
_TOOL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # as the default templates and function calling name tools
_KIND_AND_DOCUMENT = re.compile(rf"({VECTOR}|{SUMMARY})_tool_(\w+)")


class RoutingError(RagtuneError):
    """Router tools, settings or a comparison request that cannot work; the message names the tool,
    template, selector, dataset or field."""


# tools ---------------------------------------------------------------------------------------------
def check_placeholders(text: str, where: str, allowed: tuple[str, ...] = TEMPLATE_FIELDS) -> None:
    """Raise RoutingError unless `text` is non-empty and uses only the {allowed} placeholders."""
    if not isinstance(text, str) or not text.strip():
        raise RoutingError(f"{where} is empty")
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise RoutingError(f"{where}: {exc} in {text!r} (write {{{{ and }}}} for literal braces)") from exc
    known = ", ".join("{" + a + "}" for a in allowed)
    for name in names:
        if name not in allowed:
            raise RoutingError(f"{where}: unknown placeholder {{{name}}} in {text!r}; use {known}")


def fill_title(template: str, title: str) -> str:
    """A checked template (see `check_placeholders`) with a document's {title} and {slug}."""
    return template.format(title=title, slug=slugify(title))


def slugify(title: str) -> str:
    """An identifier-safe form of a title ("São Paulo" -> "sao_paulo")."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", ascii_title.lower()).strip("_")[:SLUG_LENGTH].strip("_") or "document"


@dataclass
class ToolTemplate:
    """How each document's tool of one kind is named and described; {title} and {slug} are filled in."""

    kind: str
    name: str
    description: str

    def __post_init__(self) -> None:
        if not self.kind.strip():
            raise RoutingError("a tool template needs a kind (e.g. 'vector' or 'summary')")
        for field_name in ("name", "description"):
            check_placeholders(getattr(self, field_name), f"the {self.kind} template's {field_name}")

    def fill(self, document: Document) -> tuple[str, str]:
        """(name, description) for one document."""
        return fill_title(self.name, document.title), fill_title(self.description, document.title)


DEFAULT_TOOL_TEMPLATES = (
    ToolTemplate(
        VECTOR,
        "vector_tool_{slug}",
        "Useful for questions related to specific aspects of {title} (e.g. the history, arts and culture, "
        "sports, demographics, or more).",
    ),
    ToolTemplate(
        SUMMARY,
        "summary_tool_{slug}",
        "Useful for any requests that require a holistic summary of EVERYTHING about {title}. For "
        "questions about more specific sections, please use the vector tool.",
    ),
)


@dataclass
class Tool:
    __pydantic_config__ = FILE_SHAPE  # how tools_from_dicts checks plain data

    id: str
    name: str
    description: str
    document_id: str | None  # None: a tool of the app's own, tied to no document
    kind: str  # "vector" and "summary" get generated queries; other kinds are choices only


def make_tools(
    documents: list[Document], templates: tuple[ToolTemplate, ...] | list[ToolTemplate] = DEFAULT_TOOL_TEMPLATES
) -> list[Tool]:
    """One tool per document and template, with ids "<kind>:<doc_id>"; repeated names get _2, _3..."""
    _check_unique([t.kind for t in templates], "tool template kind")
    _check_unique([d.doc_id for d in documents], "document id")
    tools, taken = [], set()
    for document in documents:
        for template in templates:
            name, description = template.fill(document)
            unique_name, n = name, 1
            while unique_name in taken:
                n += 1
                unique_name = f"{name}_{n}"
            taken.add(unique_name)
            tools.append(
                Tool(f"{template.kind}:{document.doc_id}", unique_name, description, document.doc_id, template.kind)
            )
    return tools


def check_tools(tools: list[Tool]) -> None:
    """Ids, names and descriptions filled in and unique, and at most one vector and one summary tool
    per document (a query must have one right answer). A kind may be empty: an imported tool whose
    kind is unknown is a choice like any other."""
    for tool in tools:
        for field_name in ("id", "name", "description"):
            value = getattr(tool, field_name)
            if not isinstance(value, str) or not value.strip():
                raise RoutingError(f"tool {tool.name or tool.id!r}: {field_name} must be a non-empty string")
        if not isinstance(tool.kind, str):
            raise RoutingError(f"tool {tool.name!r}: kind must be a string")
        if tool.document_id is not None and not isinstance(tool.document_id, str):
            raise RoutingError(f"tool {tool.name!r}: document_id must be a string or null")
    _check_unique([t.id for t in tools], "tool id")
    _check_unique([t.name for t in tools], "tool name")
    owners: dict[tuple[str, str], str] = {}
    for tool in tools:
        if tool.kind in (VECTOR, SUMMARY) and tool.document_id is not None:
            other = owners.setdefault((tool.kind, tool.document_id), tool.name)
            if other != tool.name:
                raise RoutingError(
                    f"document {tool.document_id!r} has two {tool.kind} tools, {other!r} and "
                    f"{tool.name!r}: its queries could not have one right answer"
                )


def tools_to_dicts(tools: list[Tool]) -> list[dict]:
    return [asdict(tool) for tool in tools]


def tools_from_dicts(data: list[dict]) -> list[Tool]:
    """Tools from plain data (an edited table, a job's parameters, a dataset file): each an object
    with exactly a tool's fields (its schema; document_id may be left out), then checked with `check_tools`."""
    tools = []
    for position, item in enumerate(parse(list, data, "tools", RoutingError), start=1):
        label = (item.get("name") or item.get("id") or position) if isinstance(item, dict) else position
        tools.append(
            parse(
                Tool, {"document_id": None, **item} if isinstance(item, dict) else item, f"tool {label!r}", RoutingError
            )
        )
    check_tools(tools)
    return tools


def dataset_tools(dataset: QADataset) -> list[Tool]:
    """A router dataset's tools; a dataset without stored tools (an import) gets one per passage."""
    stored = dataset.extra.get("tools")
    if stored:
        return tools_from_dicts(stored)
    return [Tool(pid, pid, text, dataset.passage_docs.get(pid), "") for pid, text in dataset.corpus.items()]


def looks_like_router_dataset(dataset: QADataset) -> bool:
    """Plain LlamaIndex JSON names no kind: it is a router dataset when its passages are tools, i.e.
    every relevant passage id is shaped like a tool name ("vector_tool_berlin"), not a chunk id or
    a UUID, and at least two tools are answers."""
    answers = {pid for pids in dataset.relevant_docs.values() for pid in pids}
    return len(answers) >= 2 and all(_TOOL_NAME.fullmatch(pid) for pid in answers)


def as_router_dataset(dataset: QADataset) -> QADataset:
    """The dataset as a router dataset: each passage a tool with its name, its kind and document read
    from a "<kind>_tool_<document>" name where it has one (so it splits by document)."""
    tools = []
    for pid, text in dataset.corpus.items():
        named = _KIND_AND_DOCUMENT.fullmatch(pid)
        kind, document = named.groups() if named else ("", dataset.passage_docs.get(pid))
        tools.append(Tool(pid, pid, text, document, kind))
    check_tools(tools)
    return replace(
        dataset,
        kind="router",
        passage_docs={t.id: t.document_id for t in tools if t.document_id},
        extra={**dataset.extra, "tools": tools_to_dicts(tools)},
    )


def _check_unique(values: list[str], what: str) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise RoutingError(f"{what} {value!r} is used more than once")
        seen.add(value)
