"""The FEP agent learns which of its gestures elicit the human's nods, driven through Observations
from a small simulated human: it nods back after one gesture class and never after another."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pytest

from fep_motion.model.generative import ACTIVITY_FACTOR
from fep_motion.policies.fep_policy import FepPolicy
from perception.types import FEATURE_INDEX, FEATURE_NAMES, HumanEvent, Observation
from sampling.primitives import get_primitive

FPS = 30.0


@dataclass
class SimulatedHuman:
    """Still and facing the agent; nods (2 Hz, 3 cycles) `latency` s after the onset of an agent gesture of class
    `answers`, never otherwise. Renders per-frame features with sensor noise, and a nod event at each nod's onset."""

    answers: str
    latency: float = 0.6
    tempo: float = 2.0
    cycles: int = 3
    seed: int = 0
    nods: list[float] = field(default_factory=list)  # nod onsets

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self._pending: list[float] = []

    def agent_gesture(self, gesture_class: str, onset: float) -> None:
        if gesture_class == self.answers:
            self._pending.append(onset + self.latency)

    def observe(self, t: float) -> Observation:
        events = []
        for start in [s for s in self._pending if s <= t]:
            self._pending.remove(start)
            if not self.nods or start >= self.nods[-1] + self.cycles / self.tempo:
                self.nods.append(start)
                events.append(HumanEvent(kind="nod", t_onset=start, cycles=self.cycles, magnitude=0.3))
        f = np.zeros(len(FEATURE_NAMES))
        f += self.rng.normal(0.0, 0.02, size=f.shape)
        f[FEATURE_INDEX["facing"]] = 0.9
        if self.nods and 0 <= t - self.nods[-1] < self.cycles / self.tempo:
            ph = 2 * math.pi * self.tempo * (t - self.nods[-1])
            f[FEATURE_INDEX["head_pitch"]] += 0.15 * math.sin(ph)
            f[FEATURE_INDEX["head_pitch_vel"]] += 0.15 * 2 * math.pi * self.tempo * math.cos(ph)
            f[FEATURE_INDEX["motion_energy"]] += 0.3
        return Observation(t=t, features=f, mask=np.ones(len(f), bool), confidence=np.full(len(f), 0.9),
                           events=events)


def interact(human: SimulatedHuman, seconds: float, seed: int = 0, **overrides) -> list[tuple[float, str]]:
    """Run the agent against the human; the body is busy for each command's duration. Returns (onset, class)."""
    agent = FepPolicy(**overrides)
    agent.reset(seed)
    return run_agent(agent, human, seconds)


def run_agent(agent: FepPolicy, human: SimulatedHuman, seconds: float) -> list[tuple[float, str]]:
    """Step a reset agent against the human for `seconds`; returns (onset, class) of each gesture it performed."""
    gestures: list[tuple[float, str]] = []
    busy_until = -1.0
    for i in range(int(seconds * FPS)):
        t = i / FPS
        agent.set_body_busy(t < busy_until, t)
        cmd = agent.step(human.observe(t), t)
        if cmd is not None:
            prim = get_primitive(cmd.primitive)
            busy_until = cmd.onset + prim.duration(cmd.params)
            human.agent_gesture(prim.gesture_class, cmd.onset)
            gestures.append((cmd.onset, prim.gesture_class))
    return gestures


def share(gestures: list[tuple[float, str]], cls: str, after: float) -> float:
    late = [g for t, g in gestures if t >= after]
    assert len(late) >= 8, f"too few gestures after {after}s: {late}"  # waves last up to ~8 s
    return sum(g == cls for g in late) / len(late)


# "A preference for human nods": log-preferences only on the human's nodding outcomes; everything else default
# (novelty on, gamma from the shipped agent.yaml).
NOD_PREFERENCE = {"head": {"pitching": 3.0}, "event": {"nod": 4.0}}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("answers", ["nod", "wave"])
def test_agent_prefers_the_gesture_the_human_answers(answers: str, seed: int) -> None:
    """>= 80 % of the agent's gestures after the first 60 s are the class the human answers; reversing the
    contingency (the human answers waves, never nods) switches the agent to waves."""
    gestures = interact(SimulatedHuman(answers=answers, seed=seed), seconds=120.0, seed=seed,
                        preferences=NOD_PREFERENCE)
    assert share(gestures, answers, after=60.0) >= 0.8, gestures


def test_without_a_contingency_the_agent_does_not_settle_on_nods() -> None:
    """Control: a human who never answers gives the agent no reason to prefer nods."""
    gestures = interact(SimulatedHuman(answers="nobody", seed=0), seconds=120.0, seed=0,
                        preferences=NOD_PREFERENCE)
    assert share(gestures, "nod", after=60.0) < 0.5, gestures


def test_each_gesture_is_one_dirichlet_count_of_its_answer() -> None:
    """The response model learns once per own gesture (fep_policy._learn_from_trials): an answered class gains
    learning_rate counts toward 'nodding', an unanswered one toward 'still', and classes never performed keep their
    prior counts exactly."""
    human = SimulatedHuman(answers="tilt", seed=3)
    agent = FepPolicy(preferences=NOD_PREFERENCE)
    agent.reset(3)
    prior = agent.model.pB[ACTIVITY_FACTOR].copy()
    performed = [g for _, g in run_agent(agent, human, 60.0)]
    from fep_motion.model.spaces import ACTIVITY, CONTROLS

    gain = (agent.model.pB[ACTIVITY_FACTOR] - prior).sum(axis=1)  # (to-state, control): counts added
    lr = agent.cfg.learning_rate
    tilt, nodding, still = CONTROLS.index("tilt"), ACTIVITY.index("nodding"), ACTIVITY.index("still")
    assert "tilt" in performed and gain[nodding, tilt] >= lr * 0.99
    for g in set(performed) - {"tilt"}:
        u = CONTROLS.index(g)
        if performed.count(g) >= 2:  # the last one may still be inside its response window
            assert gain[still, u] >= lr * 0.99 and gain[nodding, u] < 1e-9, g
    for g in set(CONTROLS[1:]) - set(performed):
        u = CONTROLS.index(g)
        assert np.array_equal(agent.model.pB[ACTIVITY_FACTOR][:, :, u], prior[:, :, u]), g
