"""Chat fine-tuning data from a router dataset: one line per query, the right tool as a function call.

Each line is what OpenAI-shaped fine-tuning and TRL's SFTTrainer read (`messages` + `tools`):

    {"messages": [{"role": "system", ...}, {"role": "user", "content": query},
                  {"role": "assistant", "tool_calls": [{"type": "function", "id": "call_0",
                   "function": {"name": tool, "arguments": "{}"}}]}],
     "tools": [<the dataset's tools as functions>], "parallel_tool_calls": false}

Labels come from the dataset (its right tool) or from a teacher LLM's function calls, kept only where
the teacher agrees with the dataset; the disagreements are listed. The split is the dataset's (made
by document when it has none), so validation lines are about documents never trained on; a training
line whose query names its document also gets copies with invented names (`renamed_lines`), so a model
learns to read the names rather than the training documents' tools.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pydantic

from ...errors import RagtuneError
from ...llm.config import LLMConfig
from ...questions.qa_dataset import TEST, TRAIN, VAL, QADataset, split_dataset
from ...routing.compare import router_task
from ...routing.llm_selector import LLMSelector
from ...routing.selectors import Choice
from ...routing.tool_calls import SYSTEM_PROMPT, function_tools, tools_hash
from ...store.files import own_files, read_json, write_json, write_jsonl
from ...store.shapes import schema_problem
from ...store.staging import publish_folder, staged
from ...store.workspace import Workspace
from ..name_swap import NameSwapper, rename_identifier
from .chat_line import ChatLine

DATASET_LABELS, TEACHER_LABELS = "dataset", "teacher"
LABEL_SOURCES = (DATASET_LABELS, TEACHER_LABELS)
# What a line can get wrong, as the pre-flight check counts it.
SCHEMA, UNKNOWN_TOOL, MISSING_TOOL_CALL = "schema", "unknown tool", "missing tool_call"
DATA_FOLDER = "llm_data"
# Renamed copies per training line that names its document: without them a model learns the training documents'
# tools as facts (docs/decisions.md, "LLM chat data name swaps").
NAME_SWAPS = 1
_DATA_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


class ChatDataError(RagtuneError):
    """Chat data that cannot be built, read or trained on; the message names the line or setting."""


def chat_example(query: str, tool_name: str, tools: list[dict], system_prompt: str = SYSTEM_PROMPT) -> dict:
    """One training line: the query answered by a call of `tool_name` without arguments."""
    call = {"type": "function", "id": "call_0", "function": {"name": tool_name, "arguments": "{}"}}
    messages = [
        {"role": "system", "content": system_prompt},
        {"role": "user", "content": query},
        {"role": "assistant", "tool_calls": [call]},
    ]
    return {"messages": messages, "tools": tools, "parallel_tool_calls": False}


def called_tool(example: dict) -> str:
    """The name of the tool a (checked) line's assistant calls."""
    return example["messages"][-1]["tool_calls"][0]["function"]["name"]


@dataclass
class ChatData:
    """Chat lines split into train and val, with the tool set they share and how they were labelled."""

    train: list[dict]
    val: list[dict]
    tools: list[dict]
    labels: str = DATASET_LABELS
    dataset_id: str | None = None
    disagreements: list[dict] = field(default_factory=list)  # {query, label, teacher}: teacher lines dropped
    teacher: str | None = None  # the teacher model, when labelled by one
    # Renamed copies of each training line naming its document, as built from a dataset (a round builds a
    # new version's alike); None: not recorded (imported lines, data saved before it was).
    name_swaps: int | None = None

    @property
    def tools_hash(self) -> str:
        return tools_hash(self.tools)

    @property
    def renamed(self) -> int:
        """Training lines offering a renamed variant of the tools (`renamed_lines`)."""
        return sum(1 for line in self.train if line["tools"] != self.tools)

    def summary(self) -> dict:
        return {
            "train": len(self.train),
            "renamed": self.renamed,
            "val": len(self.val),
            "tools": len(self.tools),
            "tools_hash": self.tools_hash,
            "labels": self.labels,
            "disagreements": len(self.disagreements),
        }


