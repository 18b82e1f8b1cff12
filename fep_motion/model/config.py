"""The agent's configuration (typed, validated; shipped default fep_motion/agent.yaml)."""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from fep_motion.config import ConfigError, config_from_dict, load_config, read_yaml
from fep_motion.model.spaces import CONTROLS, MODALITIES

DEFAULT_AGENT_CONFIG = "agent.yaml"


@dataclass
class DecisionConfig:
    """When the agent decides: after its gesture ends (+ a pause), on human events, or at a hazard rate; and whether a
    due decision yields to a human who is mid-action (turn-taking)."""

    min_pause_s: float = field(default=0.3, metadata={"min": 0.0})
    hazard_rate_hz: float = field(default=0.5, metadata={"min": 0.0})
    on_human_event: bool = True
    yield_to_human: bool = True  # defer a due decision while the human is mid-action (turn-taking)
    max_yield_s: float = field(default=2.0, metadata={"min": 0.0})


@dataclass
class RhythmConfig:
    """Phase-oscillator EKF noise levels and tempo bounds (Hz)."""

    tempo_min_hz: float = field(default=0.3, metadata={"gt": 0.0})
    tempo_max_hz: float = field(default=4.0, metadata={"gt": 0.0})
    tempo_init_hz: float = field(default=1.5, metadata={"gt": 0.0})
    phase_noise: float = field(default=0.5, metadata={"gt": 0.0})  # rad²/s process noise on phase
    tempo_noise: float = field(default=0.5, metadata={"gt": 0.0})  # (rad/s)²/s process noise on angular tempo
    measurement_noise: float = field(default=0.3, metadata={"gt": 0.0})  # rad, phase measurement std at confidence 1
    min_amplitude: float = field(default=0.05, metadata={"gt": 0.0})  # rad of head pitch below which no phase is read

    def validate(self) -> None:
        if not self.tempo_min_hz < self.tempo_init_hz < self.tempo_max_hz:
            raise ValueError("tempo_init_hz: must lie strictly between tempo_min_hz and tempo_max_hz")


@dataclass
class AgentConfig:
    """Everything the FEP agent needs: precision, candidates, horizon, preferences, learning, novelty, habits."""

    gamma: float = field(default=16.0, metadata={"min": 0.0})  # policy precision γ
    num_candidates: int = field(default=256, metadata={"min": 1, "max": 65536})  # K
    horizon: int = field(default=2, metadata={"min": 1, "max": 16})  # planning steps
    step_s: float = field(default=1.0, metadata={"gt": 0.0})  # seconds per planning step
    choice: str = field(default="sample", metadata={"choices": ("sample", "argmax")})
    novelty: bool = True  # subtract parameter information gain on the response model from G
    learning_rate: float = field(default=2.0, metadata={"min": 0.0})  # Dirichlet count increment per gesture / step
    prior_concentration: float = field(default=8.0, metadata={"gt": 0.0})  # pseudo-counts per response column
    response_window_s: float = field(default=2.0, metadata={"min": 0.0})  # the human answers a gesture's onset within this
    response_latency_s: float = field(default=0.3, metadata={"min": 0.0})  # earliest human answer after an onset
    exploration: float = field(default=0.2, metadata={"min": 0.0, "max": 1.0})
    max_onset_s: float = field(default=0.75, metadata={"min": 0.0})
    inference_iterations: int = field(default=8, metadata={"min": 1, "max": 256})
    # log-preferences C: modality -> outcome -> value (unlisted outcomes 0)
    preferences: dict[str, dict[str, float]] = field(default_factory=lambda: {
        "head": {"pitching": 2.0, "yawing": -1.0},
        "arms": {"moving": 2.0},
        "facing": {"toward": 1.0},
        "event": {"nod": 3.0, "gesture": 2.0, "shake": -2.0},
    })
    # habits E: gesture class -> log weight (unlisted 0)
    habits: dict[str, float] = field(default_factory=dict)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    rhythm: RhythmConfig = field(default_factory=RhythmConfig)

    def validate(self) -> None:
        for m, prefs in self.preferences.items():
            if m not in MODALITIES:
                raise ValueError(f"preferences.{m}: unknown modality (known: {', '.join(MODALITIES)})")
            for o in prefs:
                if o not in MODALITIES[m]:
                    raise ValueError(f"preferences.{m}.{o}: unknown outcome (known: {', '.join(MODALITIES[m])})")
        for g in self.habits:
            if g not in CONTROLS:
                raise ValueError(f"habits.{g}: unknown gesture class (known: {', '.join(CONTROLS)})")


def default_agent_config_path() -> Path:
    """Path of the shipped default agent.yaml inside the installed package."""
    return Path(str(resources.files("fep_motion").joinpath(DEFAULT_AGENT_CONFIG)))


def load_agent_config(path: str | Path | None = None, overrides: dict | None = None) -> AgentConfig:
    """The shipped default (or `path`), with optional dict overrides merged on top, validated."""
    p = Path(path) if path is not None else default_agent_config_path()
    data = read_yaml(p) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of AgentConfig fields at the top level")
    source = str(p)
    if overrides:
        data = _merge(data, overrides)
        source += " (with overrides)"
    return config_from_dict(AgentConfig, data, source=source)


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in (
            "preferences", "habits") else v
    return out


__all__ = ["AgentConfig", "ConfigError", "DecisionConfig", "RhythmConfig", "load_agent_config", "load_config"]
