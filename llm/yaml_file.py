"""Read one YAML config file into a mapping, with one-line errors that name the file and the fix."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from llm.brain.errors import BrainError


def read_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file (empty file: {}); `what` names the config in errors ("train config")."""
    p = Path(path)
    if not p.is_file():
        raise BrainError(f"{p}: {what} not found; pass an existing YAML file")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BrainError(f"{p}: not valid YAML ({str(exc).splitlines()[0]}); fix the syntax") from None
    if not isinstance(raw, dict):
        raise BrainError(f"{p}: top level must be a mapping of {what.removesuffix(' config')} fields")
    return raw
