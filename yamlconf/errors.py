"""The loader's errors: one generic type (each package passes its own) and a validator's field-relative failure."""
from __future__ import annotations


class YamlConfigError(ValueError):
    """A config file that is missing, not YAML, or not valid for its schema; the message is one line with the fix."""


class FieldError(ValueError):
    """Raised by a schema's own validator: `path` is relative to the validated object, `fix` says what to write."""

    def __init__(self, path: tuple[str | int, ...] | str, problem: str, fix: str) -> None:
        self.path = tuple(path.split(".")) if isinstance(path, str) else tuple(path)
        self.problem, self.fix = problem, fix
        super().__init__(f"{'.'.join(map(str, self.path))}: {problem}; {fix}")
