"""Read YAML keeping the 1-based line of every mapping key and sequence item, so errors name field AND line."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from yamlconf.errors import YamlConfigError

Path_ = tuple[str | int, ...]


@dataclass
class YamlDoc:
    """A parsed YAML document (None when empty) and the line of each value, keyed by path (('conditions', 0, 'id'))."""

    source: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int:
        """The line of `path`, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return self.lines.get((), 1)

    def where(self, path: Path_) -> str:
        """'file:line: a.b[2].c' for error messages."""
        return f"{self.source}:{self.line(path)}: {dotted(path)}"

    def error(self, path: Path_, problem: str, fix: str, error: type[Exception] = YamlConfigError) -> Exception:
        """The one-line error 'file:line: a.b[2].c: problem; fix' for a check the schema cannot express."""
        return error(f"{self.where(path)}: {problem}; {fix}")


def dotted(path: Path_) -> str:
    """('conditions', 0, 'policy') -> 'conditions[0].policy'; keys that are not printable are escaped (one line)."""
    out = ""
    for part in path:
        name = str(part)
        if not name.isprintable():
            name = repr(name)[1:-1]
        out += f"[{name}]" if isinstance(part, int) else (f".{name}" if out else name)
    return out or "<root>"


def _build(node: yaml.Node, path: Path_, lines: dict[Path_, int], source: str, error: type[Exception]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in out:
                raise error(f"{source}:{line}: {dotted(path + (key,))}: duplicate key; keep one of them")
            out[key] = _build(value_node, path + (key,), lines, source, error)
            lines[path + (key,)] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, path + (i,), lines, source, error) for i, v in enumerate(node.value)]
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def parse_yaml(text: str, source: str, error: type[Exception] = YamlConfigError) -> YamlDoc:
    """Parse YAML text (`source` names it in errors); syntax errors become one `error` line with the line number."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        lines: dict[Path_, int] = {}
        data = None if node is None else _build(node, (), lines, source, error)
    except RecursionError:
        raise error(f"{source}: YAML nested too deeply to read; flatten the structure") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise error(f"{source}{line}: not valid YAML ({problem}); fix the syntax at that line") from None
    return YamlDoc(source=source, data=data, lines=lines)


def read_text(path: str | Path, what: str, error: type[Exception] = YamlConfigError) -> str:
    """The UTF-8 text of a user's file; a missing or unreadable one raises one `error` line naming it and `what`."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{p} not found: pass the path of an existing {what}")
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{p}: cannot read the {what} ({exc.__class__.__name__}); save it as UTF-8 text") from None


def read_yaml(path: str | Path, what: str = "config", error: type[Exception] = YamlConfigError) -> YamlDoc:
    """Parse a YAML file; a missing or unreadable file raises one `error` line naming it and the fix."""
    return parse_yaml(read_text(path, f"{what} YAML file", error), str(path), error)
