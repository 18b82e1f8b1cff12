"""User-facing error of the kernel package: a tensor argument the kernels cannot take (shape, dtype, device)."""
from __future__ import annotations

from llm.errors import LLMError


class KernelInputError(LLMError):
    """A kernel was called with tensors of the wrong shape, dtype, layout or device; the message names the argument."""
