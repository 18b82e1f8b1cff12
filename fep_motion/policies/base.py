"""The MotionPolicy interface the session loop drives, and the DecisionRecord every decision leaves behind.

Per frame the session loop calls, in this order:

    policy.set_body_busy(busy, now)   # is the body still performing a gesture? (it may end before or after its plan)
    cmd = policy.step(observation, now)   # -> MotionCommand | None
    record = policy.take_decision()       # -> DecisionRecord | None, each decision returned exactly once
    F = policy.free_energy                # this frame's variational free energy (None for non-inferential policies)

or all four at once: `cmd, record, F = policy.step_frame(observation, now, body_busy)`; `record.to_dict()` gives the
store's plain values (t, candidates as rows, chosen, gamma, free_energy, belief, command).

`reset(seed)` starts a new session. A policy never issues a command while the body is busy. Third-party policies
subclass MotionPolicy (or quack like it) and register under the entry-point group `fep_motion.policies`.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from perception.types import Observation
from sampling.primitives.base import MotionCommand

# Every DecisionRecord.reason the built-in policies give, and what it means (third-party policies may add their own).
DECISION_REASONS: dict[str, str] = {
    "start": "fep: the session's first decision",
    "gesture_end": "fep: the body finished the agent's gesture (after decision.min_pause_s)",
    "wait_end": "fep: a pause the agent chose is over",
    "human_event": "fep: perception detected a human event (decision.on_human_event)",
    "hazard": "fep: the hazard clock fired (decision.hazard_rate_hz)",
    "speech_cue": "fep: the human's speech gave a pause cue, low pitch or a segment's end (decision.on_speech_cue)",
    "over_speech": "fep: a large gesture over the human's speech, chosen because its G was lower than every small "
                   "candidate's by decision.over_speech_margin (the record's extra.trigger says why it decided)",
    "manual": "fep: FepPolicy.decide called directly, outside the frame loop",
    "rate": "random, oracle: the policy's own gesture rate",
    "answer": "oracle: answering the participant's event after answer_delay_s",
    "mimic": "mimic: copying the human's gesture after its delay",
    "human_nod": "reactive: a backchannel after the human's nod",
    "stillness": "reactive: the human has been still for still_s",
}


class PolicyError(ValueError):
    """A policy that cannot be found, loaded or configured; the message names it and the fix."""


@dataclass
class BeliefSummary:
    """The agent's belief at one frame: factor marginals, rhythm, entropy and F = complexity − accuracy."""

    t: float
    engagement: dict[str, float]
    activity: dict[str, float]
    rhythm_phase: float
    rhythm_tempo_hz: float
    rhythm_confidence: float
    entropy: float  # Σ_f H[q(s_f)] (nats), discrete factors
    rhythm_entropy: float  # differential entropy of the rhythm Gaussian (nats)
    F: float
    complexity: float
    accuracy: float
    # the brain's steering in force at a decision (fep policy only): {"intent", "habits": {class: Δ ln E},
    # "preferences": {"modality.outcome": Δ C}}; empty when nothing steers
    steering: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class CandidateTable:
    """The K candidates of one decision as columns (cheap to build at decision time; `rows()` for a store)."""

    primitive_names: tuple[str, ...]
    primitive_index: np.ndarray  # (K,) into primitive_names
    gesture_classes: tuple[str, ...]
    gesture_index: np.ndarray  # (K,) into gesture_classes
    onset_delay: np.ndarray  # (K,) s
    param_names: tuple[str, ...]
    params: np.ndarray  # (K, len(param_names)), NaN where a primitive lacks the parameter
    G: np.ndarray
    risk: np.ndarray
    ambiguity: np.ndarray
    novelty: np.ndarray
    prob: np.ndarray  # q(pi) over the K candidates

    def __len__(self) -> int:
        return int(self.primitive_index.shape[0])

    def primitive(self, i: int) -> str:
        return self.primitive_names[int(self.primitive_index[i])]

    def gesture_class(self, i: int) -> str:
        return self.gesture_classes[int(self.gesture_index[i])]

    def params_of(self, i: int) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.param_names, self.params[i]) if np.isfinite(v)}

    def rows(self) -> list[dict[str, Any]]:
        return [{
            "primitive": self.primitive(i), "gesture_class": self.gesture_class(i),
            "onset_delay": float(self.onset_delay[i]), "params": self.params_of(i),
            "G": float(self.G[i]), "risk": float(self.risk[i]), "ambiguity": float(self.ambiguity[i]),
            "novelty": float(self.novelty[i]), "prob": float(self.prob[i]),
        } for i in range(len(self))]


