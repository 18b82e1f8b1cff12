"""Agent configuration: the shipped default loads; bad files fail with one line naming the field; exit code 2."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pytest
from pydantic import Field

from cli import main
from fep_motion.config import ConfigError, config_from_dict, dump_config, load_config
from fep_motion.model.config import AgentConfig, load_agent_config


def test_shipped_default_round_trips(tmp_path: Path):
    cfg = load_agent_config()
    assert cfg == AgentConfig()  # a partial file falls back on exactly the shipped values
    assert cfg.num_candidates == 256 and cfg.horizon == 2 and cfg.novelty
    p = tmp_path / "a.yaml"
    p.write_text(dump_config(cfg))
    assert load_config(AgentConfig, p) == cfg


@pytest.mark.parametrize("text, field_name", [
    ("gamma: -1\n", "gamma"),
    ("horizon: 2.5\n", "horizon"),
    ("choice: greedy\n", "choice"),
    ("decision:\n  hazard_rate_hz: fast\n", "decision.hazard_rate_hz"),
    ("preferences:\n  head: {nodding: 1}\n", "preferences.head.nodding"),
    ("habits: {salute: 1}\n", "habits.salute"),
    ("novelt: true\n", "novelt"),
    ("rhythm:\n  tempo_init_hz: 9\n", "rhythm.tempo_init_hz"),
])
def test_errors_name_the_field(tmp_path: Path, text: str, field_name: str, capsys):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=rf"{re.escape(str(p))}:[12]: {re.escape(field_name)}: "):
        load_agent_config(p)
    assert main(["agent", "config", "--config", str(p)]) == 2
    err = capsys.readouterr().err
    assert field_name in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_every_layer_keeps_defaults_for_empty_sections_and_replaces_tables_whole(tmp_path: Path):
    """One rule for the file and the overrides (yamlconf.overlay), the same one the perception and participant
    configs follow: an empty section keeps its defaults, a given preference table replaces the one below it."""
    p = tmp_path / "partial.yaml"
    p.write_text("gamma: 8\ndecision:\npreferences:\n  event: {nod: 1.0}\n")
    cfg = load_agent_config(p)
    assert cfg.gamma == 8.0 and cfg.decision == AgentConfig().decision
    assert cfg.preferences == {"event": {"nod": 1.0}}
    shipped = load_agent_config()
    over = load_agent_config(overrides={"decision": None, "rhythm": {"tempo_init_hz": 2.0},
                                        "habits": {"nod": 1.0}})
    assert over.decision == shipped.decision and over.rhythm.tempo_init_hz == 2.0
    assert over.rhythm.tempo_min_hz == shipped.rhythm.tempo_min_hz and over.habits == {"nod": 1.0}
    assert over.preferences == shipped.preferences
    with pytest.raises(ConfigError, match=r"decision\.min_pause_s: "):
        load_agent_config(overrides={"decision": {"min_pause_s": -1}})


def test_missing_and_malformed_files(tmp_path: Path, capsys):
    assert main(["agent", "config", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    p = tmp_path / "broken.yaml"
    p.write_text("gamma: [1\n")
    assert main(["agent", "config", "--config", str(p)]) == 2
    assert "line" in capsys.readouterr().err


def test_show_prints_the_resolved_config(capsys):
    assert main(["agent", "config", "--show"]) == 0
    assert "num_candidates: 256" in capsys.readouterr().out


@dataclass
class _Inner:
    k: Annotated[int, Field(ge=1)] = 3


@dataclass
class _Outer:
    name: str
    inner: _Inner = field(default_factory=_Inner)
    weights: list[float] = field(default_factory=list)


def test_generic_loader_for_other_modules():
    cfg = config_from_dict(_Outer, {"name": "x", "inner": {"k": 5}, "weights": [1, 2.5]}, source="t.yaml")
    assert cfg.inner.k == 5 and cfg.weights == [1.0, 2.5]
    with pytest.raises(ConfigError, match="t.yaml: name: is required"):
        config_from_dict(_Outer, {}, source="t.yaml")
    with pytest.raises(ConfigError, match=r"t.yaml: weights\[1\]: must be a number \(got 'a'\)"):
        config_from_dict(_Outer, {"name": "x", "weights": [1, "a"]}, source="t.yaml")
    with pytest.raises(ConfigError, match="t.yaml: inner.k: must be >= 1"):
        config_from_dict(_Outer, {"name": "x", "inner": {"k": 0}}, source="t.yaml")
