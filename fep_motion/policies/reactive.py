"""The `reactive` baseline: rule-based backchannel nods after the human's nods or after a stretch of stillness."""
from __future__ import annotations

import numpy as np

from fep_motion.policies.base import DecisionRecord, MotionPolicy, PolicyError
from perception.types import FEATURE_INDEX, Observation
from sampling.primitives.base import MotionCommand


class ReactivePolicy(MotionPolicy):
    """Backchannel rules: nod `delay_s` after a human nod; nod after `still_s` seconds of human stillness."""

    name = "reactive"

    def __init__(self, delay_s: float = 0.5, still_s: float = 4.0, still_energy: float = 0.15,
                 primitive: str = "nod") -> None:
        super().__init__()
        if delay_s < 0 or still_s <= 0:
            raise PolicyError("reactive policy: delay_s must be >= 0 and still_s > 0")
        from sampling.primitives import get_primitive

        self.prim = get_primitive(primitive)
        self.delay_s, self.still_s, self.still_energy = float(delay_s), float(still_s), float(still_energy)
        self.reset(0)

    def reset(self, seed: int = 0) -> None:
        super().reset(seed)
        self._still_since: float | None = None
        self._due: float | None = None

    def _act(self, observation: Observation, now: float) -> MotionCommand | None:
        if any(e.kind == "nod" and not getattr(e, "complete", False) for e in observation.events):
            self._due = now + self.delay_s
        energy = observation.get("motion_energy")
        i = FEATURE_INDEX["motion_energy"]
        if observation.mask[i] and np.isfinite(energy) and energy < self.still_energy:
            self._still_since = now if self._still_since is None else self._still_since
        else:
            self._still_since = None
        reason = None
        if self._due is not None and now >= self._due:
            reason = "human_nod"
        elif self._still_since is not None and now - self._still_since >= self.still_s:
            reason = "stillness"
        if reason is None or self.body_busy:
            return None
        self._due = None
        self._still_since = now  # restart the stillness clock after a backchannel
        cmd = MotionCommand(primitive=self.prim.name, params=self.prim.defaults(), issued_at=now, source=self.name)
        self._record(DecisionRecord(t=now, policy=self.name, reason=reason, candidates=None, chosen=None, gamma=None,
                                    belief=None, free_energy=None, command=cmd))
        return cmd
