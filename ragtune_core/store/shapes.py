"""The schemas of what files hold and settings take, and their problems in words a user can act on.

Every stored or exchanged shape is a pydantic model (or dataclass) configured with `FILE_SHAPE`:
strict types (no "3" for 3) and no unknown keys (a typo would be silently ignored). A value that
does not fit is one `ValidationError`, which `schema_problem` words as the key (a path such as
`queries["q3"]` or `tools[2].name`) and what was expected: "queries["q3"]: expected a non-empty
string, got null". Checks beyond the type (`expect`) and the fields' limits (`Field(ge=..., le=...)`)
are worded the same way.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Union

import pydantic
from pydantic_core import PydanticCustomError

from ..errors import RagtuneError

# The pydantic config of a shape a file holds. Set as a model's `model_config`, or a dataclass's
# `__pydantic_config__`.
FILE_SHAPE = pydantic.ConfigDict(strict=True, extra="forbid")
# What pydantic's error types expect, in words.
_EXPECTED = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "int_parsing": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "an object",
    "dataclass_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "a list",
    "tuple_type": "a list",
}
_BOUNDS = {
    "greater_than_equal": "at least {ge}",
    "greater_than": "more than {gt}",
    "less_than_equal": "at most {le}",
    "less_than": "less than {lt}",
}
_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")
_MISSING = ("missing", "missing_argument")  # a key, a dataclass's argument


def expect(holds: Callable[[Any], bool], expected: str) -> pydantic.AfterValidator:
    """A check beyond the type, for `Annotated[type, expect(...)]`: a value for which `holds` is false is
    refused as not `expected` ("a non-empty string")."""

    def check(value):
        if not holds(value):
            raise PydanticCustomError("expected", "expected {expected}", {"expected": expected})
        return value

    return pydantic.AfterValidator(check)


Text = Annotated[str, expect(lambda text: bool(text.strip()), "a non-empty string")]


def _never_stored(value):
    raise PydanticCustomError("extra_forbidden", "Extra inputs are not permitted")


# A dataclass field kept in memory only (an API key, a folder), for `Annotated[type, NOT_STORED]`: the object
# takes it when made, a file holding it is refused as holding an unknown field.
NOT_STORED = pydantic.BeforeValidator(_never_stored)


def parse(shape: Any, data: Any, where: str | None, error: type[Exception]) -> Any:
    """`data` as `shape` (a model, a dataclass configured with FILE_SHAPE, `list[...]`..., or a TypeAdapter):
    JSON text or bytes, or what JSON parses to (read as JSON too, so a strict dataclass takes an object and a
    stored enum its value). Else `error("<where>: <problem>")`; a user error raised while making an object
    (its `__post_init__`) is raised as it is, worded there."""
    adapter = shape if isinstance(shape, pydantic.TypeAdapter) else _adapter(shape)
    try:
        return adapter.validate_json(data if isinstance(data, (str, bytes)) else json.dumps(data))
    except pydantic.ValidationError as exc:
        refused = exc.errors()[0].get("ctx", {}).get("error")
        if isinstance(refused, RagtuneError):
            raise refused from None
        problem = schema_problem(exc, getattr(adapter, "_type", shape))
        raise error(f"{where}: {problem}" if where else problem) from None


@functools.cache
def _adapter(shape: Any) -> pydantic.TypeAdapter:
    return pydantic.TypeAdapter(shape)


def schema_problem(exc: pydantic.ValidationError, shape: Any = None) -> str:
    """The first problem a schema found, in words: "<key>: expected ..., got ...", "<key>: missing a, b"
    or "<key>: unknown field(s) c (known: ...)". `shape` (the schema validated against) lets the key
    quote dict keys (`scores["p"]`) and the expectation name an object's fields and say "or null"."""
    errors = exc.errors(include_url=False)
    # an object's keys before its values (as a reader checks them), unknown keys before missing ones
    key_problems = sorted(
        (e for e in errors if e["type"] in _MISSING + _UNKNOWN), key=lambda e: (len(e["loc"]), e["type"] in _MISSING)
    )
    problem = key_problems[0] if key_problems else errors[0]
    kind, loc = problem["type"], problem["loc"]
    if kind in _MISSING + _UNKNOWN:
        group = _MISSING if kind in _MISSING else _UNKNOWN
        siblings = [str(e["loc"][-1]) for e in errors if e["loc"][:-1] == loc[:-1] and e["type"] in group]
        key, parent = _key_and_shape(loc[:-1], shape)
        if kind in _MISSING and isinstance(loc[-1], int):  # a fixed-length list (a tuple) too short
            said = f"expected a list of {len(typing.get_args(_bare(parent)))}, got {_shown(problem['input'])}"
        else:
            said = f"missing {', '.join(siblings)}" if kind in _MISSING else _unknown(siblings, parent)
        return f"{key}: {said}" if key else said
    key, leaf = _key_and_shape(loc, shape)
    expected = _expected(problem, leaf)
    said = f"expected {expected}, got {_shown(problem['input'])}" if expected else problem["msg"]
    return f"{key}: {said}" if key else said


