"""A mixin giving a schema class `load`, `from_dict` and `validate` through this loader, raising its package's error."""
from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Self

from yamlconf.errors import YamlConfigError
from yamlconf.load import check, load, validate


class Loadable:
    """Set `what` (names the file in errors), `error` (the package's error type) and `relative` (top-level keys holding
    paths relative to the YAML file) on the schema class."""

    what: ClassVar[str] = "config"
    error: ClassVar[type[Exception]] = YamlConfigError
    relative: ClassVar[tuple[str, ...]] = ()

    def validate(self, where: str | None = None) -> Self:
        """This config (built in code or from flags) checked like a file; the error names the field."""
        return check(self, where or self.what, self.error)

    @classmethod
    def from_dict(cls, raw: Any, where: str | None = None) -> Self:
        """A config from parsed data (no lines: `where` names it in errors)."""
        return validate(cls, raw, where or cls.what, error=cls.error)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """A config from a YAML file; errors name the file, the line and the field."""
        return load(cls, path, cls.what, cls.error, cls.relative)
