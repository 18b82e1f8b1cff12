"""Arm gestures: wave (either arm), beat gesture, open-arms welcome."""

from __future__ import annotations

from typing import ClassVar

from sampling.primitives.base import ParamRange
from sampling.primitives.keyframed import Builder, KeyframePrimitive, side_sign

SIDE = ParamRange("side", 0, 1, 0, integer=True, unit="0=right,1=left")


class Wave(KeyframePrimitive):
    """Raise one hand (upper arm forward, forearm up, wrist above the shoulder), swing it `cycles` times, lower it.

    The swing is upper-arm rotation about its long axis, which sweeps the vertical forearm side to side.
    """

    name = "wave"
    gesture_class = "wave"
    # Swings of 2A in T/2: 7.5 A f <= 7.5 * 0.3 * 1.2 = 2.7 rad/s.
    ranges = (
        ParamRange("amplitude", 0.1, 0.3, 0.25, unit="rad"),
        ParamRange("cycles", 1, 5, 3, integer=True),
        ParamRange("tempo", 0.6, 1.2, 1.0, unit="Hz"),
        SIDE,
    )
    RAISE: ClassVar[dict[str, float]] = {"shoulder_flex": 1.2, "shoulder_abd": 0.5, "elbow": 1.75}

    def build(self, p: dict[str, float], b: Builder) -> None:
        s, _ = side_sign(p["side"])
        raised = {f"{s}_{k}": v for k, v in self.RAISE.items()}
        period, a, rot = 1.0 / p["tempo"], p["amplitude"], f"{s}_shoulder_rot"
        b.stroke(0.6, **raised)
        b.move(period / 4, **{rot: a})
        for c in range(int(p["cycles"])):
            b.move(period / 2, **{rot: -a})
            if c < int(p["cycles"]) - 1:
                b.move(period / 2, **{rot: a})
        b.move(period / 4, **{rot: 0.0})
        b.rest_stroke(0.6)


class Beat(KeyframePrimitive):
    """Speech-accompanying beats: raise a forearm, then flick the hand down by `amplitude` `cycles` times at `tempo`."""

    name = "beat"
    gesture_class = "beat"
    # Down+up per cycle: 3.75 A f (elbow) + 0.3 of it at the shoulder <= 3.75 * 0.35 * 2.0 = 2.63 rad/s per group.
    ranges = (
        ParamRange("amplitude", 0.1, 0.35, 0.25, unit="rad"),
        ParamRange("cycles", 1, 4, 3, integer=True),
        ParamRange("tempo", 0.8, 2.0, 1.5, unit="Hz"),
        SIDE,
    )
    READY: ClassVar[dict[str, float]] = {"shoulder_flex": 0.45, "shoulder_abd": 0.2, "elbow": 1.3}

    def build(self, p: dict[str, float], b: Builder) -> None:
        s, _ = side_sign(p["side"])
        ready = {f"{s}_{k}": v for k, v in self.READY.items()}
        half, a = 0.5 / p["tempo"], p["amplitude"]
        b.stroke(0.4, **ready)
        down = {
            f"{s}_elbow": ready[f"{s}_elbow"] - a,
            f"{s}_shoulder_flex": ready[f"{s}_shoulder_flex"] - 0.3 * a,
        }
        for _ in range(int(p["cycles"])):
            b.move(half, **down).move(half, **ready)
        b.rest_stroke(0.4)


class Welcome(KeyframePrimitive):
    """Open both arms to the sides, palms forward, hold, and close: `amplitude` scales the opening (0.4-1)."""

    name = "welcome"
    gesture_class = "welcome"
    ranges = (
        ParamRange("amplitude", 0.4, 1.0, 0.8, unit="fraction"),
        ParamRange("hold", 0.3, 2.5, 1.0, unit="s"),
    )
    OPEN: ClassVar[dict[str, float]] = {
        "shoulder_flex": 0.45,
        "shoulder_abd": 0.95,
        "shoulder_rot": 0.35,
        "elbow": 0.45,
    }

    def build(self, p: dict[str, float], b: Builder) -> None:
        a = p["amplitude"]
        pose = {f"{s}_{k}": a * v for s in ("r", "l") for k, v in self.OPEN.items()}
        b.stroke(0.5, chest_pitch=-0.05 * a, **pose).hold(p["hold"]).rest_stroke(0.5)
