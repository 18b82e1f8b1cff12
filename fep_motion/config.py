"""Typed configuration for fep_motion: any schema (a dataclass with pydantic annotations, or a pydantic model) loaded
from YAML or a dict through yamlconf; every problem is one `ConfigError` line
"<file>:<line>: <field.path>: <what>; <fix>".
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import yaml

import yamlconf

T = TypeVar("T")


class ConfigError(ValueError):
    """A malformed or missing configuration; the message names the file and the field and says how to fix it."""


def config_from_dict(cls: type[T], data: Any, source: str = "config") -> T:
    """Build schema `cls` from a mapping: unknown keys, wrong types, out-of-range values raise ConfigError."""
    return yamlconf.validate(cls, data, source, error=ConfigError)


def load_config(cls: type[T], path: str | Path) -> T:
    """Read a YAML file into schema `cls`, validated; errors name the file, the line and the field."""
    return yamlconf.load(cls, path, "config", ConfigError)


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
