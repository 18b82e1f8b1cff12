"""Minimum-jerk point-to-point profiles (Flash & Hogan 1985) and keyframe trajectories built from them.

Every gesture is a chain of via-poses joined by minimum-jerk strokes, so each stroke starts and ends with zero
velocity and acceleration: onsets and offsets are smooth and the peak speed of every stroke is known in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Peak of the minimum-jerk velocity profile, reached mid-stroke: max ds/dtau = 15/8 (Flash & Hogan 1985, eq. 4 at
# tau=1/2).
MINJERK_PEAK_VELOCITY = 15.0 / 8.0


def minjerk(s: np.ndarray | float) -> np.ndarray:
    """Normalized minimum-jerk position 10s^3 - 15s^4 + 6s^5 for s in [0, 1] (Flash & Hogan 1985, eq. 4); clipped."""
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
    return s**3 * (10.0 - 15.0 * s + 6.0 * s**2)


def minjerk_velocity(s: np.ndarray | float) -> np.ndarray:
    """d/ds of minjerk: 30s^2 (1 - s)^2 (zero at both ends; peak 15/8 at s = 1/2)."""
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, 1.0)
    return 30.0 * s**2 * (1.0 - s) ** 2


@dataclass(frozen=True)
class Keyframes:
    """Via-poses over time, joined by minimum-jerk strokes; offsets are zero before the first and after the last."""

    times: np.ndarray  # [K] strictly increasing seconds since onset, times[0] == 0
    poses: np.ndarray  # [K, NUM_DOF] joint offsets (radians) at those times; first and last rows are zero

    def __post_init__(self) -> None:
        if self.times.ndim != 1 or self.poses.ndim != 2 or len(self.times) != len(self.poses):
            raise ValueError("Keyframes need times [K] and poses [K, NUM_DOF]")
        if len(self.times) < 2 or np.any(np.diff(self.times) <= 0.0):
            raise ValueError("Keyframes times must be strictly increasing with at least two entries")

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def evaluate(self, t: np.ndarray) -> np.ndarray:
        """Offsets [len(t), NUM_DOF] at times t: piecewise minimum-jerk between consecutive via-poses."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        out = np.zeros((len(t), self.poses.shape[1]))
        inside = (t >= self.times[0]) & (t <= self.times[-1])
        if not np.any(inside):
            return out
        ti = t[inside]
        k = np.clip(np.searchsorted(self.times, ti, side="right") - 1, 0, len(self.times) - 2)
        t0, t1 = self.times[k], self.times[k + 1]
        s = minjerk((ti - t0) / (t1 - t0))[:, None]
        out[inside] = self.poses[k] + (self.poses[k + 1] - self.poses[k]) * s
        return out

    def peak_velocity(self) -> np.ndarray:
        """Per-joint peak speed (rad/s) over all strokes: 15/8 * |delta| / stroke time (Flash & Hogan 1985, eq. 4)."""
        dq = np.abs(np.diff(self.poses, axis=0))
        dt = np.diff(self.times)[:, None]
        return (MINJERK_PEAK_VELOCITY * dq / dt).max(axis=0)


class KeyframeBuilder:
    """Accumulates (time, pose) via-points; `move(dt, **angles)` adds a stroke to new angles, `hold(dt)` stays."""

    def __init__(self, dof_index: dict[str, int], num_dof: int) -> None:
        self._dof = dof_index
        self._times: list[float] = [0.0]
        self._poses: list[np.ndarray] = [np.zeros(num_dof)]

    @property
    def now(self) -> float:
        return self._times[-1]

    @property
    def pose(self) -> np.ndarray:
        return self._poses[-1].copy()

    def move(self, dt: float, **angles: float) -> KeyframeBuilder:
        """A minimum-jerk stroke of dt seconds to the given joint offsets (others keep their current value)."""
        pose = self.pose
        for name, value in angles.items():
            pose[self._dof[name]] = value
        self._times.append(self.now + float(dt))
        self._poses.append(pose)
        return self

    def move_to(self, dt: float, pose: np.ndarray) -> KeyframeBuilder:
        self._times.append(self.now + float(dt))
        self._poses.append(np.asarray(pose, dtype=np.float64).copy())
        return self

    def hold(self, dt: float) -> KeyframeBuilder:
        return self.move_to(dt, self.pose)

    def rest(self, dt: float) -> KeyframeBuilder:
        """Return every joint to zero offset in a stroke of dt seconds."""
        return self.move_to(dt, np.zeros_like(self.pose))

    def build(self) -> Keyframes:
        return Keyframes(np.asarray(self._times), np.vstack(self._poses))
