"""The agent's configuration (typed, validated; shipped default fep_motion/agent.yaml)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

import yamlconf
from fep_motion.config import ConfigError, load_config
from fep_motion.model.spaces import CONTROLS, MODALITIES

DEFAULT_AGENT_CONFIG = "agent.yaml"
WHOLE = ("preferences", "habits")  # tables a config layer replaces whole rather than key by key

NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]


@dataclass
class DecisionConfig:
    """When the agent decides: after its gesture ends (+ a pause), on human events, or at a hazard rate; and whether a
    due decision yields to a human who is mid-action (turn-taking)."""

    __pydantic_config__ = yamlconf.SCHEMA

    min_pause_s: NonNegative = 0.3
    hazard_rate_hz: NonNegative = 0.5
    on_human_event: bool = True
    yield_to_human: bool = True  # defer a due decision while the human is mid-action (turn-taking)
    max_yield_s: NonNegative = 2.0
    on_speech_cue: bool = True  # decide when the human's speech gives a pause cue (the end of a speech segment)
    # while the human speaks, hold a due decision for their next pause (at most max_await_s) once G says a backchannel
    # there beats letting it pass by more than backchannel_margin (nats): the learned value of this speaker's pauses.
    # A phrase plus the voice gate's hangover lasts ~2.4 s (the cue comes ~0.4 s after the phrase ends), so a 2 s hold
    # often ran out while the speaker still talked
    await_pause: bool = True
    backchannel_margin: NonNegative = 0.1
    max_await_s: NonNegative = 4.0
    # turn-taking in speech: a large gesture over the human's speech only when its G is this much below every small
    # candidate's (the decision record then says 'over_speech')
    over_speech_margin: NonNegative = 1.0


@dataclass
class RhythmConfig:
    """Phase-oscillator EKF noise levels and tempo bounds (Hz)."""

    __pydantic_config__ = yamlconf.SCHEMA

    tempo_min_hz: Positive = 0.3
    tempo_max_hz: Positive = 4.0
    tempo_init_hz: Positive = 1.5
    phase_noise: Positive = 0.5  # rad²/s process noise on phase
    tempo_noise: Positive = 0.5  # (rad/s)²/s process noise on angular tempo
    measurement_noise: Positive = 0.3  # rad, phase measurement std at confidence 1
    min_amplitude: Positive = 0.05  # rad of head pitch below which no phase is read

    @model_validator(mode="after")
    def _tempo_order(self) -> RhythmConfig:
        if not self.tempo_min_hz < self.tempo_init_hz < self.tempo_max_hz:
            raise yamlconf.FieldError("tempo_init_hz", "must lie strictly between tempo_min_hz and tempo_max_hz",
                                      "move it (or the bounds)")
        return self


@dataclass
class AgentConfig:
    """Everything the FEP agent needs: precision, candidates, horizon, preferences, learning, novelty, habits."""

    __pydantic_config__ = yamlconf.SCHEMA

    gamma: NonNegative = 16.0  # policy precision γ
    num_candidates: Annotated[int, Field(ge=1, le=65536)] = 256  # K
    horizon: Annotated[int, Field(ge=1, le=16)] = 2  # planning steps
    step_s: Positive = 1.0  # seconds per planning step
    choice: Literal["sample", "argmax"] = "sample"
    novelty: bool = True  # subtract parameter information gain on the response model from G
    learning_rate: NonNegative = 2.0  # Dirichlet count increment per gesture / step
    prior_concentration: Positive = 8.0  # pseudo-counts per response column
    response_window_s: NonNegative = 2.0  # the human answers a gesture's onset within this
    response_latency_s: NonNegative = 0.3  # earliest human answer after an onset
    exploration: Annotated[float, Field(ge=0, le=1)] = 0.2
    max_onset_s: NonNegative = 0.75
    inference_iterations: Annotated[int, Field(ge=1, le=256)] = 8
    pause_outcome_s: Positive = 1.5  # a pause trial's outcome: is the human speaking this long after the cue?
    # log-preferences C: modality -> outcome -> value (unlisted outcomes 0)
    preferences: dict[str, dict[str, float]] = field(default_factory=lambda: {
        "head": {"pitching": 2.0, "yawing": -1.0},
        "arms": {"moving": 2.0},
        "facing": {"toward": 1.0},
        "event": {"nod": 3.0, "gesture": 2.0, "shake": -2.0},
        "speech": {"speaking": 6.0},
    })
    # habits E: gesture class -> log weight (unlisted 0)
    habits: dict[str, float] = field(default_factory=dict)
    decision: DecisionConfig = field(default_factory=DecisionConfig)
    rhythm: RhythmConfig = field(default_factory=RhythmConfig)

    @model_validator(mode="after")
    def _known_names(self) -> AgentConfig:
        for m, prefs in self.preferences.items():
            if m not in MODALITIES:
                raise yamlconf.FieldError(("preferences", m), "is not a modality",
                                          f"use one of {', '.join(MODALITIES)}")
            for o in prefs:
                if o not in MODALITIES[m]:
                    raise yamlconf.FieldError(("preferences", m, o), "is not an outcome of that modality",
                                              f"use one of {', '.join(MODALITIES[m])}")
        for g in self.habits:
            if g not in CONTROLS:
                raise yamlconf.FieldError(("habits", g), "is not a gesture class", f"use one of {', '.join(CONTROLS)}")
        return self


def default_agent_config_path() -> Path:
    """Path of the shipped default agent.yaml inside the installed package."""
    return Path(str(resources.files("fep_motion").joinpath(DEFAULT_AGENT_CONFIG)))


def load_agent_config(path: str | Path | None = None, overrides: dict | None = None) -> AgentConfig:
    """The shipped default (or `path`), with optional dict overrides laid on top, validated. Every layer follows
    yamlconf.overlay's rule: a field left out or a section left empty keeps its default; a preference or habit
    table that is given replaces the one below it."""
    p = Path(path) if path is not None else default_agent_config_path()
    doc = yamlconf.read_yaml(p, "agent config", ConfigError)
    if not isinstance(doc.data, (dict, type(None))):
        return yamlconf.validate(AgentConfig, doc.data, doc.source, doc, ConfigError)  # names the root's type
    data = yamlconf.overlay(dataclasses.asdict(AgentConfig()), doc.data, WHOLE)
    if not overrides:
        return yamlconf.validate(AgentConfig, data, doc.source, doc, ConfigError)
    # a bad value may come from the file or from the overrides: the error names the field, not a line
    data = yamlconf.overlay(data, overrides, WHOLE)
    return yamlconf.validate(AgentConfig, data, f"{doc.source} (with overrides)", None, ConfigError)


__all__ = ["AgentConfig", "ConfigError", "DecisionConfig", "RhythmConfig", "load_agent_config", "load_config"]
