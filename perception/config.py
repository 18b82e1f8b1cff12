"""Perception settings from YAML: filter, feature and event-detector dataclasses, validated with the field named.

Example (every key optional; omitted keys keep their documented defaults):

    filter:   {landmarks: {min_cutoff: 0.1, beta: 40.0, d_cutoff: 1.0}, visibility_alpha: 0.1, reset_gap_s: 0.5}
    features: {min_visibility: 0.5, head_source: image}
    events:   {nod: {min_amplitude: 0.05}, shake: {min_swings: 3}, gesture: {on_speed: 1.0, off_speed: 0.4}}
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perception.errors import PerceptionError
from perception.events import EventParams, GestureParams, OscillationParams
from perception.features import FeatureConfig
from perception.filter import FilterConfig, OneEuroParams


@dataclass(frozen=True)
class PerceptionConfig:
    """All tunable perception settings."""

    filter: FilterConfig = field(default_factory=FilterConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    events: EventParams = field(default_factory=EventParams)


_NESTED: dict[tuple[type, str], type] = {
    (PerceptionConfig, "filter"): FilterConfig,
    (PerceptionConfig, "features"): FeatureConfig,
    (PerceptionConfig, "events"): EventParams,
    (FilterConfig, "landmarks"): OneEuroParams,
    (FilterConfig, "world"): OneEuroParams,
    (EventParams, "nod"): OscillationParams,
    (EventParams, "shake"): OscillationParams,
    (EventParams, "gesture"): GestureParams,
}


def _build(cls: type, data: Any, default: Any, where: str, source: str) -> Any:
    """Overlay `data` (a mapping) on the `default` instance of dataclass `cls`, checking names and types."""
    if data is None:
        return default
    if not isinstance(data, dict):
        raise PerceptionError(f"{source}: field {where or 'top level'}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            raise PerceptionError(f"{source}: unknown field {path}; known: {', '.join(fields)}")
        current = getattr(default, key)
        sub = _NESTED.get((cls, key))
        if sub is not None:
            values[key] = _build(sub, value, current, path, source)
        elif isinstance(current, (bool, str)):
            if type(value) is not type(current):
                raise PerceptionError(f"{source}: field {path}: expected {type(current).__name__}, got {value!r}")
            values[key] = value
        elif isinstance(current, (int, float)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise PerceptionError(f"{source}: field {path}: expected a number, got {value!r}")
            if isinstance(current, int) and not isinstance(value, int):
                raise PerceptionError(f"{source}: field {path}: expected an integer, got {value!r}")
            values[key] = type(current)(value)
        else:
            values[key] = value
    try:
        return dataclasses.replace(default, **values)
    except ValueError as exc:  # the dataclass's own validation, which names its field
        raise PerceptionError(f"{source}: field {where or 'top level'}: {exc}") from None


def config_from_dict(data: Any, source: str = "perception config") -> PerceptionConfig:
    """A validated PerceptionConfig from parsed YAML/JSON data."""
    return _build(PerceptionConfig, data, PerceptionConfig(), "", source)


def load_config(path: str | Path) -> PerceptionConfig:
    """Read and validate a perception YAML file; PerceptionError names the file and the bad field."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PerceptionError(f"{path}: config file not found; check --config") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PerceptionError(f"{path}: cannot read config ({exc}); pass a UTF-8 YAML file") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise PerceptionError(f"{path}: not valid YAML{where}; fix the syntax") from None
    except RecursionError:
        raise PerceptionError(f"{path}: YAML nested too deeply to read; flatten the structure") from None
    return config_from_dict(data or {}, str(path))