def build_chat_data(
    dataset: QADataset,
    labels: str = DATASET_LABELS,
    teacher: LLMConfig | None = None,
    split_by: str = "document",
    val_ratio: float = 0.2,
    seed: int = 42,
    dataset_id: str | None = None,
    name_swaps: int = NAME_SWAPS,
) -> ChatData:
    """Chat lines for every query of a router dataset, labelled by the dataset or by `teacher`.

    A teacher is asked by function calling (tool_choice="required") with the same system prompt and
    tools as the lines; a line is kept only where it calls the dataset's right tool. Each training line
    whose query names its document gets `name_swaps` copies in which every document has an invented
    name, in the query, the tools' names and descriptions, and the call (see training/name_swap.py).

    Example:
        >>> data = build_chat_data(load_dataset(ws, dataset_id))
        >>> write_jsonl(path, data.train)
    """
    if labels not in LABEL_SOURCES:
        raise ChatDataError(f"labels must be one of {', '.join(LABEL_SOURCES)}, not {labels!r}")
    if labels == TEACHER_LABELS and teacher is None:
        raise ChatDataError("teacher labels need a teacher LLM (base URL, model and key)")
    if dataset.kind != "router":
        raise ChatDataError(f"chat data is built from a router dataset, not a {dataset.kind} dataset")
    split = dataset.split or split_dataset(dataset, val_ratio, by=split_by, seed=seed)
    queries, choices, expected = router_task(dataset)
    tools = function_tools(choices)
    names = [choice.name for choice in choices]
    picks: list[int | None] = list(expected)
    data = ChatData([], [], tools, labels, dataset_id, name_swaps=name_swaps)
    if labels == TEACHER_LABELS:
        selector = LLMSelector(teacher, tool_calling=True, system_prompt=SYSTEM_PROMPT)
        selections = selector.select(queries, choices)
        picks = [s.index for s in selections]
        data.teacher = teacher.model
        data.disagreements = [
            {"query": q, "label": names[want], "teacher": names[s.index] if s.index is not None else f"— {s.error}"}
            for q, want, s in zip(queries, expected, selections, strict=True)
            if s.index != want
        ]
    swapper = NameSwapper({c.id: c.description for c in choices}, dataset.passage_docs, name_swaps, seed)
    for qid, query, want, pick in zip(dataset.queries, queries, expected, picks, strict=True):
        if pick != want:
            continue
        if split.get(qid) == TEST:  # held out from training and from choosing: for the reported figures
            continue
        if split.get(qid) == VAL:
            data.val.append(chat_example(query, names[want], tools))
        else:
            data.train += [chat_example(query, names[want], tools), *renamed_lines(swapper, query, want, choices)]
    if not data.train:
        raise ChatDataError(
            "no training line: "
            + (
                "the teacher agreed with no label of the training part"
                if data.disagreements
                else "the training part is empty"
            )
        )
    return data


def teacher_labels(data: ChatData) -> dict[str, str]:
    """{query: the tool its teacher called} of teacher-labelled data: every line (kept where the teacher
    agreed with the dataset) and every disagreement where the teacher called one of the tools; {}
    for data labelled otherwise."""
    if data.labels != TEACHER_LABELS:
        return {}
    names = {tool["function"]["name"] for tool in data.tools}
    labels = {
        next(m["content"] for m in line["messages"] if m["role"] == "user"): called_tool(line)
        for line in data.train + data.val
    }
    labels.update({d["query"]: d["teacher"] for d in data.disagreements if d.get("teacher") in names})
    return labels


def renamed_lines(swapper: NameSwapper, query: str, want: int, choices: list[Choice]) -> list[dict]:
    """The swapper's renamings of one training line: every document renamed in the query, the tools'
    names and descriptions, and the call, so the line can only be answered by reading the names."""
    lines = []
    for renamed, new_names in swapper.renamings(query, [choices[want].id], [c.id for c in choices]):
        tools = function_tools(
            [Choice(c.id, _renamed_tool(swapper, c, new_names), swapper.described(c.id, new_names)) for c in choices]
        )
        lines.append(chat_example(renamed, _renamed_tool(swapper, choices[want], new_names), tools))
    return lines


def _renamed_tool(swapper: NameSwapper, choice: Choice, new_names: dict[str, str]) -> str:
    """The tool's name with its document's name swapped for the new one (unchanged for other documents)."""
    document = swapper.document_of.get(choice.id)
    if document not in new_names:
        return choice.name
    return rename_identifier(choice.name, swapper.names[document], new_names[document])


# --- checking lines -----------------------------------------------------------------------------
def check_example(line: object, tool_names: set[str] | None = None) -> list[tuple[str, str]]:
    """What is wrong with one chat line, as (kind, message) pairs (kind: SCHEMA, UNKNOWN_TOOL or
    MISSING_TOOL_CALL); [] for a good line. `tool_names`: the tools it must call among. A line not of
    the chat line's shape (chat_line.ChatLine) is one problem naming the key."""
    try:
        chat = ChatLine.model_validate(line)
    except pydantic.ValidationError as exc:
        where = exc.errors()[0]["loc"]
        kind = MISSING_TOOL_CALL if "tool_calls" in where and "arguments" not in where else SCHEMA
        return [(kind, schema_problem(exc, ChatLine))]
    problems = []
    if not any(m.role == "user" for m in chat.messages) or not all(
        m.has_text for m in chat.messages if m.role in ("system", "user")
    ):
        problems.append((SCHEMA, "messages need a user message with text (system messages need text too)"))
    calls = chat.messages[-1].tool_calls if chat.messages and chat.messages[-1].role == "assistant" else None
    if not chat.messages or chat.messages[-1].role != "assistant":
        return problems + [(MISSING_TOOL_CALL, "the last message must be the assistant's tool call")]
    if not calls:
        return problems + [(MISSING_TOOL_CALL, "the assistant message has no tool_calls")]
    if len(calls) > 1:
        problems.append((SCHEMA, f"the assistant calls {len(calls)} tools: a route is one call"))
    known = {tool.function.name for tool in chat.tools} if tool_names is None else tool_names
    if calls[0].function.name not in known:
        problems.append((UNKNOWN_TOOL, f"calls {calls[0].function.name!r}, which is not one of the tools"))
    return problems


