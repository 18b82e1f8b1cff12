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

import yamlconf
from perception.errors import PerceptionError
from perception.events import EventParams
from perception.features import FeatureConfig
from perception.filter import FilterConfig


@dataclass(frozen=True)
class PerceptionConfig:
    """All tunable perception settings."""

    __pydantic_config__ = yamlconf.SCHEMA

    filter: FilterConfig = field(default_factory=FilterConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    events: EventParams = field(default_factory=EventParams)


def _validated(data: Any, source: str, doc: yamlconf.YamlDoc | None) -> PerceptionConfig:
    """`data` laid over the defaults (a partial `nod:` keeps the other nod thresholds), then validated."""
    merged = yamlconf.overlay(dataclasses.asdict(PerceptionConfig()), data)
    return yamlconf.validate(PerceptionConfig, merged, source, doc, PerceptionError)


def config_from_dict(data: Any, source: str = "perception config") -> PerceptionConfig:
    """A validated PerceptionConfig from parsed YAML/JSON data."""
    return _validated(data, source, None)


def load_config(path: str | Path) -> PerceptionConfig:
    """Read and validate a perception YAML file; PerceptionError names the file, the line and the bad field."""
    doc = yamlconf.read_yaml(path, "perception config", PerceptionError)
    return _validated(doc.data, doc.source, doc)
