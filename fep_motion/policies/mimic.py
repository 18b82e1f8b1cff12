"""The `mimic` baseline: a delayed copy of the human's head and arm motion, expressed as primitives."""
from __future__ import annotations

import math
from collections import deque

from fep_motion.policies.base import DecisionRecord, MotionPolicy, PolicyError
from perception.types import Observation
from sampling.primitives.base import MotionCommand

# human event kind -> the primitive that copies it
COPY = {"nod": "nod", "shake": "head_shake", "gesture": "wave"}


class MimicPolicy(MotionPolicy):
    """Copies each detected human nod / head shake / arm gesture `delay_s` later, matching cycles and tempo."""

    name = "mimic"

    def __init__(self, delay_s: float = 1.0) -> None:
        super().__init__()
        if not (math.isfinite(delay_s) and delay_s >= 0):
            raise PolicyError(f"mimic policy: delay_s must be >= 0, got {delay_s}")
        from sampling.primitives import get_primitive

        self.delay_s = float(delay_s)
        self.prims = {k: get_primitive(v) for k, v in COPY.items()}
        self.reset(0)

    def reset(self, seed: int = 0) -> None:
        super().reset(seed)
        self._queue: deque[tuple[float, str, dict[str, float]]] = deque()

    def _params(self, kind: str, ev) -> dict[str, float]:
        prim = self.prims[kind]
        ranges = {r.name: r for r in prim.ranges}
        out: dict[str, float] = {}
        if "cycles" in ranges and ev.cycles > 0:
            out["cycles"] = ranges["cycles"].clip(ev.cycles)
        if "amplitude" in ranges and ev.magnitude > 0 and kind != "gesture":
            out["amplitude"] = ranges["amplitude"].clip(0.5 * ev.magnitude)  # peak-to-peak → amplitude
        if "tempo" in ranges and ev.t_offset is not None and ev.cycles > 0 and ev.t_offset > ev.t_onset:
            out["tempo"] = ranges["tempo"].clip(ev.cycles / (ev.t_offset - ev.t_onset))
        return out

    def _act(self, observation: Observation, now: float) -> MotionCommand | None:
        for ev in observation.events:
            if ev.kind in self.prims and getattr(ev, "complete", False) is False:
                self._queue.append((ev.t_onset + self.delay_s, ev.kind, self._params(ev.kind, ev)))
            elif ev.kind in self.prims and ev.complete and self._queue and self._queue[-1][1] == ev.kind:
                due, kind, _ = self._queue[-1]  # the completed report carries final cycles/tempo: refine
                self._queue[-1] = (due, kind, self._params(kind, ev))
        if not self._queue or self._queue[0][0] > now or self.body_busy:
            return None
        due, kind, params = self._queue.popleft()
        prim = self.prims[kind]
        cmd = MotionCommand(primitive=prim.name, params=prim.resolve(params), issued_at=now, source=self.name,
                            meta={"copies": kind, "human_onset": due - self.delay_s})
        self._record(DecisionRecord(t=now, policy=self.name, reason="mimic", candidates=None, chosen=None, gamma=None,
                                    belief=None, free_energy=None, command=cmd))
        return cmd
