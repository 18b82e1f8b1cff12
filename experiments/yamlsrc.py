"""Load YAML keeping the source line of every mapping key and sequence item, so errors can name field AND line."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from experiments.errors import ExperimentError

Path_ = tuple[str | int, ...]


@dataclass
class YamlDoc:
    """A parsed YAML document plus the 1-based line of each value, keyed by its path (('conditions', 0, 'policy'))."""

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
        """'file:line field a.b[2].c' for error messages."""
        return f"{self.source}:{self.line(path)}: field '{dotted(path)}'"


def dotted(path: Path_) -> str:
    """('conditions', 0, 'policy') -> 'conditions[0].policy'."""
    out = ""
    for part in path:
        name = str(part)
        if not name.isprintable():  # a key holding a newline or control character stays on one line, escaped
            name = name.encode("unicode_escape").decode("ascii")
        out += f"[{name}]" if isinstance(part, int) else (f".{name}" if out else name)
    return out or "<root>"


def _build(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in out:
                raise ExperimentError(f"line {key_node.start_mark.line + 1}: duplicate key '{dotted(path + (key,))}'")
            out[key] = _build(value_node, path + (key,), lines)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(v, path + (i,), lines) for i, v in enumerate(node.value)]
    return yaml.constructor.SafeConstructor().construct_object(node, deep=True)


def load_yaml(path: str | Path, what: str = "file") -> YamlDoc:
    """Parse a YAML file; a missing file or bad syntax raises one-line ExperimentError naming file, line and fix."""
    p = Path(path)
    if not p.is_file():
        raise ExperimentError(f"{what} {p} not found: pass the path of an existing YAML file")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExperimentError(f"{what} {p} cannot be read ({exc.__class__.__name__}): pass a UTF-8 YAML file") from None
    return parse_yaml(text, str(p))


def parse_yaml(text: str, source: str) -> YamlDoc:
    """Parse YAML text (source names it in errors)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ExperimentError(f"{source}: YAML nested too deeply to read: flatten the structure") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ExperimentError(f"{source}{line}: invalid YAML ({problem}): fix the syntax at that line") from None
    lines: dict[Path_, int] = {}
    if node is None:
        raise ExperimentError(f"{source}:1: file is empty: write a YAML mapping")
    try:
        data = _build(node, (), lines)
    except ExperimentError as exc:
        raise ExperimentError(f"{source}:{exc!s}") from None
    except RecursionError:
        raise ExperimentError(f"{source}: YAML nested too deeply to read: flatten the structure") from None
    except yaml.YAMLError as exc:
        raise ExperimentError(f"{source}: invalid YAML value ({exc}): fix the value") from None
    return YamlDoc(source=source, data=data, lines=lines)
