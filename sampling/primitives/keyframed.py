"""Keyframed primitives: a gesture defined as minimum-jerk strokes between via-poses (Flash & Hogan 1985)."""

from __future__ import annotations

from abc import abstractmethod
from functools import lru_cache

import numpy as np

from sampling.primitives.base import DOF, DOF_GROUPS, NUM_DOF, Primitive
from sampling.primitives.minjerk import MINJERK_PEAK_VELOCITY, KeyframeBuilder, Keyframes

# Design speed limit for every primitive over its whole parameter box: per joint group, the sum of |angle rates|
# (rad/s). 2.75 rad/s keeps a 30 Hz frame step below 0.1 rad with idle motion on top (see timeline.py).
MAX_GROUP_SPEED = 2.75
# Speed for free (non-rhythmic) strokes such as raising an arm: deliberate, well under the limit.
COMFORT_SPEED = 2.5


class Builder(KeyframeBuilder):
    """KeyframeBuilder over DOF_NAMES, plus `stroke`: a move timed from a comfortable group speed."""

    def __init__(self) -> None:
        super().__init__(DOF, NUM_DOF)

    def stroke(self, min_dt: float, **angles: float) -> Builder:
        """Move to angles in max(min_dt, time at which the busiest joint group peaks at COMFORT_SPEED)."""
        target = self.pose
        for name, value in angles.items():
            target[DOF[name]] = value
        return self.stroke_to(min_dt, target)

    def stroke_to(self, min_dt: float, target: np.ndarray) -> Builder:
        delta = np.abs(target - self.pose)
        l1 = max(float(delta[list(g)].sum()) for g in DOF_GROUPS.values())
        dt = max(min_dt, MINJERK_PEAK_VELOCITY * l1 / COMFORT_SPEED)
        self.move_to(dt, target)
        return self

    def rest_stroke(self, min_dt: float) -> Builder:
        return self.stroke_to(min_dt, np.zeros(NUM_DOF))


def side_sign(side: float) -> tuple[str, float]:
    """side parameter 0 = the agent's right arm, 1 = left: returns the DOF prefix and the mirror sign for roll/yaw."""
    return ("r", -1.0) if round(side) == 0 else ("l", 1.0)


class KeyframePrimitive(Primitive):
    """A primitive whose offsets are a Keyframes chain built from its (resolved) parameters."""

    @abstractmethod
    def build(self, p: dict[str, float], b: Builder) -> None:
        """Append this gesture's strokes to b (which starts at rest, time 0); must end at rest."""

    def keyframes(self, params: dict[str, float] | None = None) -> Keyframes:
        p = self.resolve(params)
        return _cached_keyframes(self, tuple(sorted(p.items())))

    def duration(self, params: dict[str, float] | None = None) -> float:
        return self.keyframes(params).duration

    def offsets(self, t: np.ndarray, params: dict[str, float] | None = None) -> np.ndarray:
        return self.keyframes(params).evaluate(t)

    def peak_group_speed(self, params: dict[str, float] | None = None) -> float:
        """Largest per-group sum of |angle rates| (rad/s) over the gesture, from the closed-form stroke peaks."""
        kf = self.keyframes(params)
        dq = np.abs(np.diff(kf.poses, axis=0))
        dt = np.diff(kf.times)
        worst = 0.0
        for g in DOF_GROUPS.values():
            worst = max(worst, float((MINJERK_PEAK_VELOCITY * dq[:, list(g)].sum(axis=1) / dt).max()))
        return worst

    def __repr__(self) -> str:
        return f"<primitive {self.name} ({self.gesture_class})>"


@lru_cache(maxsize=512)
def _cached_keyframes(prim: KeyframePrimitive, items: tuple[tuple[str, float], ...]) -> Keyframes:
    b = Builder()
    prim.build(dict(items), b)
    kf = b.build()
    if np.any(kf.poses[-1] != 0.0):
        raise AssertionError(f"primitive {prim.name} does not end at rest")
    return kf
