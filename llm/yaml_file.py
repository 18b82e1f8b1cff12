"""YAML files of the llm trainers that are not one schema (BrainError), and the run-directory preflight."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yamlconf
from llm.brain.errors import BrainError


def read_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file (empty file: {}); `what` names the config in errors ("train config")."""
    return yamlconf.read_mapping(path, what, BrainError)


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
