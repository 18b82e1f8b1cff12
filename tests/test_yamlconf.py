"""yamlconf, the one typed YAML loader: every failure is one line `file:line: field.path: problem; fix`."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field, model_validator

import yamlconf
from yamlconf import FieldError, YamlConfigError


class MyError(ValueError):
    """A package's own error type, passed to the loader."""


@dataclass(frozen=True)
class Cond:
    __pydantic_config__ = yamlconf.SCHEMA

    id: str
    duration_s: Annotated[float, Field(gt=0)] | None = None


@dataclass(frozen=True)
class Proto:
    __pydantic_config__ = yamlconf.SCHEMA

    name: str
    conditions: tuple[Cond, ...] = ()
    mode: Literal["a", "b"] = "a"
    count: Annotated[int, Field(ge=0)] = 1
    loud: bool = False
    weights: dict[str, float] = field(default_factory=dict)

    @model_validator(mode="after")
    def _unique(self) -> Proto:
        ids = [c.id for c in self.conditions]
        for i, x in enumerate(ids):
            if x in ids[:i]:
                raise FieldError(("conditions", i, "id"), f"duplicate id {x!r}", "give each condition its own id")
        return self


def _load(tmp_path: Path, text: str) -> Proto:
    p = tmp_path / "protocol.yaml"
    p.write_text(text)
    return yamlconf.load(Proto, p, "protocol", MyError)


GOOD = "name: t\nconditions:\n  - {id: x}\n  - id: y\n    duration_s: 3\n"


def test_valid_file_fills_defaults_and_types(tmp_path: Path) -> None:
    p = _load(tmp_path, GOOD)
    assert p == Proto(name="t", conditions=(Cond("x"), Cond("y", 3.0)))
    assert isinstance(p.conditions[1].duration_s, float) and p.count == 1 and p.mode == "a"


@pytest.mark.parametrize("text, expect", [
    (GOOD.replace("duration_s: 3", "duration_s: -3"),
     "protocol.yaml:5: conditions[1].duration_s: must be > 0 (got -3); set a number > 0"),
    (GOOD + "conditons: []\n", "protocol.yaml:6: conditons: is not a known field; use one of name, conditions, mode,"),
    ("conditions: []\n", "protocol.yaml:1: name: is required; add it"),
    (GOOD + "mode: c\n", "protocol.yaml:6: mode: must be one of 'a' or 'b' (got 'c'); use one of those"),
    (GOOD + "count: '3'\n", "protocol.yaml:6: count: must be a whole number (got '3'); write an integer"),
    (GOOD + "count: 2.5\n", "protocol.yaml:6: count: must be a whole number (got 2.5)"),
    (GOOD + "loud: 1\n", "protocol.yaml:6: loud: must be true or false (got 1)"),
    (GOOD + "weights: {a: .nan}\n", "protocol.yaml:6: weights.a: must be a finite number (got nan)"),
    (GOOD.replace("{id: x}", "{id: y}"), "protocol.yaml:4: conditions[1].id: duplicate id 'y'; give each"),
    (GOOD.replace("{id: x}", "{id: x, colour: red}"),
     "protocol.yaml:3: conditions[0].colour: is not a known field; use one of id, duration_s"),
    ("- 1\n- 2\n", "protocol.yaml:1: <root>: must be a mapping (got list); write key: value pairs"),
    ("name: t\nconditions: {a: 1}\n", "protocol.yaml:2: conditions: must be a list"),
    ("name: !!binary aGVsbG8=\n", "protocol.yaml:1: name: holds bytes data;"),
    ("name: t\nname: u\n", "protocol.yaml:2: name: duplicate key; keep one of them"),
    ("name: [t\n", "protocol.yaml:2: not valid YAML ("),
    ('"\\n\\t": 1\nname: t\n', "protocol.yaml:1: \\n\\t: is not a known field"),
])
def test_each_failure_is_one_line_naming_file_line_field_and_fix(tmp_path: Path, text: str, expect: str) -> None:
    with pytest.raises(MyError) as info:
        _load(tmp_path, text)
    msg = str(info.value)
    assert msg.startswith(str(tmp_path)) and expect in msg and "\n" not in msg, msg


