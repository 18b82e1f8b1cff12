"""The baseline policies behave as their conditions are defined: random is rate-matched and non-contingent, mimic
copies the human's nods after its delay, reactive backchannels, idle never moves."""
from __future__ import annotations

import numpy as np
import pytest

from fep_motion.policies import PolicyError, make_policy
from fep_motion.policies.random_policy import RandomPolicy
from perception.types import FEATURE_INDEX, FEATURE_NAMES, HumanEvent, Observation
from sampling.primitives import get_primitive

FPS = 30


def drive(policy, seconds, events_at=(), energy=0.5):
    """Step a policy; the body is busy for each command's duration. Returns the commands."""
    policy.reset(0)
    cmds, busy = [], -1.0
    n = len(FEATURE_NAMES)
    for i in range(int(seconds * FPS)):
        t = i / FPS
        f = np.zeros(n)
        f[FEATURE_INDEX["motion_energy"]] = energy
        ev = [HumanEvent("nod", t, cycles=3, magnitude=0.3)] if any(abs(t - e) < 0.5 / FPS for e in events_at) else []
        policy.set_body_busy(t < busy, t)
        cmd = policy.step(Observation(t=t, features=f, mask=np.ones(n, bool), confidence=np.ones(n), events=ev), t)
        if cmd is not None:
            busy = cmd.onset + get_primitive(cmd.primitive).duration(cmd.params)
            cmds.append(cmd)
    return cmds


def test_random_rate_matches_and_ignores_the_human():
    quiet = drive(RandomPolicy(rate_hz=0.2), 300)
    noisy = drive(RandomPolicy(rate_hz=0.2), 300, events_at=np.arange(1, 300, 3.0))
    assert [c.issued_at for c in quiet] == [c.issued_at for c in noisy]  # non-contingent: same seed, same onsets
    assert 0.15 < len(quiet) / 300 < 0.25  # the Poisson rate (onsets during a gesture wait for it to end)
    matched = RandomPolicy.matched_to([1.0, 5.0, 9.0], duration_s=30.0)
    assert matched.rate_hz == pytest.approx(0.1)
    with pytest.raises(PolicyError):
        RandomPolicy(rate_hz=0)


def test_mimic_copies_nods_after_delay():
    cmds = drive(make_policy("mimic", delay_s=1.0), 10, events_at=(2.0, 6.0))
    assert [c.primitive for c in cmds] == ["nod", "nod"]
    assert [round(c.issued_at, 2) for c in cmds] == [pytest.approx(3.0, abs=0.05), pytest.approx(7.0, abs=0.05)]
    assert cmds[0].params["cycles"] == 3


def test_reactive_nods_after_human_nod_and_stillness():
    after_nod = drive(make_policy("reactive", delay_s=0.5, still_s=100.0), 6, events_at=(2.0,))
    assert len(after_nod) == 1 and after_nod[0].issued_at == pytest.approx(2.5, abs=0.05)
    still = drive(make_policy("reactive", still_s=3.0), 10, energy=0.0)
    assert still and still[0].issued_at == pytest.approx(3.0, abs=0.05)
    moving = drive(make_policy("reactive", still_s=3.0), 10, energy=1.0)
    assert moving == []


def test_idle_never_gestures():
    assert drive(make_policy("idle"), 10, events_at=(2.0, 4.0)) == []
