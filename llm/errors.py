"""User-facing errors of the llm package (caught by the CLI: one line, exit code 2)."""
from __future__ import annotations


class LLMError(Exception):
    """Bad input to the llm package: a malformed config, a missing or corrupt checkpoint, a wrong tensor."""


class LLMConfigError(LLMError):
    """A model config key is missing, of the wrong type, or inconsistent with another key."""


class CheckpointError(LLMError):
    """A checkpoint directory is missing files, or a tensor in it has the wrong name, shape or dtype."""
