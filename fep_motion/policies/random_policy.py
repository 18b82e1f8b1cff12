"""The `random` baseline: non-contingent gestures at Poisson onsets, frequency-matched to a given rate."""
from __future__ import annotations

import math

from fep_motion.policies.base import DecisionRecord, MotionPolicy, PolicyError
from perception.types import Observation
from sampling.primitives.base import MotionCommand


class RandomPolicy(MotionPolicy):
    """Non-contingent: gestures at Poisson onsets (rate_hz, e.g. the FEP agent's measured rate), uniform primitive
    and parameters; ignores the human entirely."""

    name = "random"

    def __init__(self, rate_hz: float = 0.3, primitives: list[str] | None = None) -> None:
        super().__init__()
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise PolicyError(f"random policy: rate_hz must be > 0, got {rate_hz}")
        from sampling.primitives import all_primitives, get_primitive

        prims = [get_primitive(n) for n in primitives] if primitives else [
            p for p in all_primitives() if p.gesture_class != "none"]
        if not prims:
            raise PolicyError("random policy: no primitives to choose from")
        self.rate_hz = float(rate_hz)
        self.primitives = prims
        self.reset(0)

    @classmethod
    def matched_to(cls, onsets: list[float], duration_s: float, **kw) -> RandomPolicy:
        """A random policy whose rate equals the measured rate of `onsets` over `duration_s` seconds."""
        if duration_s <= 0 or not onsets:
            raise PolicyError("random policy: need a positive duration and at least one onset to match a rate")
        return cls(rate_hz=len(onsets) / duration_s, **kw)

    def reset(self, seed: int = 0) -> None:
        super().reset(seed)
        self._next: float | None = None

    def _act(self, observation: Observation, now: float) -> MotionCommand | None:
        if self._next is None:
            self._next = now + float(self.rng.exponential(1.0 / self.rate_hz))
        if now < self._next or self.body_busy:
            return None  # an onset that falls while the body is busy waits for it to be free (keeps the rate)
        # Poisson schedule: the next onset is drawn from the scheduled one, independent of the human.
        self._next = max(self._next + float(self.rng.exponential(1.0 / self.rate_hz)), now)
        prim = self.primitives[int(self.rng.integers(len(self.primitives)))]
        params = {r.name: (float(self.rng.integers(math.ceil(r.low), math.floor(r.high) + 1))
                           if r.integer else float(self.rng.uniform(r.low, r.high))) for r in prim.ranges}
        cmd = MotionCommand(primitive=prim.name, params=prim.resolve(params), issued_at=now, source=self.name)
        self._record(DecisionRecord(t=now, policy=self.name, reason="rate", candidates=None, chosen=None, gamma=None,
                                    belief=None, free_energy=None, command=cmd))
        return cmd
