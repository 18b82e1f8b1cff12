"""The `oracle` ceiling for simulated studies: it reads the virtual participant's configuration instead of learning it.

It performs the gesture class this participant answers with the highest probability, at a given rate (the FEP agent's,
so the comparison isolates *what* is done from *how often*), timed as the virtual participant's model rewards: the
participant's engagement, which scales every answer, rises with the share of its own events that the agent answers
within 0.3-3 s (experiments/virtual_participant.py), so the oracle spends its gestures `answer_delay_s` after the
participant's detected events whenever its rate allows, and otherwise gestures when its rate budget is full.
It is usable only where the session has a virtual participant (`demo`, `experiment simulate`); with a camera, a
video or a recorded stream there is no configuration to read, and binding fails with one line.
"""
from __future__ import annotations

import math
from typing import Any

from fep_motion.policies.base import DecisionRecord, MotionPolicy, PolicyError
from perception.types import Observation
from sampling.primitives.base import MotionCommand

BUDGET_CAP = 2.0  # gestures of rate budget the oracle may save for answering the participant's events


class OraclePolicy(MotionPolicy):
    """Simulation ceiling: the virtual participant's most-answered gesture class, answering its events, at rate_hz."""

    name = "oracle"
    needs_participant = True  # the session must bind a virtual participant (bind_participant) before step()

    def __init__(self, rate_hz: float = 0.28, answer_delay_s: float = 0.5) -> None:
        super().__init__()
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise PolicyError(f"oracle policy: rate_hz must be > 0, got {rate_hz}")
        if not (math.isfinite(answer_delay_s) and 0 <= answer_delay_s <= 2.5):
            raise PolicyError(f"oracle policy: answer_delay_s must be in [0, 2.5], got {answer_delay_s}")
        self.rate_hz = float(rate_hz)
        self.answer_delay_s = float(answer_delay_s)
        self.best_class: str | None = None
        self._prims: list[Any] = []
        self.reset(0)

    def bind_participant(self, participant: Any) -> None:
        """Read the participant's contingencies (any object with `config.contingencies`: class -> probability)."""
        cont = getattr(getattr(participant, "config", None), "contingencies", None)
        if not cont:
            raise PolicyError("policy 'oracle' reads a virtual participant's configuration: it runs only with a "
                              "virtual participant (fep-motion demo, experiment simulate), not a camera or video")
        from sampling.primitives import all_primitives

        prims = {p.gesture_class: [] for p in all_primitives()}
        for p in all_primitives():
            prims[p.gesture_class].append(p)
        ranked = sorted((c for c in cont if prims.get(c)), key=lambda c: -float(cont[c].probability))
        if not ranked:
            raise PolicyError("policy 'oracle': the participant answers no gesture class the body can perform")
        self.best_class = ranked[0]
        self._prims = prims[self.best_class]

    def reset(self, seed: int = 0) -> None:
        super().reset(seed)
        self._budget = 1.0
        self._t: float | None = None
        self._due: float | None = None

    def _act(self, observation: Observation, now: float) -> MotionCommand | None:
        if not self._prims:
            raise PolicyError("policy 'oracle' was not bound to a virtual participant (bind_participant)")
        if self._t is not None:
            self._budget = min(BUDGET_CAP, self._budget + self.rate_hz * max(now - self._t, 0.0))
        self._t = now
        if self._due is None and self._budget >= 1.0 and any(
                not getattr(e, "complete", False) for e in observation.events):
            self._due = now + self.answer_delay_s
        reason = None
        if self._due is not None and now >= self._due:
            reason = "answer"
        elif self._budget >= BUDGET_CAP:
            reason = "rate"
        if reason is None or self.body_busy:
            return None
        self._due = None
        self._budget -= 1.0
        prim = self._prims[int(self.rng.integers(len(self._prims)))]
        cmd = MotionCommand(primitive=prim.name, params=prim.defaults(), issued_at=now, source=self.name,
                            meta={"gesture_class": self.best_class})
        self._record(DecisionRecord(t=now, policy=self.name, reason=reason, candidates=None, chosen=None, gamma=None,
                                    belief=None, free_energy=None, command=cmd))
        return cmd
