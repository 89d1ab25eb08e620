"""Turn pydantic validation errors into sentences a CS person can act on."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from nudgeflow.rules.problems import RuleProblem, dotted, short_repr
from nudgeflow.rules.schema import Playbook
from nudgeflow.rules.yamlsource import SourceDoc


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated / Optional wrappers down to the interesting type."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[0] if len(args) == 1 else annotation
            if len(args) != 1:
                return annotation
        else:
            return annotation


def model_at(loc: tuple[Any, ...], root: type[BaseModel] = Playbook) -> type[BaseModel] | None:
    """The model class that validates the object at `loc`, for 'did you mean' hints."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (list, tuple):
            current = typing.get_args(current)[0]
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def suggest(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _shown(value: Any) -> str:
    """Short and bounded: a value may be a huge (aliased) structure."""
    text = short_repr(value) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= 60 else text[:57] + "...'"


def _number(value: Any) -> Any:
    """0.0 -> 0 in messages; other values unchanged."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def explain(error: dict[str, Any]) -> str:
    """One pydantic error -> one plain sentence."""
    kind, loc, value = error["type"], error["loc"], error.get("input")
    name = str(loc[-1]) if loc else "value"
    if kind == "extra_forbidden":
        model = model_at(loc[:-1])
        allowed = field_names(model) if model else []
        hint = suggest(name, allowed)
        if not hint and allowed:
            hint = f"; allowed here: {', '.join(allowed)}"
        return f"unknown field '{name}'{hint}"
    if kind == "missing":
        return f"required field '{name}' is missing"
    if kind == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{_shown(value)} is not allowed here: use one of {expected.replace(' or ', ', ')}"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind in ("string_type", "str_type"):
        return f"{_shown(value)} should be text; put it in quotes"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return f"{_shown(value)} should be a whole number like 3"
    if kind in ("list_type", "tuple_type"):
        return f"{_shown(value)} should be a list (one '- item' per line)"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{_shown(value)} should be a set of 'field: value' lines"
    if kind in ("bool_type", "bool_parsing"):
        return f"{_shown(value)} should be true or false"
    if kind == "greater_than":
        return f"{_shown(value)} is too small: it must be more than {_number(error.get('ctx', {}).get('gt'))}"
    if kind == "less_than_equal":
        return f"{_shown(value)} is too large: it must be at most {_number(error.get('ctx', {}).get('le'))}"
    if kind in ("float_type", "float_parsing"):
        return f"{_shown(value)} should be a number like 0.1"
    if kind == "greater_than_equal":
        return f"{_shown(value)} is too small: it must be at least {error.get('ctx', {}).get('ge')}"
    if kind in ("too_short", "string_too_short"):
        return "must not be empty"
    return str(error.get("msg", "invalid value"))


def problems_from(exc: ValidationError, doc: SourceDoc, prefix: tuple[Any, ...] = ()) -> list[RuleProblem]:
    out = []
    for error in exc.errors():
        loc = (*prefix, *error["loc"])
        out.append(RuleProblem(doc.file, doc.line_of(loc), dotted(loc), explain(dict(error))))
    return out
