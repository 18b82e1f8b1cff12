"""Typed configuration: dataclasses loaded from YAML (or dicts), validated on load, errors that name the field.

Generic on purpose: any module declares a dataclass (fields with defaults, optional `metadata={"min":..., "max":...,
"choices":...}`, optional `validate(self)` raising ValueError) and calls `load_config(Cls, path)` or
`config_from_dict(Cls, data)`. Every problem surfaces as one `ConfigError` line: "<source>: <field.path>: <what> (<fix>)".
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A malformed or missing configuration; the message names the file and the field and says how to fix it."""


def _fail(source: str, path: str, what: str) -> ConfigError:
    where = f"{source}: {path}" if path else source
    return ConfigError(f"{where}: {what}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(tp: Any, value: Any, source: str, path: str) -> Any:
    """Check/convert `value` against the annotation `tp`; nested dataclasses recurse."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, source, path)
            except ConfigError:
                continue
        raise _fail(source, path, f"expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is Literal:
        if value not in get_args(tp):
            raise _fail(source, path, f"must be one of {list(get_args(tp))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return config_from_dict(tp, value, source=source, prefix=path)
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(source, path, f"expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(source, path, f"expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _fail(source, path, f"expected a number, got {value!r}")
        v = float(value)
        if math.isnan(v):
            raise _fail(source, path, "is NaN (give a number)")
        return v
    if tp is str:
        if not isinstance(value, str):
            raise _fail(source, path, f"expected a string, got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise _fail(source, path, f"expected a list, got {value!r}")
        args = get_args(tp)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise _fail(source, path, f"expected {len(args)} items, got {len(value)}")
            return tuple(_coerce(a, v, source, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        out = [_coerce(item, v, source, f"{path}[{i}]") for i, v in enumerate(value)]
        return tuple(out) if origin is tuple else out
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(source, path, f"expected a mapping, got {value!r}")
        kt, vt = get_args(tp) or (Any, Any)
        return {_coerce(kt, k, source, f"{path}.{k}"): _coerce(vt, v, source, f"{path}.{k}") for k, v in value.items()}
    if isinstance(tp, type):
        if not isinstance(value, tp):
            raise _fail(source, path, f"expected {tp.__name__}, got {value!r}")
        return value
    return value


def _check_metadata(meta: typing.Mapping[str, Any], value: Any, source: str, path: str) -> None:
    if value is None:
        return
    if "choices" in meta and value not in meta["choices"]:
        raise _fail(source, path, f"must be one of {list(meta['choices'])}, got {value!r}")
    if "min" in meta and value < meta["min"]:
        raise _fail(source, path, f"must be >= {meta['min']}, got {value!r}")
    if "max" in meta and value > meta["max"]:
        raise _fail(source, path, f"must be <= {meta['max']}, got {value!r}")
    if "gt" in meta and not value > meta["gt"]:
        raise _fail(source, path, f"must be > {meta['gt']}, got {value!r}")


def config_from_dict(cls: type[T], data: Any, source: str = "config", prefix: str = "") -> T:
    """Build dataclass `cls` from a mapping: unknown keys, wrong types, out-of-range values raise ConfigError."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fail(source, prefix, f"expected a mapping of {cls.__name__} fields, got {type(data).__name__}")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        name = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise _fail(source, name, f"unknown field (known: {', '.join(fields)})")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        path = f"{prefix}.{name}" if prefix else name
        if name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _fail(source, path, "is required")
            continue
        value = _coerce(hints[name], data[name], source, path)
        _check_metadata(f.metadata, value, source, path)
        kwargs[name] = value
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        try:
            validate()
        except ConfigError:
            raise
        except ValueError as exc:  # validate() says "field: what"; prefix it with where the dataclass sits
            raise ConfigError(f"{source}: {prefix + '.' if prefix else ''}{exc}") from None
    return obj


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a missing file or a syntax error becomes a ConfigError naming the file (and line)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found (check the path, or omit it to use the shipped default)")
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{p}:{where}: {problem} (fix the YAML syntax)") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a UTF-8 text file (give a YAML config file)") from None
    except RecursionError:
        raise ConfigError(f"{p}: YAML nested too deeply to read (flatten the structure)") from None


def load_config(cls: type[T], path: str | Path) -> T:
    """Read a YAML file into dataclass `cls`, validated; errors name the file and the field."""
    return config_from_dict(cls, read_yaml(path), source=str(path))


def config_to_dict(obj: Any) -> Any:
    """A dataclass (tree) as plain YAML-able Python values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: config_to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [config_to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: config_to_dict(v) for k, v in obj.items()}
    return obj


def dump_config(obj: Any) -> str:
    """YAML text of a config dataclass (round-trips through load_config)."""
    return yaml.safe_dump(config_to_dict(obj), sort_keys=False)
