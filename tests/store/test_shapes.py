"""The schemas' problems in words (store.shapes.schema_problem): every mismatch names the key, dict keys
quoted, and what was expected."""

from typing import Annotated, Literal

import pydantic
import pytest

from ragtune_core.store.files import FileContentError
from ragtune_core.store.shapes import FILE_SHAPE, Text, expect, parse


class Part(pydantic.BaseModel):
    model_config = FILE_SHAPE
    start: int
    label: str | None = None


class Thing(pydantic.BaseModel):
    model_config = FILE_SHAPE
    name: Text
    kind: Literal["a", "b"]
    parts: list[Part] = []
    scores: dict[str, float] = {}
    size: Annotated[int, pydantic.Field(ge=1, le=9)] = 1
    tags: Annotated[list[str], expect(bool, "at least one tag")] = ["t"]


GOOD = {"name": "x", "kind": "a", "parts": [{"start": 1}, {"start": 2, "label": "two"}], "scores": {"p": 0.5}}


def test_what_fits_comes_back_as_the_model():
    thing = parse(Thing, GOOD, "f.json", FileContentError)
    assert thing.parts == [Part(start=1), Part(start=2, label="two")] and thing.scores == {"p": 0.5}


# What every stored shape says of these mismatches, a pydantic model or a dataclass (tests/store/test_files.py).
COMMON_MISMATCHES = [
    ({"name": None}, "f.json: name: expected a string, got null"),
    ({"name": " "}, 'f.json: name: expected a non-empty string, got " "'),
    ({"kind": "c"}, 'f.json: kind: expected one of "a", "b", got "c"'),
    ({"parts": "p"}, 'f.json: parts: expected a list, got "p"'),
    ({"parts": [{"start": 1}, {"start": "2"}]}, 'f.json: parts[1].start: expected an integer, got "2"'),
    ({"parts": [{"start": True}]}, "f.json: parts[0].start: expected an integer, got true"),
    ({"parts": [{"start": 1, "label": 3}]}, "f.json: parts[0].label: expected a string or null, got 3"),
    ({"parts": [7]}, "f.json: parts[0]: expected an object with start, got 7"),
    ({"scores": {"p": "high"}}, 'f.json: scores["p"]: expected a number, got "high"'),
]


@pytest.mark.parametrize(
    "change, message",
    COMMON_MISMATCHES
    + [
        ({"parts": [{}]}, "f.json: parts[0]: missing start"),
        ({"size": 0}, "f.json: size: expected at least 1, got 0"),
        ({"size": 10}, "f.json: size: expected at most 9, got 10"),
        ({"tags": []}, "f.json: tags: expected at least one tag, got a list of 0"),
        ({"colour": "red", "shade": 1}, "f.json: unknown field(s) colour, shade (known: name, kind, parts, scores"),
    ],
)
def test_a_mismatch_names_file_key_and_expectation(change, message):
    with pytest.raises(FileContentError) as error:
        parse(Thing, {**GOOD, **change}, "f.json", FileContentError)
    assert message in str(error.value)


def test_a_missing_field_and_a_wrong_top_level_are_named():
    with pytest.raises(FileContentError, match="f.json: missing name, kind"):
        parse(Thing, {}, "f.json", FileContentError)
    with pytest.raises(FileContentError, match=r"f.json: expected an object with name, kind, got a list of 0"):
        parse(Thing, [], "f.json", FileContentError)
