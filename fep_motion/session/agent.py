"""Drives a MotionPolicy in the loop's order (fep_motion/policies/base.py): set_body_busy -> step -> take_decision."""
from __future__ import annotations

from typing import Any

from fep_motion.policies import MotionPolicy, PolicyError, make_policy
from fep_motion.session.errors import SettingError
from fep_motion.session.loop import AgentStep
from perception.types import Observation

NEEDS_PARTICIPANT = ("reads a virtual participant's configuration, so it runs only with a virtual participant "
                     "(fep-motion demo, experiment simulate), not with a camera, video or recorded stream")


def check_policy_without_participant(spec: str) -> None:
    """Before a camera/video/recording session opens anything: the policy exists and needs no virtual participant
    (else a one-line SettingError naming the policy)."""
    agent = PolicyAgent.from_spec(spec)
    if getattr(agent.policy, "needs_participant", False):
        raise SettingError("policy", f"{agent.name} {NEEDS_PARTICIPANT}")


class PolicyAgent:
    """The loop's agent stage for any registered policy (name, entry point or module:Class)."""

    def __init__(self, policy: MotionPolicy, seed: int = 0) -> None:
        self.policy = policy
        self.policy.reset(seed)
        self.name = getattr(policy, "name", "") or type(policy).__name__

    @classmethod
    def from_spec(cls, spec: str, seed: int = 0) -> PolicyAgent:
        """Build the policy `spec` names; an unknown name is a one-line SettingError (policy) listing the known ones."""
        try:
            return cls(make_policy(spec), seed)
        except PolicyError as exc:
            raise SettingError("policy", str(exc)) from None

    def bind_participant(self, participant: Any) -> None:
        """Hand the session's virtual participant (None: a camera, video or recording) to a policy that reads it
        (`needs_participant`, e.g. the oracle); such a policy without one is a one-line SettingError (policy)."""
        if not getattr(self.policy, "needs_participant", False):
            return
        if participant is None:
            raise SettingError("policy", f"{self.name} {NEEDS_PARTICIPANT}")
        try:
            self.policy.bind_participant(participant)
        except PolicyError as exc:
            raise SettingError("policy", f"{self.name}: {exc}") from None

    def steer(self, shift: Any) -> None:
        """Hand the brain's current IntentShift (habits / preferences deltas) to the policy (baselines ignore it)."""
        steer = getattr(self.policy, "steer", None)
        if steer is not None:
            steer(shift.intent, shift.habits, shift.preferences)

    def belief(self) -> dict[str, Any] | None:
        """The policy's latest belief summary as plain values (None for policies without beliefs)."""
        b = getattr(self.policy, "belief", None)
        return b.to_dict() if b is not None and hasattr(b, "to_dict") else None

    def step(self, obs: Observation, t: float, body_busy: bool) -> AgentStep:
        self.policy.set_body_busy(body_busy, t)
        cmd = self.policy.step(obs, t)
        rec = self.policy.take_decision()
        F = self.policy.free_energy
        return AgentStep(command=cmd, decision=rec.to_dict() if rec is not None else None,
                         free_energy=None if F is None else float(F))
