"""Torso gestures: lean forward (interest) and lean back (reflection); the neck counter-rotates to keep eye level."""

from __future__ import annotations

from sampling.primitives.base import ParamRange
from sampling.primitives.keyframed import Builder, KeyframePrimitive

_LEAN_RANGES = (
    ParamRange("amplitude", 0.05, 0.30, 0.15, unit="rad"),
    ParamRange("hold", 0.3, 3.0, 1.0, unit="s"),
)
# Fraction of the chest pitch the neck undoes so the gaze stays on the human.
NECK_COMPENSATION = 0.6


class LeanForward(KeyframePrimitive):
    """Lean the chest forward by `amplitude`, hold, and come back."""

    name = "lean_forward"
    gesture_class = "lean"
    ranges = _LEAN_RANGES
    direction = 1.0

    def build(self, p: dict[str, float], b: Builder) -> None:
        a = self.direction * p["amplitude"]
        b.stroke(0.5, chest_pitch=a, neck_pitch=-NECK_COMPENSATION * a).hold(p["hold"]).rest_stroke(0.5)


class LeanBack(LeanForward):
    """Lean the chest back by `amplitude`, hold, and come back."""

    name = "lean_back"
    direction = -1.0
