"""One typed YAML config loader for every package (docs/architecture.md §2): YAML with key lines, pydantic validation,
one-line errors `file:line: field.path: problem; fix`. Imports no project package, so any layer may use it."""
from __future__ import annotations

from yamlconf.errors import FieldError, YamlConfigError
from yamlconf.load import SCHEMA, check, load, overlay, read_mapping, validate
from yamlconf.schema import Loadable
from yamlconf.source import YamlDoc, dotted, parse_yaml, read_text, read_yaml

__all__ = ["SCHEMA", "FieldError", "Loadable", "YamlConfigError", "YamlDoc", "check", "dotted", "load",
           "overlay", "parse_yaml", "read_mapping", "read_text", "read_yaml", "validate"]
