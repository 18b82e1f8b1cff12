"""YAML with the line of every key for experiments' files: yamlconf's reader raising ExperimentError."""
from __future__ import annotations

from pathlib import Path

import yamlconf
from experiments.errors import ExperimentError
from yamlconf import YamlDoc, dotted
from yamlconf.source import Path_

__all__ = ["Path_", "YamlDoc", "dotted", "load_yaml", "parse_yaml"]


def _non_empty(doc: YamlDoc) -> YamlDoc:
    if doc.data is None:
        raise ExperimentError(f"{doc.source}:1: file is empty: write a YAML mapping")
    return doc


def load_yaml(path: str | Path, what: str = "file") -> YamlDoc:
    """Parse a YAML file; a missing, empty or malformed file raises one-line ExperimentError naming file and line."""
    return _non_empty(yamlconf.read_yaml(path, what, ExperimentError))


def parse_yaml(text: str, source: str) -> YamlDoc:
    """Parse YAML text (source names it in errors)."""
    return _non_empty(yamlconf.parse_yaml(text, source, ExperimentError))
