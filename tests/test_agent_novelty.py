"""With novelty on, the agent explores: every gesture class is tried within the first N decisions (N = number of
gesture classes + 3), and the novelty term is what singles out the untried gestures."""
from __future__ import annotations

import numpy as np
import pytest
from test_agent_contingency import FPS, SimulatedHuman

from fep_motion.policies.fep_policy import DETECTION_LAG_S, FepPolicy
from sampling.primitives import all_primitives, get_primitive

CLASSES = {p.gesture_class for p in all_primitives()} - {"none"}
N_DECISIONS = len(CLASSES) + 3  # documented in the README (agent section)


def run(seed: int, seconds: float, **overrides):
    human = SimulatedHuman(answers="nobody", seed=seed)  # never answers: only curiosity drives the choice
    agent = FepPolicy(**overrides)
    agent.reset(seed)
    decisions, busy = [], -1.0
    for i in range(int(seconds * FPS)):
        t = i / FPS
        agent.set_body_busy(t < busy, t)
        cmd = agent.step(human.observe(t), t)
        rec = agent.take_decision()
        if rec is not None:
            decisions.append(rec)
        if cmd is not None:
            busy = cmd.onset + get_primitive(cmd.primitive).duration(cmd.params)
    return agent, decisions


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_gesture_class_tried_within_n_decisions(seed):
    _, decisions = run(seed, 60.0)
    tried = set()
    for rec in decisions[:N_DECISIONS]:
        if rec.command is not None:
            tried.add(get_primitive(rec.command.primitive).gesture_class)
    assert tried == CLASSES, (tried, [r.command.primitive if r.command else None for r in decisions[:N_DECISIONS]])


def test_novelty_is_larger_for_untried_gestures():
    """After a few decisions, candidates of classes not yet tried carry more parameter information gain than those of
    classes whose trial has been learned (a gesture's answer window must have passed; pending ones are left out)."""
    agent, decisions = run(0, 12.0)
    now = decisions[-1].t
    learned_by = agent.cfg.response_window_s + DETECTION_LAG_S
    gestures = [(get_primitive(r.command.primitive).gesture_class, r.command.onset)
                for r in decisions[:-1] if r.command]
    tried = {g for g, onset in gestures if onset + learned_by <= now}
    pending = {g for g, _onset in gestures} - tried
    table = decisions[-1].candidates
    nov = {}
    for i in range(len(table)):
        nov.setdefault(table.gesture_class(i), []).append(table.novelty[i])
    untried = [np.mean(v) for g, v in nov.items() if g not in tried | pending and g != "none"]
    done = [np.mean(v) for g, v in nov.items() if g in tried]
    assert untried and done and min(untried) > max(done)


def test_novelty_off_records_zero_novelty():
    _, decisions = run(0, 6.0, novelty=False)
    assert decisions and all(np.all(r.candidates.novelty == 0) for r in decisions)