def parse_jsonl(text: str) -> tuple[list[dict], list[dict]]:
    """(good lines, problems) of JSONL text; each problem is {line, kind, message} (1-based line).
    Blank lines are skipped; a line with any problem is left out of the good ones."""
    examples, problems = [], []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append({"line": number, "kind": SCHEMA, "message": f"not JSON: {exc.msg}"})
            continue
        found = check_example(line)
        problems += [{"line": number, "kind": kind, "message": message} for kind, message in found]
        if not found:
            examples.append(line)
    return examples, problems


def import_jsonl(train_text: str, val_text: str = "") -> ChatData:
    """Chat data from exported (or hand-made) JSONL; ChatDataError naming the first bad lines, or a
    line offering another number of tools. The data's tool set is the one most lines offer; the
    others are its renamed variants (`renamed_lines`)."""
    parts = []
    for part, text in ((TRAIN, train_text), (VAL, val_text)):
        examples, problems = parse_jsonl(text)
        if problems:
            shown = "; ".join(f"line {p['line']}: {p['message']}" for p in problems[:3])
            raise ChatDataError(f"{len(problems)} problem(s) in the {part} lines: {shown}")
        parts.append(examples)
    if not parts[0]:
        raise ChatDataError("the training file has no lines")
    tools = common_tool_set(parts[0] + parts[1])
    for part, examples in zip((TRAIN, VAL), parts, strict=True):
        for number, example in enumerate(examples, start=1):
            if mismatch := tool_count_mismatch(example, tools):
                raise ChatDataError(f"{part} line {number} {mismatch}")
    return ChatData(parts[0], parts[1], tools, labels="imported")


def common_tool_set(lines: list[dict]) -> list[dict]:
    """The tool set most lines offer (the first of equals): the one a model trained on them learns."""
    counts = Counter(tools_hash(line["tools"]) for line in lines)
    return max(lines, key=lambda line: counts[tools_hash(line["tools"])])["tools"]


def tool_count_mismatch(line: dict, tools: list[dict]) -> str | None:
    """Why a line offering another number of tools than the common set cannot train with it (renamed
    variants of the set are fine: `renamed_lines`), or None."""
    if len(line["tools"]) == len(tools):
        return None
    return f"offers {len(line['tools'])} tools, not the {len(tools)} most lines offer: a model learns one tool set"


def to_jsonl(examples: list[dict]) -> str:
    return "".join(json.dumps(example, ensure_ascii=False) + "\n" for example in examples)


# --- in the workspace -----------------------------------------------------------------------------
def save_chat_data(ws: Workspace, name: str, data: ChatData) -> Path:
    """Write `llm_data/<name>/` (train.jsonl, val.jsonl, data.json) whole or not at all; refused
    when the name is taken."""
    folder = _data_folder(ws, name)
    if folder.exists():
        raise ChatDataError(f"chat data {name!r} already exists: pick another name")
    with staged(folder) as partial:
        write_jsonl(partial / "train.jsonl", data.train)
        write_jsonl(partial / "val.jsonl", data.val)
        meta = {key: value for key, value in asdict(data).items() if key not in ("train", "val")}
        write_json(partial / "data.json", meta)
        try:
            publish_folder(partial, folder)
        except OSError:  # another save of the same name got there first
            raise ChatDataError(f"chat data {name!r} already exists: pick another name") from None
    return folder


def _data_folder(ws: Workspace, name: str) -> Path:
    if not _DATA_NAME.fullmatch((name or "").strip()):
        raise ChatDataError(f"chat data names use letters, digits, '.', '_' and '-' only, not {name!r}")
    return ws.dir(DATA_FOLDER) / name.strip()


def load_chat_data(ws: Workspace, name: str) -> ChatData:
    folder = _data_folder(ws, name)
    if not (folder / "data.json").exists():
        known = ", ".join(list_chat_data(ws)) or "none yet"
        raise ChatDataError(f"no chat data named {name!r} (saved: {known})")
    own_files(folder, f"chat data {name!r}")  # its lines go to a provider: never a linked file's
    data = import_jsonl(
        (folder / "train.jsonl").read_text(encoding="utf-8"), (folder / "val.jsonl").read_text(encoding="utf-8")
    )
    meta = read_json(folder / "data.json", f"chat data {name!r}'s")
    if tools_hash(meta.get("tools") or []) != data.tools_hash:
        raise ChatDataError(f"chat data {name!r} is damaged: its lines offer other tools than data.json")
    return ChatData(data.train, data.val, **meta)


def list_chat_data(ws: Workspace) -> list[str]:
    root = ws.dir(DATA_FOLDER)
    return sorted(p.name for p in root.iterdir() if (p / "data.json").exists()) if root.exists() else []


def chat_data_paths(ws: Workspace, name: str) -> tuple[Path, Path]:
    folder = _data_folder(ws, name)
    return folder / "train.jsonl", folder / "val.jsonl"
