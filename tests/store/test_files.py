"""What files hold, checked at the door against a dataclass configured with FILE_SHAPE (store.shapes.parse, and
store.files' read_json and read_jsonl): every mismatch names the file, the key and what was expected; what fits
comes back as the schema's objects."""

import json
import logging
from dataclasses import dataclass, field
from typing import Annotated, Literal

import pytest

from ragtune_core.errors import RagtuneError
from ragtune_core.store.files import FileContentError, read_json, read_jsonl
from ragtune_core.store.shapes import FILE_SHAPE, NOT_STORED, Text, parse
from ragtune_core.store.workspace import load_saved_results
from tests.store.test_shapes import COMMON_MISMATCHES


@dataclass
class Part:
    __pydantic_config__ = FILE_SHAPE

    start: int
    label: str | None = None


@dataclass
class Thing:
    __pydantic_config__ = FILE_SHAPE

    name: Text
    kind: Literal["a", "b"]
    parts: list[Part] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    span: tuple[float, float] = (0.0, 1.0)
    secret: Annotated[str | None, NOT_STORED] = None
    dataset_id: str | None = None
    part: str = "val"
    created: float = 0.0


GOOD = {
    "name": "x",
    "kind": "a",
    "parts": [{"start": 1}, {"start": 2, "label": "two"}],
    "scores": {"p": 0.5},
    "span": [0.1, 0.9],
}


def test_what_fits_comes_back_as_objects():
    thing = parse(Thing, GOOD, "f.json", FileContentError)
    assert thing == Thing("x", "a", [Part(1), Part(2, "two")], {"p": 0.5}, (0.1, 0.9))
    assert Thing("x", "a", secret="sk-1").secret == "sk-1"  # kept in memory, never read from a file


@pytest.mark.parametrize(
    "change, message",
    COMMON_MISMATCHES
    + [
        ({"span": [1]}, "f.json: span: expected a list of 2, got a list of 1"),
        ({"colour": "red"}, "f.json: unknown field(s) colour (known: name, kind, parts, scores, span, dataset_id"),
        (
            {"secret": "sk-1"},
            "f.json: unknown field(s) secret (known: name, kind, parts, scores, span, dataset_id, part, created)",
        ),
    ],
)
def test_a_mismatch_names_file_key_and_expectation(change, message):
    with pytest.raises(FileContentError) as error:
        parse(Thing, {**GOOD, **change}, "f.json", FileContentError)
    assert message in str(error.value)
    assert "sk-1" not in str(error.value)


def test_a_missing_field_and_a_wrong_top_level_are_named():
    with pytest.raises(FileContentError, match="f.json: missing name, kind"):
        parse(Thing, {}, "f.json", FileContentError)
    with pytest.raises(FileContentError, match=r"f.json: expected an object with name, kind, got a list of 0"):
        parse(Thing, [], "f.json", FileContentError)


class MyError(RagtuneError):
    pass


@dataclass
class Checked:
    __pydantic_config__ = FILE_SHAPE

    size: int

    def __post_init__(self):
        if self.size < 0:
            raise MyError(f"size must not be negative, not {self.size}")


def test_the_error_type_is_the_callers_and_an_objects_own_check_is_worded_there():
    with pytest.raises(MyError, match="mine: kind"):
        parse(Thing, {**GOOD, "kind": 1}, "mine", MyError)
    with pytest.raises(MyError, match="^size must not be negative, not -1$"):
        parse(Checked, {"size": -1}, "mine", FileContentError)


def test_json_and_jsonl_files_are_checked_as_they_are_read(tmp_path):
    path = tmp_path / "thing.json"
    path.write_text(json.dumps({**GOOD, "kind": None}))
    with pytest.raises(FileContentError, match="the thing thing.json: kind: expected one of"):
        read_json(path, "the thing", Thing)
    lines = tmp_path / "box" / "parts.jsonl"
    lines.parent.mkdir()
    lines.write_text('{"start": 1}\n{"start": 2, "label": null}\n{"start": null}\n')
    with pytest.raises(FileContentError, match="box/parts.jsonl, line 3: start: expected an integer, got null"):
        read_jsonl(lines, Part)
    lines.write_text('{"start": 1}\n\n{"start": 2}\n')
    assert read_jsonl(lines, Part) == [Part(1), Part(2)]


def test_a_saved_result_that_does_not_fit_is_skipped_naming_file_and_key(tmp_path, caplog):
    (tmp_path / "good.json").write_text(json.dumps({**GOOD, "dataset_id": "d", "created": 2.0}))
    (tmp_path / "bad.json").write_text(json.dumps({**GOOD, "dataset_id": "d", "scores": {"p": None}}))
    with caplog.at_level(logging.WARNING):
        found = load_saved_results(
            tmp_path, lambda data: Thing(**data), logging.getLogger("t"), "report", dataset_id="d", schema=Thing
        )
    assert [t.created for t in found] == [2.0]
    assert 'report bad.json: scores["p"]: expected a number, got null' in caplog.text
