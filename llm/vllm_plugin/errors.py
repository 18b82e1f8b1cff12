"""User-facing errors of the vLLM serving path (subclass LLMError, so the CLI prints one line and exits 2)."""
from __future__ import annotations

from llm.errors import LLMError


class VLLMServeError(LLMError):
    """The vLLM environment cannot be created, the server does not start, or the model directory is unusable."""
