"""Idle motion (breathing + slight sway), always running under every gesture, and the `idle` primitive (a pause)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sampling.primitives.base import DOF, NUM_DOF, ParamRange, Primitive

# The body's rest pose: head level, arms hanging slightly away from the torso, elbows a little bent.
REST_POSE = np.zeros(NUM_DOF)
for _name, _value in (("r_shoulder_abd", 0.12), ("l_shoulder_abd", 0.12), ("r_elbow", 0.2), ("l_elbow", 0.2)):
    REST_POSE[DOF[_name]] = _value


@dataclass(frozen=True)
class IdleMotion:
    """Rest pose plus breathing (chest pitch, shoulders) and a slow incommensurate sway, so the body never freezes."""

    breath_rate: float = 0.25  # Hz, a calm adult at rest
    breath_amplitude: float = 0.02  # rad of chest pitch
    sway_amplitude: float = 0.015  # rad, chest roll/yaw and neck yaw
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0.0 < self.breath_rate <= 1.0):
            raise ValueError(f"IdleMotion.breath_rate={self.breath_rate} must be in (0, 1] Hz")
        if not (0.0 <= self.breath_amplitude <= 0.1 and 0.0 <= self.sway_amplitude <= 0.1):
            raise ValueError("IdleMotion amplitudes must be in [0, 0.1] rad")

    def _phases(self) -> np.ndarray:
        return np.random.default_rng(self.seed).uniform(0.0, 2.0 * np.pi, size=4)

    def pose(self, t: np.ndarray | float) -> np.ndarray:
        """Absolute joint angles [len(t), NUM_DOF] (or [NUM_DOF] for scalar t)."""
        scalar = np.ndim(t) == 0
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        ph = self._phases()
        out = np.tile(REST_POSE, (len(t), 1))
        breath = self.breath_amplitude * np.sin(2 * np.pi * self.breath_rate * t + ph[0])
        out[:, DOF["chest_pitch"]] += 0.5 * breath
        out[:, DOF["neck_pitch"]] -= 0.3 * breath
        out[:, DOF["r_shoulder_abd"]] += 0.5 * breath
        out[:, DOF["l_shoulder_abd"]] += 0.5 * breath
        # Sway: two incommensurate slow sines per axis so it never visibly repeats.
        sway = self.sway_amplitude
        out[:, DOF["chest_roll"]] += sway * (
            0.6 * np.sin(2 * np.pi * 0.071 * t + ph[1]) + 0.4 * np.sin(2 * np.pi * 0.113 * t)
        )
        out[:, DOF["chest_yaw"]] += sway * 0.7 * np.sin(2 * np.pi * 0.053 * t + ph[2])
        out[:, DOF["neck_yaw"]] += sway * np.sin(2 * np.pi * 0.037 * t + ph[3])
        return out[0] if scalar else out

    def peak_speed(self) -> float:
        """Upper bound of any joint's idle speed (rad/s), summed over its sine terms."""
        two_pi = 2 * np.pi
        breath = self.breath_amplitude * two_pi * self.breath_rate
        sway = self.sway_amplitude * two_pi * (0.6 * 0.071 + 0.4 * 0.113)
        return float(max(breath, sway + 0.3 * breath))


class Idle(Primitive):
    """A pause: no gesture for `duration` seconds (the idle motion keeps running underneath)."""

    name = "idle"
    gesture_class = "none"
    ranges = (ParamRange("duration", 0.5, 6.0, 2.0, unit="s"),)

    def duration(self, params: dict[str, float] | None = None) -> float:
        return self.resolve(params)["duration"]

    def offsets(self, t: np.ndarray, params: dict[str, float] | None = None) -> np.ndarray:
        return np.zeros((len(np.atleast_1d(t)), NUM_DOF))