def _unknown(names: list[str], shape: Any) -> str:
    fields = stored_fields(_bare(shape))
    known = f" (known: {', '.join(fields)})" if fields else ""
    return f"unknown field(s) {', '.join(names)}{known}"


def _expected(problem: dict, leaf: Any) -> str | None:
    """What the value should have been, in words; None for a problem of another kind (its own message says)."""
    kind, ctx = problem["type"], problem.get("ctx") or {}
    if kind == "expected":
        return ctx["expected"]
    if kind in ("enum", "literal_error"):
        return _one_of(ctx["expected"])
    if kind in _BOUNDS:
        return _BOUNDS[kind].format(**ctx)
    words = _described(_bare(leaf)) if kind in ("model_type", "dataclass_type") and leaf is not None else None
    words = words or _EXPECTED.get(kind)
    return f"{words} or null" if words and _nullable(leaf) else words


def _one_of(pydantic_expected: str) -> str:
    """pydantic's "'a', 'b' or 'c'" in our words: 'one of "a", "b", "c"'."""
    values = pydantic_expected.replace(" or ", ", ").split(", ")
    return "one of " + ", ".join(f'"{value.strip(chr(39))}"' for value in values)


def _key_and_shape(loc: tuple, shape: Any) -> tuple[str, Any]:
    """The key of `loc` as a path (`tools[2].name`, `queries["q3"]`), and the shape found there (None
    where unknown)."""
    key = ""
    for part in loc:
        bare = _bare(shape)
        origin, args = typing.get_origin(bare), typing.get_args(bare)
        if isinstance(part, int):
            key, shape = f"{key}[{part}]", args[0] if origin in (list, tuple) and args else None
        elif origin is dict:
            key, shape = f"{key}[{json.dumps(part, ensure_ascii=False)}]", args[1] if args else None
        else:
            key, shape = f"{key}.{part}", stored_fields(bare).get(part)
    return key.lstrip("."), shape


def _bare(shape: Any) -> Any:
    """`shape` without its Annotated checks and without `| None`."""
    if typing.get_origin(shape) is Annotated:
        return _bare(typing.get_args(shape)[0])
    if typing.get_origin(shape) in (Union, types.UnionType):
        options = [a for a in typing.get_args(shape) if a is not type(None)]
        return _bare(options[0]) if len(options) == 1 else None
    return shape


def _nullable(shape: Any) -> bool:
    if typing.get_origin(shape) is Annotated:
        return _nullable(typing.get_args(shape)[0])
    return typing.get_origin(shape) in (Union, types.UnionType) and type(None) in typing.get_args(shape)


def stored_fields(shape: Any) -> dict[str, Any]:
    """{field: type} of what a file may hold for a model or dataclass (not its NOT_STORED fields); empty for
    anything else."""
    if isinstance(shape, type) and issubclass(shape, pydantic.BaseModel):
        return {name: info.annotation for name, info in shape.model_fields.items()}
    if dataclasses.is_dataclass(shape):
        hints = typing.get_type_hints(shape, include_extras=True)
        return {
            f.name: hints[f.name] for f in dataclasses.fields(shape) if f.init and not _in_memory_only(hints[f.name])
        }
    return {}


def _in_memory_only(hint: Any) -> bool:
    return typing.get_origin(hint) is Annotated and NOT_STORED in typing.get_args(hint)[1:]


