"""The one check of what files hold (store.files.conform): every mismatch names the file, the key
and what was expected; what fits comes back as the schema's objects."""

import json
import logging
from dataclasses import dataclass, field
from typing import Literal

import pytest

from ragtune_core.store.files import NOT_STORED, FileContentError, Text, conform, read_json, read_jsonl
from ragtune_core.store.workspace import load_saved_results


@dataclass
class Part:
    start: int
    label: str | None = None


@dataclass
class Thing:
    name: Text
    kind: Literal["a", "b"]
    parts: list[Part] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    span: tuple[float, float] = (0.0, 1.0)
    secret: str | None = field(default=None, metadata=NOT_STORED)
    dataset_id: str | None = None
    part: str = "val"
    created: float = 0.0


GOOD = {"name": "x", "kind": "a", "parts": [{"start": 1}, {"start": 2, "label": "two"}], "scores": {"p": 0.5},
        "span": [0.1, 0.9]}


def test_what_fits_comes_back_as_objects():
    thing = conform(GOOD, Thing)
    assert thing == Thing("x", "a", [Part(1), Part(2, "two")], {"p": 0.5}, (0.1, 0.9))


@pytest.mark.parametrize("change, message", [
    ({"name": None}, "f.json: name: expected a string, got null"),
    ({"name": " "}, 'f.json: name: expected a non-empty string, got " "'),
    ({"kind": "c"}, 'f.json: kind: expected one of "a", "b", got "c"'),
    ({"parts": "p"}, 'f.json: parts: expected a list, got "p"'),
    ({"parts": [{"start": 1}, {"start": "2"}]}, 'f.json: parts[1].start: expected an integer, got "2"'),
    ({"parts": [{"start": True}]}, "f.json: parts[0].start: expected an integer, got true"),
    ({"parts": [{"start": 1, "label": 3}]}, "f.json: parts[0].label: expected a string or null, got 3"),
    ({"parts": [7]}, "f.json: parts[0]: expected an object with start, got 7"),
    ({"scores": {"p": "high"}}, 'f.json: scores["p"]: expected a number, got "high"'),
    ({"span": [1]}, "f.json: span: expected a list, got a list of 1"),
    ({"colour": "red"}, "f.json: unknown field(s) colour"),
    ({"secret": "sk-1"}, "f.json: unknown field(s) secret"),
])
def test_a_mismatch_names_file_key_and_expectation(change, message):
    with pytest.raises(FileContentError) as error:
        conform({**GOOD, **change}, Thing, "f.json")
    assert message in str(error.value)


def test_a_missing_field_and_a_wrong_top_level_are_named():
    with pytest.raises(FileContentError, match="f.json: missing name, kind"):
        conform({}, Thing, "f.json")
    with pytest.raises(FileContentError, match=r"f.json: expected an object with name, kind, got a list of 0"):
        conform([], Thing, "f.json")


def test_the_error_type_is_the_callers(tmp_path):
    class MyError(ValueError):
        pass

    with pytest.raises(MyError, match="mine: kind"):
        conform({**GOOD, "kind": 1}, Thing, "mine", MyError)


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
        found = load_saved_results(tmp_path, lambda data: conform(data, Thing), logging.getLogger("t"), "report",
                                   dataset_id="d", schema=Thing)
    assert [t.created for t in found] == [2.0]
    assert 'report bad.json: scores["p"]: expected a number, got null' in caplog.text
