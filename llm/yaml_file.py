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


def check_fields(raw: dict[str, Any], allowed: set[str], where: str) -> None:
    """Reject a key that is not a field of the config (the error lists the allowed ones)."""
    extra = set(raw) - allowed
    if extra:
        raise BrainError(f"{where}: unknown field {min(extra)!r}; allowed: {', '.join(sorted(allowed))}")


def new_run_dir(out_dir: str | Path, device: str, state_file: str, resume: bool, what: str) -> Path:
    """The run directory, created; refuses cuda without a GPU and a second run over an existing state file."""
    import torch

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BrainError("--device cuda: no CUDA device here; use --device cpu (with a micro model)")
    if (out / state_file).exists() and not resume:
        raise BrainError(f"{out / state_file}: {what} already exists here; pass --resume or choose another --out")
    return out