@dataclass
class DecisionRecord:
    """One decision: why it happened, the scored candidates, the chosen index (None = wait), γ, belief and F."""

    t: float
    policy: str
    reason: str  # a key of DECISION_REASONS for the built-in policies
    candidates: CandidateTable | None
    chosen: int | None
    gamma: float | None
    belief: BeliefSummary | None
    free_energy: float | None
    command: MotionCommand | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for the session store (keys: t, policy, reason, candidates, chosen, gamma, free_energy, belief,
        command)."""
        cmd = None
        if self.command is not None:
            cmd = {"primitive": self.command.primitive, "params": dict(self.command.params),
                   "issued_at": self.command.issued_at, "onset_delay": self.command.onset_delay}
        return {
            "t": self.t, "policy": self.policy, "reason": self.reason,
            "candidates": self.candidates.rows() if self.candidates is not None else [],
            "chosen": self.chosen, "gamma": self.gamma, "free_energy": self.free_energy,
            "belief": self.belief.to_dict() if self.belief is not None else None,
            "command": cmd, **({"extra": self.extra} if self.extra else {}),
        }


def _duration(cmd: MotionCommand) -> float:
    """Seconds the command's primitive takes (0 if the primitive is unknown to the registry)."""
    from sampling.primitives import get_primitive

    try:
        prim = get_primitive(cmd.primitive)
        return float(prim.duration(prim.resolve(cmd.params)))
    except ValueError:
        return 0.0


class MotionPolicy(ABC):
    """Base class: body-busy bookkeeping and the decision-record mailbox; subclasses implement `_act`."""

    name: str = ""

    def __init__(self) -> None:
        self._busy_reported: bool | None = None  # what the session loop last said (None: never told)
        self._busy_until = -np.inf  # the policy's own estimate of when its gesture ends
        self._pending: DecisionRecord | None = None
        self.last_decision: DecisionRecord | None = None
        self.free_energy: float | None = None
        self.rng = np.random.default_rng(0)
        self._now = -np.inf

    def reset(self, seed: int = 0) -> None:
        """Start a new session: fresh RNG (seeded) and state."""
        self.rng = np.random.default_rng(seed)
        self._busy_reported = None
        self._busy_until = -np.inf
        self._now = -np.inf
        self._pending = None
        self.last_decision = None
        self.free_energy = None

    def set_body_busy(self, busy: bool, now: float) -> None:
        """Tell the policy whether the body is still executing a gesture (True → step() issues nothing).
        Once told, the policy trusts this over its own estimate (onset + the primitive's duration)."""
        self._busy_reported = bool(busy)

    @property
    def body_busy(self) -> bool:
        if self._busy_reported is not None:
            return self._busy_reported
        return self._now < self._busy_until

    def step(self, observation: Observation, now: float) -> MotionCommand | None:
        """Consume one frame's observation; maybe return a command (never while the body is busy)."""
        self._now = now
        cmd = self._act(observation, now)
        if cmd is not None:
            if not cmd.source:
                cmd.source = self.name
            self._busy_until = cmd.onset + _duration(cmd)
            if self._busy_reported is not None:
                self._busy_reported = True  # until the session loop says otherwise
        return cmd

    def step_frame(self, observation: Observation, now: float, body_busy: bool
                   ) -> tuple[MotionCommand | None, DecisionRecord | None, float | None]:
        """One frame in one call, for a session loop: set_body_busy + step + take_decision + free_energy."""
        self.set_body_busy(body_busy, now)
        cmd = self.step(observation, now)
        return cmd, self.take_decision(), self.free_energy

    def steer(self, intent: str, habits: Mapping[str, float], preferences: Mapping[tuple[str, str], float]) -> None:
        """The brain's shift of habits E (gesture class -> Δ log weight) and preferences C ((modality, outcome) -> Δ)
        for the next decisions. Baselines (random, mimic, reactive, idle) ignore it: they have no E or C, and as
        comparison conditions they must not change with the conversation. The fep policy overrides this."""

    def take_decision(self) -> DecisionRecord | None:
        """The newest decision since the last call (None if none); each record is returned once."""
        rec, self._pending = self._pending, None
        return rec

    def _record(self, rec: DecisionRecord) -> None:
        self._pending = rec
        self.last_decision = rec

    @abstractmethod
    def _act(self, observation: Observation, now: float) -> MotionCommand | None:
        """Policy-specific: update state from the observation; return a command or None."""
