"""Configuration of a virtual participant: base rates, rhythm, contingencies per agent gesture class, engagement.

Loaded from YAML with every field validated on load; errors name the file, line and field (experiments.yamlsrc).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from experiments.errors import ExperimentError
from sampling.primitives.base import GESTURE_CLASSES

RESPONSE_KINDS: tuple[str, ...] = ("nod", "gesture")


@dataclass
class Contingency:
    """How the participant answers one agent gesture class: P(answer), lognormal latency (s), answer kind."""

    probability: float = 0.0  # at engagement 1; scaled by engagement (see VirtualParticipant)
    latency_mean: float = 1.2  # seconds from the agent gesture's onset to the answer's onset
    latency_sd: float = 0.4
    response: str = "nod"  # nod | gesture


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
class VirtualParticipantConfig:
    """Every behavioural and sensor parameter of the virtual participant (defaults: an engaged, responsive person)."""

    nod_rate: float = 3.0  # spontaneous nods per minute at engagement 1
    gesture_rate: float = 1.5  # spontaneous hand gestures per minute at engagement 1
    nod_tempo: float = 2.0  # Hz, down-up cycles per second (conversational nods ~1.5-3 Hz)
    nod_cycles_min: int = 1  # single down-up nods: the most common backchannel; perception reports them
    nod_cycles_max: int = 3
    nod_amplitude: float = 0.22  # rad of head pitch per cycle (~12.6 deg)
    gesture_tempo: float = 1.5  # Hz, beats per second while gesturing
    gesture_cycles_min: int = 2
    gesture_cycles_max: int = 4
    gesture_amplitude: float = 0.07  # metres of wrist beat excursion
    tempo_jitter: float = 0.1  # relative sd of tempo across events
    refractory: float = 0.8  # seconds after one event before the next can start on the same channel
    contingencies: dict[str, Contingency] = field(default_factory=_default_contingencies)
    engagement_initial: float = 0.7
    engagement_baseline: float = 0.5  # target engagement when the agent is not contingent at all
    engagement_gain: float = 0.5  # target = baseline + gain * contingency (fraction of my events the agent answered)
    engagement_tau: float = 15.0  # seconds, time constant of the drift toward the target
    contingency_window: float = 30.0  # seconds of history used to judge the agent's contingency
    jitter: float = 0.002  # sd of landmark noise, normalized image units (MediaPipe-like)
    dropout_rate: float = 1.0  # drop-out bursts per minute (no person detected)
    dropout_mean: float = 0.25  # mean burst length, seconds
    image_size: tuple[int, int] = (640, 480)

    def validate(self, where: str = "config") -> None:
        """Raise ExperimentError naming the first bad field."""

        def bad(name: str, why: str) -> ExperimentError:
            return ExperimentError(f"{where}: field '{name}' {why}")

        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isfinite(float(v)):
                raise bad(f.name, f"must be a finite number, got {v}")
        for name in ("nod_rate", "gesture_rate", "dropout_rate", "tempo_jitter", "refractory", "jitter",
                     "engagement_gain"):
            if getattr(self, name) < 0:
                raise bad(name, f"must be >= 0, got {getattr(self, name)}")
        for name in ("nod_tempo", "gesture_tempo", "nod_amplitude", "gesture_amplitude", "engagement_tau",
                     "contingency_window", "dropout_mean"):
            if getattr(self, name) <= 0:
                raise bad(name, f"must be > 0, got {getattr(self, name)}")
        for name in ("engagement_initial", "engagement_baseline"):
            if not 0 <= getattr(self, name) <= 1:
                raise bad(name, f"must be in [0, 1], got {getattr(self, name)}")
        for lo, hi in (("nod_cycles_min", "nod_cycles_max"), ("gesture_cycles_min", "gesture_cycles_max")):
            if not 1 <= getattr(self, lo) <= getattr(self, hi):
                raise bad(lo, f"must satisfy 1 <= {lo} <= {hi}")
        if len(self.image_size) != 2 or min(self.image_size) < 16:
            raise bad("image_size", f"must be [width, height] >= 16 pixels, got {self.image_size}")
        for cls, c in self.contingencies.items():
            if cls not in GESTURE_CLASSES:
                raise bad(f"contingencies.{cls}", f"is not a gesture class (one of {', '.join(GESTURE_CLASSES)})")
            if not 0 <= c.probability <= 1:
                raise bad(f"contingencies.{cls}.probability", f"must be in [0, 1], got {c.probability}")
            if c.latency_mean <= 0 or c.latency_sd < 0:
                raise bad(f"contingencies.{cls}.latency_mean", "must be > 0 (and latency_sd >= 0)")
            if c.response not in RESPONSE_KINDS:
                raise bad(f"contingencies.{cls}.response", f"must be one of {', '.join(RESPONSE_KINDS)}")


def _coerce(value: Any, like: Any, name: str, where: str) -> Any:
    if isinstance(like, bool):
        if not isinstance(value, bool):
            raise ExperimentError(f"{where}: field '{name}' must be true or false, got {value!r}")
        return value
    if isinstance(like, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ExperimentError(f"{where}: field '{name}' must be an integer, got {value!r}")
        return value
    if isinstance(like, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExperimentError(f"{where}: field '{name}' must be a number, got {value!r}")
        return float(value)
    if isinstance(like, tuple):
        if not isinstance(value, (list, tuple)) or len(value) != len(like):
            raise ExperimentError(f"{where}: field '{name}' must be a list of {len(like)} numbers, got {value!r}")
        return tuple(_coerce(v, l, name, where) for v, l in zip(value, like))
    if isinstance(like, str):
        if not isinstance(value, str):
            raise ExperimentError(f"{where}: field '{name}' must be a string, got {value!r}")
        return value
    return value


def config_from_dict(data: dict[str, Any], where: str = "config", lines: Any = None) -> VirtualParticipantConfig:
    """Build and validate a config from a mapping; unknown or mistyped fields raise ExperimentError naming them."""
    if not isinstance(data, dict):
        raise ExperimentError(f"{where}: the virtual participant config must be a mapping of fields")
    cfg = VirtualParticipantConfig()
    known = {f.name for f in fields(cfg)}

    def loc(*path: Any) -> str:
        return f"{where}:{lines.line(path)}" if lines is not None else where

    for key, value in data.items():
        if key not in known:
            raise ExperimentError(f"{loc(key)}: unknown field '{key}' (known: {', '.join(sorted(known))})")
        if key == "contingencies":
            if not isinstance(value, dict):
                raise ExperimentError(f"{loc(key)}: field 'contingencies' must map gesture classes to settings")
            merged = dict(cfg.contingencies)
            for cls, spec in value.items():
                if not isinstance(spec, dict):
                    raise ExperimentError(f"{loc(key, cls)}: field 'contingencies.{cls}' must be a mapping")
                c = Contingency(**vars(merged.get(cls, Contingency())))
                cknown = {f.name for f in fields(c)}
                for k, v in spec.items():
                    if k not in cknown:
                        raise ExperimentError(
                            f"{loc(key, cls, k)}: unknown field 'contingencies.{cls}.{k}' (known: {', '.join(cknown)})"
                        )
                    setattr(c, k, _coerce(v, getattr(c, k), f"contingencies.{cls}.{k}", loc(key, cls, k)))
                merged[str(cls)] = c
            cfg.contingencies = merged
            continue
        setattr(cfg, key, _coerce(value, getattr(cfg, key), key, loc(key)))
    cfg.validate(where)
    return cfg


def load_config(path: str | Path) -> VirtualParticipantConfig:
    """Load a virtual participant config from YAML (missing fields keep their defaults)."""
    from experiments.yamlsrc import load_yaml

    doc = load_yaml(path, "virtual participant config")
    data = doc.data if doc.data is not None else {}
    return config_from_dict(data, str(path), doc)
