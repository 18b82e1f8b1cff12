"""Locating one named file of a checkpoint directory (config.json, tokenizer.json): one check, one error wording."""
from __future__ import annotations

from pathlib import Path


def checkpoint_file(path: str | Path, name: str, error: type[Exception], fix: str) -> Path:
    """`path` itself, or `path/name` when it is a directory; a missing file raises `error` naming it and `fix`."""
    p = Path(path)
    if p.is_dir():
        p = p / name
    if not p.is_file():
        raise error(f"{p}: {name} not found; {fix}")
    return p
