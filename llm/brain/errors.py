"""The brain's user-facing error: bad corpus/tokenizer/train config, missing checkpoint, unreachable server.

Caught by the CLI (`cli.user_error_types`) and printed on one line with exit code 2.
"""
from __future__ import annotations

try:  # subclass the llm package's error when llm-core defines one, so one `except LLMError` catches both
    from llm.errors import LLMError as _Base  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the other module being present
    _Base = ValueError  # type: ignore[misc,assignment]


class BrainError(_Base):  # type: ignore[misc,valid-type]
    """A one-line message naming the file/field/server and the fix."""


class BrainTimeout(BrainError):
    """The language-model server did not answer in time (or went away mid-reply)."""