def test_missing_file_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(MyError, match=r"nope\.yaml not found: pass the path of an existing protocol YAML file"):
        yamlconf.load(Proto, tmp_path / "nope.yaml", "protocol", MyError)
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    with pytest.raises(MyError, match=r"empty\.yaml:1: name: is required"):
        yamlconf.load(Proto, tmp_path / "empty.yaml", "protocol", MyError)
    with pytest.raises(YamlConfigError):  # the generic error when a package passes none
        yamlconf.load(Proto, tmp_path / "nope.yaml")


def test_validate_a_dict_without_lines_and_check_a_config_built_in_code() -> None:
    with pytest.raises(MyError, match=r"^flags: count: must be >= 0 \(got -1\); set a number >= 0$"):
        yamlconf.validate(Proto, {"name": "t", "count": -1}, "flags", error=MyError)
    assert yamlconf.check(Proto(name="t", count=2), "code") == Proto(name="t", count=2)
    with pytest.raises(YamlConfigError, match=r"^code: conditions\[0\]\.duration_s: must be > 0 \(got 0\.0\)"):
        yamlconf.check(Proto(name="t", conditions=(Cond("x", 0.0),)), "code")


def test_overlay_keeps_defaults_of_partial_mappings() -> None:
    defaults = {"nod": {"p": 0.7, "lat": 1.0}, "wave": {"p": 0.6, "lat": 1.2}, "rate": 3.0}
    got = yamlconf.overlay(defaults, {"nod": {"p": 0.5}, "rate": 4.0, "wave": None})
    assert got == {"nod": {"p": 0.5, "lat": 1.0}, "wave": {"p": 0.6, "lat": 1.2}, "rate": 4.0}
    assert yamlconf.overlay(defaults, None) == defaults


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class Run:
        __pydantic_config__ = yamlconf.SCHEMA
        init_from: str = ""

    (tmp_path / "sub").mkdir()
    p = tmp_path / "sub" / "run.yaml"
    p.write_text("init_from: ../ckpt\n")
    assert yamlconf.load(Run, p, relative=("init_from",)).init_from == str((tmp_path / "ckpt").resolve())


VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                    max_size=3), max_leaves=8)


@given(data=st.dictionaries(st.sampled_from(["name", "conditions", "mode", "count", "loud", "weights", "x\ny"]),
                            VALUES, max_size=5))
@settings(max_examples=150, deadline=None, derandomize=True, database=None)
def test_any_yaml_loads_or_fails_with_one_line_naming_the_file(tmp_path_factory: Any, data: dict) -> None:
    p = tmp_path_factory.mktemp("fuzz") / "f.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True))
    try:
        got = yamlconf.load(Proto, p, "protocol", MyError)
    except MyError as exc:
        msg = str(exc)
        assert msg.startswith(f"{p}:") and "\n" not in msg and "; " in msg, msg
        return
    assert isinstance(got.name, str) and got.count >= 0 and all(math.isfinite(w) for w in got.weights.values())
    assert set(data) <= {"name", "conditions", "mode", "count", "loud", "weights"}


def test_every_shipped_yaml_loads_through_its_loader() -> None:
    """Each YAML file in the repository goes through the loader of its kind (a new one must be listed here)."""
    import subprocess

    from experiments.cohort import load_cohort
    from experiments.protocol import load_protocol
    from fep_motion.model.config import load_agent_config
    from llm.rl.config import RLConfig
    from llm.train import TrainConfig
    from llm.yaml_file import read_mapping

    root = Path(__file__).resolve().parents[1]
    loaders = {"examples/cohorts/": load_cohort, "experiments/data/": load_cohort,
               "examples/protocols/": load_protocol, "fep_motion/agent.yaml": load_agent_config,
               "llm/brain/train_": TrainConfig.load, "llm/rl/": RLConfig.load,
               "llm/brain/size_candidates": lambda p: read_mapping(p, "size-search config"),
               "llm/brain/stage2_candidates": lambda p: read_mapping(p, "size-search config")}
    files = subprocess.run(["git", "ls-files", "*.yaml"], cwd=root, capture_output=True, text=True,
                           check=True).stdout.split()
    assert len(files) >= 10
    for name in files:
        load = next((f for prefix, f in loaders.items() if name.startswith(prefix)), None)
        assert load is not None, f"{name}: no loader listed for it"
        assert load(root / name) is not None