def _described(shape: Any) -> str | None:
    """An object shape in words: "an object with its required fields"."""
    if isinstance(shape, type) and issubclass(shape, pydantic.BaseModel):
        required = [name for name, info in shape.model_fields.items() if info.is_required()]
    elif dataclasses.is_dataclass(shape):
        required = [
            f.name
            for f in dataclasses.fields(shape)
            if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
    else:
        return None
    return f"an object with {', '.join(required)}" if required else "an object"


def _shown(value: Any) -> str:
    """A value as a message quotes it: short, its JSON type clear."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)}"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except TypeError:
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


# --- settings: typed by people, limits and help in the schema ------------------------------------------
# The pydantic config of settings: strict types, no unknown names, no NaN or infinity.
SETTINGS_SHAPE = pydantic.ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


def limit(help: str, low: float | None = None, high: float | None = None, none_means: str | None = None):
    """A setting's limits (inclusive) and help, for `Annotated[type, limit(...)]`: the schema checks them,
    and the CLI's options and the pages' inputs read them (`limits_of`). `none_means` says what None does
    for a setting that may be None."""
    extra = {"none_means": none_means} if none_means else None
    return pydantic.Field(ge=low, le=high, description=help, json_schema_extra=extra)


@dataclasses.dataclass(frozen=True)
class Limits:
    """A setting's limits, help and type, as its schema declares them."""

    low: float | None
    high: float | None
    help: str
    whole: bool  # an int setting
    none_means: str | None

    @property
    def range(self) -> str:
        """ "from 2 to 4096", "at least 0", or "" without limits."""
        if self.low is not None and self.high is not None:
            return f"from {show(self.low)} to {show(self.high)}"
        if self.low is not None:
            return f"at least {show(self.low)}"
        return f"at most {show(self.high)}" if self.high is not None else ""


def limits_of(settings_class: type, name: str) -> Limits:
    """The limits and help of setting `name` of a settings class (made with `settings`)."""
    info = settings_class.__pydantic_fields__[name]
    bounds = {key: getattr(rule, key) for rule in info.metadata for key in ("ge", "le") if hasattr(rule, key)}
    extra = info.json_schema_extra or {}
    return Limits(
        bounds.get("ge"),
        bounds.get("le"),
        info.description or "",
        _bare(info.annotation) is int,
        extra.get("none_means"),
    )


def show(number: float) -> str:
    """A limit as people write it: 4096, 1e-08, 0.5."""
    return f"{number}" if isinstance(number, int) else f"{number:g}"


def settings(error: type[Exception], frozen: bool = True):
    """Make a class of settings a pydantic dataclass, checked when made (an invalid one cannot exist): a
    value that does not fit is `error` naming the setting, the value and what is allowed; one that its
    `__post_init__` refuses is its own error. Its `SETTINGS_NAME` names it when a setting is unknown."""

    def make(cls):
        cls = pydantic.dataclasses.dataclass(frozen=frozen, config=SETTINGS_SHAPE)(cls)
        validate = cls.__init__

        @functools.wraps(validate)
        def __init__(self, *args, **kwargs):
            try:
                validate(self, *args, **kwargs)
            except pydantic.ValidationError as exc:
                refused = exc.errors()[0].get("ctx", {}).get("error")
                if isinstance(refused, error):  # raised by __post_init__, worded there
                    raise refused from None
                raise error(setting_problem(exc, type(self))) from None

        cls.__init__ = __init__
        return cls

    return make


def setting_problem(exc: pydantic.ValidationError, settings_class: type) -> str:
    """A settings class's first problem in words: "batch_size must be a whole number from 2 to 4096, not 1"."""
    problem = exc.errors(include_url=False)[0]
    name = problem["loc"][0] if problem["loc"] else None
    if name not in settings_class.__pydantic_fields__ or problem["type"] in _MISSING:
        return f"{getattr(settings_class, 'SETTINGS_NAME', 'settings')}: {schema_problem(exc, settings_class)}"
    limits = limits_of(settings_class, name)
    if limits.range:
        expected = f"{'a whole number' if limits.whole else 'a number'} {limits.range}"
    else:
        expected = _expected(problem, stored_fields(settings_class)[name]) or problem["msg"]
    return f"{name} must be {expected}, not {problem['input']!r}"
