"""Primitive interface, the agent's joint-space layout, and MotionCommand (docs/architecture.md §2).

A primitive maps (time since onset, parameters) to joint-angle *offsets* layered over idle motion. Poses are flat
vectors over DOF_NAMES, in radians, with semantic signs so gestures read the same in every module.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import numpy as np

# Joint-space layout of the agent's upper body: spherical chest/neck/shoulders as three semantic angles, hinge elbows.
DOF_NAMES: tuple[str, ...] = (
    "chest_pitch",      # + = lean forward
    "chest_yaw",        # + = turn to the agent's left
    "chest_roll",       # + = side-bend to the agent's left
    "neck_pitch",       # + = chin down (the down phase of a nod)
    "neck_yaw",         # + = look to the agent's left (head shake axis)
    "neck_roll",        # + = tilt head toward the left shoulder
    "r_shoulder_flex",  # + = raise right arm forward
    "r_shoulder_abd",   # + = raise right arm sideways (away from the body)
    "r_shoulder_rot",   # + = rotate right upper arm outward
    "r_elbow",          # + = bend right elbow
    "l_shoulder_flex",
    "l_shoulder_abd",
    "l_shoulder_rot",
    "l_elbow",
)
DOF = {name: i for i, name in enumerate(DOF_NAMES)}
NUM_DOF = len(DOF_NAMES)

# DOF indices of each body joint (three semantic angles per spherical joint, one per hinge); the body maps each group
# to one URDF joint, and speed limits apply per group (sum of |angle rates| bounds the joint's angular speed).
DOF_GROUPS: dict[str, tuple[int, ...]] = {
    "chest": (0, 1, 2),
    "neck": (3, 4, 5),
    "right_shoulder": (6, 7, 8),
    "right_elbow": (9,),
    "left_shoulder": (10, 11, 12),
    "left_elbow": (13,),
}

# Gesture classes the agent's generative model conditions on (one per primitive family).
GESTURE_CLASSES: tuple[str, ...] = ("none", "nod", "tilt", "shake", "lean", "wave", "beat", "welcome")


class PrimitiveError(ValueError):
    """A bad primitive name or parameter; the message names it and its allowed range."""


@dataclass(frozen=True)
class ParamRange:
    """A primitive parameter's allowed range and default; the sampling module draws from [low, high]."""

    name: str
    low: float
    high: float
    default: float
    integer: bool = False
    unit: str = ""

    def clip(self, value: float) -> float:
        v = float(np.clip(value, self.low, self.high))
        return float(round(v)) if self.integer else v


@dataclass
class MotionCommand:
    """A chosen gesture: primitive name, its parameters, when it was issued and its onset delay (seconds)."""

    primitive: str
    params: dict[str, float]
    issued_at: float
    onset_delay: float = 0.0
    source: str = ""  # which policy issued it
    meta: dict = field(default_factory=dict)

    @property
    def onset(self) -> float:
        return self.issued_at + self.onset_delay


class Primitive(ABC):
    """A parametric gesture: declares its parameter ranges, its duration, and its joint offsets over time."""

    name: str = ""
    gesture_class: str = "none"
    ranges: tuple[ParamRange, ...] = ()

    def defaults(self) -> dict[str, float]:
        return {r.name: r.default for r in self.ranges}

    def resolve(self, params: dict[str, float] | None = None) -> dict[str, float]:
        """Defaults overlaid with params; unknown names or out-of-range values raise PrimitiveError."""
        out = self.defaults()
        known = {r.name: r for r in self.ranges}
        for k, v in (params or {}).items():
            if k not in known:
                raise PrimitiveError(f"primitive '{self.name}' has no parameter '{k}' (has: {', '.join(known)})")
            r = known[k]
            if not (r.low <= float(v) <= r.high) or not np.isfinite(float(v)):
                raise PrimitiveError(f"primitive '{self.name}' parameter '{k}'={v} outside [{r.low}, {r.high}]")
            out[k] = float(v)
        return out

    @abstractmethod
    def duration(self, params: dict[str, float]) -> float:
        """Seconds from onset until the gesture has returned to rest."""

    @abstractmethod
    def offsets(self, t: np.ndarray, params: dict[str, float]) -> np.ndarray:
        """Joint offsets [len(t), NUM_DOF] (radians) at times t since onset; zero outside [0, duration]."""
