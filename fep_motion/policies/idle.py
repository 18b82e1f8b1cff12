"""The `idle` baseline: never gestures (the body keeps its idle motion)."""
from __future__ import annotations

from fep_motion.policies.base import MotionPolicy
from perception.types import Observation
from sampling.primitives.base import MotionCommand


class IdlePolicy(MotionPolicy):
    """Never gestures: the no-behaviour control condition."""

    name = "idle"

    def _act(self, observation: Observation, now: float) -> MotionCommand | None:
        return None
