"""The FEP agent sees the virtual participant's answers through the real perception path.

One reason the agent elicited no more gestures than the random agent in the full loop: its likelihood A claimed more
motion per frame than perception reports during a nod or gesture: every motionless frame of a nod (zero pitch
velocity at each turn) read as strong evidence for "still", the activity belief flickered (mean q(nodding) 0.18 over
true nods), and the response model, learned once per step from that belief, missed most of the human's answers.
These checks drive virtual participant -> perception -> FepPolicy (no store, no rendering); the belief checks fail
with that A (mean q(nodding) over true nods 0.29 and 0.18 for seeds 0 and 1, threshold 0.35).
"""
from __future__ import annotations

import numpy as np
import pytest

from experiments.virtual_participant import VirtualParticipant
from experiments.vp_config import Contingency, VirtualParticipantConfig
from fep_motion.model.generative import ACTIVITY_FACTOR
from fep_motion.model.spaces import ACTIVITY, CONTROLS
from fep_motion.policies.fep_policy import FepPolicy
from perception.pipeline import Perception
from sampling.primitives import get_primitive

FPS = 30.0
NODDING, STILL = ACTIVITY.index("nodding"), ACTIVITY.index("still")


def _participant(seed: int, answers_nods: float, nod_rate: float = 6.0) -> VirtualParticipant:
    """An engaged participant who nods spontaneously and answers the agent's nods (only) with this probability."""
    cfg = VirtualParticipantConfig(
        nod_rate=nod_rate, gesture_rate=0.0, engagement_initial=1.0, engagement_baseline=1.0, engagement_gain=0.0,
        dropout_rate=0.0, nod_cycles_min=2, nod_cycles_max=3,
        contingencies={c: Contingency(probability=answers_nods if c == "nod" else 0.0, latency_mean=1.0,
                                      latency_sd=0.3, response="nod") for c in CONTROLS if c != "none"})
    return VirtualParticipant(cfg, seed=seed)


def _drive(vp: VirtualParticipant, agent: FepPolicy, seconds: float) -> np.ndarray:
    """Run participant -> perception -> agent; the participant is told of each command. Rows: t, q(activity)."""
    perception = Perception(create_pose=False)
    busy_until = -1.0
    rows = []
    for i in range(int(seconds * FPS)):
        t = i / FPS
        _, obs = perception.process_pose(vp.pose(t))
        agent.set_body_busy(t < busy_until, t)
        cmd = agent.step(obs, t)
        if cmd is not None:
            prim = get_primitive(cmd.primitive)
            busy_until = cmd.onset + prim.duration(prim.resolve(cmd.params))
            vp.notify_agent(cmd, prim.gesture_class)
        rows.append((t, *agent.qs[ACTIVITY_FACTOR]))
    return np.array(rows)


@pytest.mark.parametrize("seed", [0, 1])
def test_activity_belief_holds_through_the_participants_nods(seed: int) -> None:
    """Over the frames of ground-truth nods the agent believes 'nodding' on average >= 0.35,
    and between the participant's actions it believes 'still' (>= 0.95)."""
    vp = _participant(seed, answers_nods=0.0)
    agent = FepPolicy()
    agent.reset(seed)
    rows = _drive(vp, agent, 40.0)
    t = rows[:, 0]
    during, quiet = np.zeros(t.size, bool), np.ones(t.size, bool)
    for ev in vp.truth:
        during |= (t >= ev.t_onset) & (t <= ev.t_offset)
        quiet &= ~((t >= ev.t_onset - 0.5) & (t <= ev.t_offset + 1.0))
    assert sum(ev.kind == "nod" for ev in vp.truth) >= 2 and quiet.sum() > 150
    assert rows[during, 1 + NODDING].mean() >= 0.35, rows[during, 1 + NODDING].mean()
    assert rows[quiet, 1 + STILL].mean() >= 0.95, rows[quiet, 1 + STILL].mean()


def test_answered_gesture_is_learned_above_its_prior() -> None:
    """A participant who answers the agent's nods (p = 0.8) and nothing else: after 90 s the learned
    p(nodding | still, nod) is above the prior's and above every other gesture's: the answers, seen only through
    perception's features and events, are credited to the gesture they answer."""
    vp = _participant(3, answers_nods=0.8, nod_rate=2.0)
    agent = FepPolicy()
    agent.reset(3)
    _drive(vp, agent, 90.0)
    prior = build_prior(agent)
    learned = {g: float(b[NODDING, STILL]) for g, b in agent.response_model().items()}
    answered = sum(ev.cause == "response" for ev in vp.truth)
    assert answered >= 3, answered
    assert learned["nod"] > prior[NODDING, STILL], learned
    assert learned["nod"] > max(v for g, v in learned.items() if g != "nod"), learned


def build_prior(agent: FepPolicy) -> np.ndarray:
    """The response model's prior mean (before any learning): a fresh model's B for the learned factor."""
    from fep_motion.model.generative import build_generative_model

    return build_generative_model(agent.cfg).B[ACTIVITY_FACTOR][:, :, 0]
