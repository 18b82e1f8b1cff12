"""Validate YAML data into a typed schema (pydantic v2: a BaseModel or a dataclass with pydantic annotations)."""
from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, create_model

from yamlconf.errors import YamlConfigError
from yamlconf.messages import describe
from yamlconf.source import Path_, YamlDoc, dotted, read_yaml

T = TypeVar("T")

# Unknown keys are errors; no silent coercion ("3" is not 3, 1 is not true); NaN and infinity are not numbers.
SCHEMA = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


@functools.cache
def _adapter(cls: type) -> tuple[TypeAdapter, bool]:
    """A validator for `cls`, and whether it is wrapped in a field `root` that carries SCHEMA (cls has no config)."""
    if (isinstance(cls, type) and issubclass(cls, BaseModel)) or hasattr(cls, "__pydantic_config__"):
        return TypeAdapter(cls), False
    return TypeAdapter(create_model("Root", __config__=SCHEMA, root=(cls, ...))), True


def _plain(value: Any, path: Path_, fail: typing.Callable[[Path_, str, str], Exception]) -> Any:
    """YAML data as JSON data (strict validation reads it as JSON: lists fill tuples, objects fill dataclasses)."""
    if isinstance(value, dict):
        return {str(k): _plain(v, path + (str(k),), fail) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, path + (i,), fail) for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    raise fail(path, f"holds {type(value).__name__} data", "write a number, text, a list or a mapping")


def _known(cls: Any, loc: Path_) -> list[str]:
    """Field names of the schema object at `loc` (for 'unknown field' fixes); [] when it is not a record."""
    tp = cls
    for part in loc:
        tp = _unwrap(tp)
        if dataclasses.is_dataclass(tp):
            tp = typing.get_type_hints(tp, include_extras=True).get(str(part), Any)
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            f = tp.model_fields.get(str(part))
            tp = f.annotation if f is not None else Any
        elif typing.get_origin(tp) in (dict, list, tuple):
            args = typing.get_args(tp)
            tp = args[-1] if args and args[-1] is not Ellipsis else (args[0] if args else Any)
        else:
            return []
    tp = _unwrap(tp)
    if dataclasses.is_dataclass(tp):
        return [f.name for f in dataclasses.fields(tp) if f.init]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return list(tp.model_fields)
    return []


def _unwrap(tp: Any) -> Any:
    """Annotated[X, ...] -> X; X | None -> X."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _data_path(data: Any, loc: tuple, keep_last: bool) -> Path_:
    """The error's location as a path through the data: pydantic's union/function tags are dropped."""
    out: list[str | int] = []
    cur = data
    for i, part in enumerate(loc):
        in_map = isinstance(cur, dict) and isinstance(part, str) and part in cur
        in_list = isinstance(cur, list) and isinstance(part, int) and 0 <= part < len(cur)
        if in_map or in_list:
            cur = cur[part]
        elif not (keep_last and i == len(loc) - 1):
            continue
        out.append(part)
    return tuple(out)


def validate(cls: type[T], data: Any, source: str, doc: YamlDoc | None = None,
             error: type[Exception] = YamlConfigError, at: Path_ = ()) -> T:
    """`data` validated into `cls`; the first problem raises `error` 'file:line: field.path: problem; fix'.
    `at` is where `data` sits in `doc` (for its lines and field paths); validators see {"source": source} as context."""

    def fail(path: Path_, problem: str, fix: str) -> Exception:
        full = tuple(at) + tuple(path)
        where = f"{source}:{doc.line(full)}" if doc is not None else source
        return error(f"{where}: {dotted(full)}: {problem}; {fix}")

    plain = _plain({} if data is None else data, (), fail)
    try:
        text = json.dumps(plain)
    except RecursionError:
        raise error(f"{source}: nested too deeply to read; flatten the structure") from None
    adapter, wrapped = _adapter(cls)
    context = {"source": source}
    try:
        if wrapped:
            return adapter.validate_json(f'{{"root": {text}}}', context=context).root
        return adapter.validate_json(text, context=context)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])[1:] if wrapped else tuple(err["loc"])
        path = _data_path(plain, loc, keep_last=err["type"] in ("missing",))
        extra, problem, fix = describe(err, _known(cls, loc[:-1]) if loc else [])
        raise fail(path + tuple(extra), problem, fix) from None


def check(obj: T, source: str, error: type[Exception] = YamlConfigError) -> T:
    """A config built in code (a dataclass or model instance) validated as if it had been read from a file."""
    data = obj.model_dump() if isinstance(obj, BaseModel) else dataclasses.asdict(obj)  # type: ignore[call-overload]
    return validate(type(obj), data, source, None, error)


def load(cls: type[T], path: str | Path, what: str = "config", error: type[Exception] = YamlConfigError,
         relative: tuple[str, ...] = ()) -> T:
    """Read the YAML file at `path` and validate it into `cls` (an empty file gives all defaults); the top-level
    `relative` keys hold paths written relative to the file, resolved here against its folder."""
    doc = read_yaml(path, what, error)
    data = doc.data
    if relative and isinstance(data, dict):
        folder = Path(path).parent
        data = {k: str((folder / v).resolve()) if k in relative and isinstance(v, str) and not Path(v).is_absolute()
                else v for k, v in data.items()}
    return validate(cls, data, doc.source, doc, error)


def overlay(defaults: Any, data: Any, whole: tuple[str, ...] = ()) -> Any:
    """`data` laid over `defaults` key by key, the one rule for every config layer (a schema's default values, a
    file, command-line overrides): keys left out, and mappings given as null, keep their default; mappings recurse
    except the keys in `whole`, which a given mapping replaces outright (e.g. a preference table)."""
    if isinstance(defaults, dict) and data is None:
        return defaults
    if isinstance(defaults, dict) and isinstance(data, dict):
        return {**defaults, **{k: v if k in whole and v is not None else overlay(defaults.get(k), v, whole)
                               for k, v in data.items()}}
    return data


def read_mapping(path: str | Path, what: str = "config", error: type[Exception] = YamlConfigError) -> dict[str, Any]:
    """The top-level mapping of a YAML file (an empty file gives {}), for files that are not one schema."""
    doc = read_yaml(path, what, error)
    if doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        raise error(f"{doc.source}:1: <root>: must be a mapping of {what} fields (got "
                    f"{type(doc.data).__name__}); write key: value pairs")
    return doc.data
