"""Head gestures: nod, double nod, head tilt, head shake (neck joint offsets, minimum-jerk strokes)."""

from __future__ import annotations

from sampling.primitives.base import ParamRange
from sampling.primitives.keyframed import Builder, KeyframePrimitive, side_sign


class Nod(KeyframePrimitive):
    """Chin down by `amplitude` and back up, `cycles` times at `tempo` Hz (one down+up stroke pair per cycle)."""

    name = "nod"
    gesture_class = "nod"
    # Peak speed 15/8 * A / (T/2) = 3.75 A f <= 3.75 * 0.3 * 2.4 = 2.7 rad/s over the whole box.
    ranges = (
        ParamRange("amplitude", 0.05, 0.30, 0.18, unit="rad"),
        ParamRange("cycles", 1, 4, 2, integer=True),
        ParamRange("tempo", 0.8, 2.4, 1.6, unit="Hz"),
    )

    def build(self, p: dict[str, float], b: Builder) -> None:
        half = 0.5 / p["tempo"]
        for _ in range(int(p["cycles"])):
            b.move(half, neck_pitch=p["amplitude"]).move(half, neck_pitch=0.0)


class DoubleNod(KeyframePrimitive):
    """Two quick nods (a backchannel 'yes, yes'): amplitude and tempo; the cycle count is fixed at 2."""

    name = "double_nod"
    gesture_class = "nod"
    # 3.75 * 0.25 * 2.8 = 2.63 rad/s.
    ranges = (
        ParamRange("amplitude", 0.05, 0.25, 0.14, unit="rad"),
        ParamRange("tempo", 1.6, 2.8, 2.2, unit="Hz"),
    )
    cycles = 2

    def build(self, p: dict[str, float], b: Builder) -> None:
        half = 0.5 / p["tempo"]
        for _ in range(self.cycles):
            b.move(half, neck_pitch=p["amplitude"]).move(half, neck_pitch=0.0)


class HeadTilt(KeyframePrimitive):
    """Tilt the head toward one shoulder by `amplitude`, hold, and return (side 0 = agent's right, 1 = left)."""

    name = "head_tilt"
    gesture_class = "tilt"
    ranges = (
        ParamRange("amplitude", 0.08, 0.35, 0.22, unit="rad"),
        ParamRange("side", 0, 1, 1, integer=True, unit="0=right,1=left"),
        ParamRange("hold", 0.2, 2.5, 0.8, unit="s"),
    )

    def build(self, p: dict[str, float], b: Builder) -> None:
        _, sign = side_sign(p["side"])  # neck_roll + = toward the left shoulder
        b.stroke(0.35, neck_roll=sign * p["amplitude"]).hold(p["hold"]).rest_stroke(0.35)


class HeadShake(KeyframePrimitive):
    """Turn left/right by +-`amplitude`, `cycles` times at `tempo` Hz (starting to the agent's left)."""

    name = "head_shake"
    gesture_class = "shake"
    # Full swings of 2A in T/2: 15/8 * 2A / (T/2) = 7.5 A f <= 7.5 * 0.3 * 1.2 = 2.7 rad/s.
    ranges = (
        ParamRange("amplitude", 0.05, 0.30, 0.2, unit="rad"),
        ParamRange("cycles", 1, 4, 2, integer=True),
        ParamRange("tempo", 0.6, 1.2, 1.0, unit="Hz"),
    )

    def build(self, p: dict[str, float], b: Builder) -> None:
        period, a = 1.0 / p["tempo"], p["amplitude"]
        b.move(period / 4, neck_yaw=a)
        for c in range(int(p["cycles"])):
            b.move(period / 2, neck_yaw=-a)
            if c < int(p["cycles"]) - 1:
                b.move(period / 2, neck_yaw=a)
        b.move(period / 4, neck_yaw=0.0)
