"""The session-loop interface: decision records carry what the store logs; busy bodies get no commands."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from fep_motion.policies import make_policy
from perception.types import FEATURE_INDEX, FEATURE_NAMES, Observation


def obs(t: float) -> Observation:
    f = np.zeros(len(FEATURE_NAMES))
    f[FEATURE_INDEX["facing"]] = 0.9
    return Observation(t=t, features=f, mask=np.ones(len(f), bool), confidence=np.full(len(f), 0.9))


def test_fep_decision_record_contents():
    pol = make_policy("fep", num_candidates=32)
    pol.reset(0)
    cmd, rec, F = pol.step_frame(obs(0.0), 0.0, body_busy=False)
    assert rec is not None and rec.reason == "start" and math.isfinite(F)
    assert len(rec.candidates) == 32 and rec.gamma == pol.cfg.gamma
    assert np.allclose(rec.candidates.G, rec.candidates.risk + rec.candidates.ambiguity - rec.candidates.novelty)
    assert abs(rec.candidates.prob.sum() - 1) < 1e-12
    chosen = rec.chosen
    assert (cmd is None) == (rec.command is None)
    if cmd is not None:
        assert cmd.primitive == rec.candidates.primitive(chosen)
    d = rec.to_dict()
    assert {"t", "candidates", "chosen", "gamma", "free_energy", "belief"} <= set(d)
    assert len(d["candidates"]) == 32 and {"G", "risk", "ambiguity", "novelty", "prob"} <= set(d["candidates"][0])
    assert abs(sum(d["belief"]["activity"].values()) - 1) < 1e-9
    json.loads(json.dumps(d, allow_nan=False))  # plain, finite values a store can write
    assert pol.take_decision() is None  # each record once


def test_no_command_while_body_busy():
    pol = make_policy("fep", num_candidates=32)
    pol.reset(0)
    for i in range(300):
        cmd, rec, _ = pol.step_frame(obs(i / 30), i / 30, body_busy=True)
        assert cmd is None and rec is None
    cmd, rec, _ = pol.step_frame(obs(10.0), 10.0, body_busy=False)
    assert rec is not None  # free at last: the agent decides


def test_reset_makes_runs_reproducible():
    runs = []
    for _ in range(2):
        pol = make_policy("fep", num_candidates=32)
        pol.reset(7)
        out = []
        for i in range(200):
            cmd, _, F = pol.step_frame(obs(i / 30), i / 30, body_busy=False)
            out.append((cmd.primitive if cmd else None, round(F, 12)))
        runs.append(out)
    assert runs[0] == runs[1]


def nodding(t: float) -> Observation:
    o = obs(t)
    o.features[FEATURE_INDEX["head_pitch"]] = 0.15 * math.sin(2 * math.pi * 2 * t)
    o.features[FEATURE_INDEX["head_pitch_vel"]] = 0.15 * 4 * math.pi * math.cos(2 * math.pi * 2 * t)
    o.features[FEATURE_INDEX["motion_energy"]] = 0.5
    return o


def first_decision_after_busy(yield_to_human: bool) -> float:
    """The agent starts, its body is busy until t = 3 s while the human keeps nodding; when does it decide next?"""
    pol = make_policy("fep", num_candidates=32, decision={"yield_to_human": yield_to_human, "max_yield_s": 1.5,
                                                          "hazard_rate_hz": 0.0})
    pol.reset(0)
    pol.step_frame(obs(0.0), 0.0, body_busy=False)
    for i in range(1, 300):
        t = i / 30
        _, rec, _ = pol.step_frame(nodding(t), t, body_busy=t < 3.0)
        if rec is not None:
            return t
    return math.inf


def test_turn_taking_yields_to_a_nodding_human():
    eager = first_decision_after_busy(False)
    polite = first_decision_after_busy(True)
    assert eager == pytest.approx(3.0 + 0.3, abs=0.05)  # gesture end + min_pause_s
    assert polite == pytest.approx(eager + 1.5, abs=0.05)  # waited max_yield_s for the human to finish
