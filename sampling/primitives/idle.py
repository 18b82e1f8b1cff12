"""Idle motion (breathing, slight sway, weight shifts), always running under every gesture, and the `idle` primitive."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sampling.primitives.base import DOF, NUM_DOF, ParamRange, Primitive

# The body's rest pose: head level, arms hanging slightly away from the torso, elbows a little bent.
REST_POSE = np.zeros(NUM_DOF)
for _name, _value in (("r_shoulder_abd", 0.12), ("l_shoulder_abd", 0.12), ("r_elbow", 0.2), ("l_elbow", 0.2)):
    REST_POSE[DOF[_name]] = _value


def _hash01(k: np.ndarray, seed: int, salt: float) -> np.ndarray:
    """Deterministic pseudo-random numbers in [0, 1) per integer k (vectorized; a fixed-seed hash, not a stream)."""
    x = np.sin(k * 12.9898 + seed * 78.233 + salt * 37.719) * 43758.5453
    return x - np.floor(x)


@dataclass(frozen=True)
class IdleMotion:
    """Rest pose plus breathing (chest pitch, shoulders), a slow incommensurate sway and occasional weight shifts
    (a minimum-jerk move of the upper body to a new resting lean every `shift_period` s on average), so the body is
    never frozen between gestures."""

    breath_rate: float = 0.25  # Hz, a calm adult at rest
    breath_amplitude: float = 0.03  # rad of chest pitch
    sway_amplitude: float = 0.03  # rad, chest roll/yaw and neck yaw (head drift scales with it)
    shift_amplitude: float = 0.045  # rad, largest chest roll of a weight shift (yaw follows at half)
    shift_period: float = 9.0  # s, one weight shift per period, at a seeded moment within it
    shift_duration: float = 2.0  # s, each shift's minimum-jerk move (Flash & Hogan 1985)
    seed: int = 0

    def __post_init__(self) -> None:
        if not (0.0 < self.breath_rate <= 1.0):
            raise ValueError(f"IdleMotion.breath_rate={self.breath_rate} must be in (0, 1] Hz")
        if not (0.0 <= self.breath_amplitude <= 0.1 and 0.0 <= self.sway_amplitude <= 0.1
                and 0.0 <= self.shift_amplitude <= 0.1):
            raise ValueError("IdleMotion amplitudes must be in [0, 0.1] rad")
        if not (0.5 <= self.shift_duration < self.shift_period):
            raise ValueError("IdleMotion.shift_duration must be in [0.5, shift_period) s")

    def _shift_target(self, k: np.ndarray, salt: float) -> np.ndarray:
        return self.shift_amplitude * (2.0 * _hash01(k, self.seed, salt) - 1.0) * (k >= 0)

    def weight_shift(self, t: np.ndarray, salt: float = 0.0) -> np.ndarray:
        """The weight-shift lean at times t (rad, before scaling per joint): a_{k-1} -> a_k by minimum jerk."""
        k = np.floor(t / self.shift_period)
        free = self.shift_period - self.shift_duration
        start = k * self.shift_period + _hash01(k, self.seed, salt + 0.5) * free
        s = np.clip((t - start) / self.shift_duration, 0.0, 1.0)
        h = s**3 * (10.0 - 15.0 * s + 6.0 * s**2)
        a0, a1 = self._shift_target(k - 1, salt), self._shift_target(k, salt)
        return a0 + (a1 - a0) * h

    def _phases(self) -> np.ndarray:
        return np.random.default_rng(self.seed).uniform(0.0, 2.0 * np.pi, size=7)

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
        # Head drift: small, faster movements of a person sitting still (never exactly periodic).
        out[:, DOF["neck_pitch"]] += 1.0 * sway * np.sin(2 * np.pi * 0.21 * t + ph[4])
        out[:, DOF["neck_yaw"]] += 1.2 * sway * np.sin(2 * np.pi * 0.27 * t + ph[5])
        out[:, DOF["neck_roll"]] += 0.6 * sway * np.sin(2 * np.pi * 0.17 * t + ph[6])
        if self.shift_amplitude > 0.0:
            roll = self.weight_shift(t)
            out[:, DOF["chest_roll"]] += roll
            out[:, DOF["neck_roll"]] -= 0.6 * roll  # the head stays nearly level over the shifted trunk
            out[:, DOF["chest_yaw"]] += 0.5 * self.weight_shift(t, salt=1.0)
        return out[0] if scalar else out

    def peak_speed(self) -> float:
        """Upper bound of any joint's idle speed (rad/s), summed over its sine terms."""
        two_pi = 2 * np.pi
        breath = self.breath_amplitude * two_pi * self.breath_rate
        sway = self.sway_amplitude * two_pi * max(0.6 * 0.071 + 0.4 * 0.113, 0.037 + 1.2 * 0.27, 1.0 * 0.21)
        shift = 1.875 * 2.0 * self.shift_amplitude / self.shift_duration  # minimum jerk peaks at 1.875 x mean speed
        return float(max(breath, sway + 0.3 * breath + shift))


class Idle(Primitive):
    """A pause: no gesture for `duration` seconds (the idle motion keeps running underneath)."""

    name = "idle"
    gesture_class = "none"
    ranges = (ParamRange("duration", 0.5, 6.0, 2.0, unit="s"),)

    def duration(self, params: dict[str, float] | None = None) -> float:
        return self.resolve(params)["duration"]

    def offsets(self, t: np.ndarray, params: dict[str, float] | None = None) -> np.ndarray:
        return np.zeros((len(np.atleast_1d(t)), NUM_DOF))
