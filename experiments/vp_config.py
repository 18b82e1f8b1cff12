"""Configuration of a virtual participant: base rates, rhythm, contingencies per agent gesture class, engagement,
speech.

Loaded from YAML through yamlconf with every field validated on load; errors name the file, line and field.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

import yamlconf
from experiments.errors import ExperimentError
from sampling.primitives.base import GESTURE_CLASSES

RESPONSE_KINDS: tuple[str, ...] = ("nod", "gesture")

NonNegative = Annotated[float, Field(ge=0)]
Positive = Annotated[float, Field(gt=0)]
Share = Annotated[float, Field(ge=0, le=1)]
Cycles = Annotated[int, Field(ge=1)]


@dataclass
class Contingency:
    """How the participant answers one agent gesture class: P(answer), lognormal latency (s), answer kind."""

    __pydantic_config__ = yamlconf.SCHEMA

    probability: Share = 0.0  # at engagement 1; scaled by engagement (see VirtualParticipant)
    latency_mean: Positive = 1.2  # seconds from the agent gesture's onset to the answer's onset
    latency_sd: NonNegative = 0.4
    response: Literal[RESPONSE_KINDS] = "nod"  # type: ignore[valid-type]


def _default_contingencies() -> dict[str, Contingency]:
    return {
        "nod": Contingency(0.7, 1.0, 0.3, "nod"),
        "tilt": Contingency(0.3, 1.2, 0.4, "nod"),
        "shake": Contingency(0.1, 1.2, 0.4, "nod"),
        "lean": Contingency(0.3, 1.5, 0.5, "nod"),
        "wave": Contingency(0.6, 1.2, 0.4, "gesture"),
        "beat": Contingency(0.3, 1.4, 0.5, "gesture"),
        "welcome": Contingency(0.5, 1.3, 0.4, "gesture"),
    }


@dataclass
class SpeechConfig:
    """How the participant talks: turns of phrases separated by pauses, silent gaps between turns, and how much a
    listener's well-timed nod or tilt sustains the turn (experiments/vp_speech.py)."""

    __pydantic_config__ = yamlconf.SCHEMA

    enabled: bool = False  # a silent participant unless a cohort says it talks
    phrases_mean: Annotated[float, Field(ge=1)] = 3.0  # planned phrases per turn (1 + geometric), before responses
    phrase_mean_s: Positive = 2.0  # lognormal phrase length (s): conversational inter-pausal units of 1-3 s
    phrase_sd_s: NonNegative = 0.6
    pause_mean_s: Positive = 0.7  # lognormal within-turn pause (s)
    pause_sd_s: NonNegative = 0.2
    gap_mean_s: Positive = 4.0  # lognormal silence between my turns (s): the listener's turn or thinking
    gap_sd_s: NonNegative = 1.5
    low_pitch_s: Positive = 0.35  # phrase-final low-pitch region (s) marked in the ground truth
    # Backchannel contingency: P(my turn grows by one phrase) when a listener's nod or tilt starts in a pause of mine
    # (within it or <= backchannel_window_s after the phrase end), and the strength of the pause shortening that
    # follows such responses. Listener responses sustain and shape the speaker's narrative (Bavelas, Coates & Johnson
    # 2000, J. Pers. Soc. Psychol. 79:941): a property of the speaker, whoever the listener is. 0 = no effect.
    backchannel: Share = 0.0
    backchannel_window_s: NonNegative = 0.5
    backchannel_classes: tuple[Literal[GESTURE_CLASSES], ...] = ("nod", "tilt")  # type: ignore[valid-type]
    voice: str = "en-us"  # espeak-ng voice for the synthesized speech
    words_per_min: Annotated[float, Field(ge=80, le=300)] = 190.0  # nominal speaking rate (picks sentences to fit)


@dataclass
class VirtualParticipantConfig:
    """Every behavioural and sensor parameter of the virtual participant (defaults: an engaged, responsive person)."""

    __pydantic_config__ = yamlconf.SCHEMA

    nod_rate: NonNegative = 3.0  # spontaneous nods per minute at engagement 1
    gesture_rate: NonNegative = 1.5  # spontaneous hand gestures per minute at engagement 1
    nod_tempo: Positive = 2.0  # Hz, down-up cycles per second (conversational nods ~1.5-3 Hz)
    nod_cycles_min: Cycles = 1  # single down-up nods: the most common backchannel; perception reports them
    nod_cycles_max: Cycles = 3
    nod_amplitude: Positive = 0.22  # rad of head pitch per cycle (~12.6 deg)
    gesture_tempo: Positive = 1.5  # Hz, beats per second while gesturing
    gesture_cycles_min: Cycles = 2
    gesture_cycles_max: Cycles = 4
    gesture_amplitude: Positive = 0.07  # metres of wrist beat excursion
    tempo_jitter: NonNegative = 0.1  # relative sd of tempo across events
    refractory: NonNegative = 0.8  # seconds after one event before the next can start on the same channel
    contingencies: dict[Literal[GESTURE_CLASSES], Contingency] = field(  # type: ignore[valid-type]
        default_factory=_default_contingencies)
    engagement_initial: Share = 0.7
    engagement_baseline: Share = 0.5  # target engagement when the agent is not contingent at all
    engagement_gain: NonNegative = 0.5  # target = baseline + gain * contingency (fraction of my events answered)
    engagement_tau: Positive = 15.0  # seconds, time constant of the drift toward the target
    contingency_window: Positive = 30.0  # seconds of history used to judge the agent's contingency
    jitter: NonNegative = 0.002  # sd of landmark noise, normalized image units (MediaPipe-like)
    dropout_rate: NonNegative = 1.0  # drop-out bursts per minute (no person detected)
    dropout_mean: Positive = 0.25  # mean burst length, seconds
    image_size: tuple[Annotated[int, Field(ge=16)], Annotated[int, Field(ge=16)]] = (640, 480)
    speech: SpeechConfig = field(default_factory=SpeechConfig)

    @model_validator(mode="after")
    def _cycle_order(self) -> VirtualParticipantConfig:
        for lo, hi in (("nod_cycles_min", "nod_cycles_max"), ("gesture_cycles_min", "gesture_cycles_max")):
            if getattr(self, lo) > getattr(self, hi):
                raise yamlconf.FieldError(lo, f"must not exceed {hi} ({getattr(self, lo)} > {getattr(self, hi)})",
                                          f"lower it or raise {hi}")
        return self

    def validate(self, where: str = "config") -> None:
        """Raise ExperimentError naming the first bad field (a config built in code, checked like a file)."""
        yamlconf.check(self, where, ExperimentError)


def config_from_dict(data: Any, where: str = "config", lines: yamlconf.YamlDoc | None = None,
                     at: tuple[str, ...] = ()) -> VirtualParticipantConfig:
    """Validate a mapping laid over the defaults (a partial contingency keeps that class's other defaults);
    unknown or mistyped fields raise ExperimentError naming them (and their line when `lines` is the YAML doc
    holding the mapping at `at`)."""
    merged = yamlconf.overlay(dataclasses.asdict(VirtualParticipantConfig()), data)
    return yamlconf.validate(VirtualParticipantConfig, merged, where, lines, ExperimentError, at)


def load_config(path: str | Path) -> VirtualParticipantConfig:
    """Load a virtual participant config from YAML (missing fields keep their defaults)."""
    doc = yamlconf.read_yaml(path, "virtual participant config", ExperimentError)
    return config_from_dict(doc.data, doc.source, doc)
