"""Words for pydantic's error types: what is wrong with the value, and what to write instead."""
from __future__ import annotations

from typing import Any

from yamlconf.errors import FieldError

_MAPPING = {"dataclass_type", "model_type", "dict_type", "model_attributes_type", "dataclass_exact_type"}
_LIST = {"list_type", "tuple_type", "iterable_type", "set_type", "frozen_set_type"}
_BOUNDS = {"greater_than": ("gt", ">"), "greater_than_equal": ("ge", ">="), "less_than": ("lt", "<"),
           "less_than_equal": ("le", "<=")}
_KINDS = {  # error type -> (what the value must be, what to write)
    "int_type": ("must be a whole number", "write an integer such as 3"),
    "int_parsing": ("must be a whole number", "write an integer such as 3"),
    "int_from_float": ("must be a whole number", "write an integer such as 3"),
    "float_type": ("must be a number", "write a number such as 1.5"),
    "float_parsing": ("must be a number", "write a number such as 1.5"),
    "finite_number": ("must be a finite number", "write a number such as 1.5"),
    "bool_type": ("must be true or false", "write true or false"),
    "bool_parsing": ("must be true or false", "write true or false"),
    "string_type": ("must be text", "write text (quote it if YAML reads it as a number or date)"),
}


def shown(value: Any, limit: int = 40) -> str:
    """A short one-line rendering of a bad value for the message."""
    if isinstance(value, dict):
        return "a mapping"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe(err: dict[str, Any], known: list[str]) -> tuple[tuple[str | int, ...], str, str]:
    """(extra path below the error's location, problem, fix) for one pydantic error; `known` lists valid field names."""
    kind, ctx, got = err["type"], err.get("ctx") or {}, shown(err.get("input"))
    if kind == "missing":
        if err["loc"] and isinstance(err["loc"][-1], int):
            return (), "is missing (the list is too short)", "add the missing items"
        return (), "is required", "add it"
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return (), "is not a known field", f"use one of {', '.join(known)}" if known else "remove it"
    if kind in _KINDS:
        what, fix = _KINDS[kind]
        return (), f"{what} (got {got})", fix
    if kind == "literal_error":
        return (), f"must be one of {ctx.get('expected')} (got {got})", "use one of those"
    if kind in _BOUNDS:
        key, op = _BOUNDS[kind]
        bound = f"{ctx.get(key):g}" if isinstance(ctx.get(key), float) else ctx.get(key)
        return (), f"must be {op} {bound} (got {got})", f"set a number {op} {bound}"
    if kind == "string_pattern_mismatch":
        return (), f"must match {ctx.get('pattern')} (got {got})", "fix the text"
    if kind in _MAPPING:
        return (), f"must be a mapping (got {type(err.get('input')).__name__})", "write key: value pairs"
    if kind in _LIST:
        return (), f"must be a list (got {got})", "write a list such as [1, 2]"
    if kind in ("too_short", "too_long"):
        n = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        rel = "at least" if kind == "too_short" else "at most"
        items = "item" if n == 1 else "items"
        return (), f"must have {rel} {n} {items} (got {ctx.get('actual_length')})", f"give {rel} {n} {items}"
    exc = ctx.get("error")
    if isinstance(exc, FieldError):
        return exc.path, exc.problem, exc.fix
    if isinstance(exc, Exception):
        return (), str(exc).splitlines()[0] if str(exc) else type(exc).__name__, "fix that value"
    return (), f"{err.get('msg', 'is not valid')} (got {got})", "fix that value"
