"""The oracle ceiling reads the virtual participant's configuration: its most-answered class, answering the
participant's events, at the rate it is given; without a virtual participant it is a one-line error."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cli import main
from experiments.vp_config import Contingency, VirtualParticipantConfig
from fep_motion.policies import PolicyError, make_policy
from perception.types import FEATURE_NAMES, HumanEvent, Observation
from sampling.primitives import get_primitive

FPS = 30


def _participant(best: str) -> SimpleNamespace:
    cfg = VirtualParticipantConfig()
    cfg.contingencies = {c: Contingency(0.9 if c == best else 0.05) for c in cfg.contingencies}
    return SimpleNamespace(config=cfg)


def _drive(policy, seconds: float, events_at=()) -> list:
    n = len(FEATURE_NAMES)
    cmds, busy = [], -1.0
    for i in range(int(seconds * FPS)):
        t = i / FPS
        ev = [HumanEvent("gesture", t)] if any(abs(t - e) < 0.5 / FPS for e in events_at) else []
        policy.set_body_busy(t < busy, t)
        cmd = policy.step(Observation(t=t, features=np.zeros(n), mask=np.ones(n, bool), confidence=np.ones(n),
                                      events=ev), t)
        if cmd is not None:
            busy = cmd.onset + get_primitive(cmd.primitive).duration(cmd.params)
            cmds.append(cmd)
    return cmds


@pytest.mark.parametrize("best", ["welcome", "tilt", "shake"])
def test_oracle_performs_the_most_answered_class_at_its_rate(best: str) -> None:
    pol = make_policy("oracle", rate_hz=0.2)
    pol.bind_participant(_participant(best))
    pol.reset(0)
    cmds = _drive(pol, 300)
    assert {get_primitive(c.primitive).gesture_class for c in cmds} == {best}
    assert 0.17 <= len(cmds) / 300 <= 0.21


def test_oracle_answers_the_participants_events_within_its_budget() -> None:
    pol = make_policy("oracle", rate_hz=0.05, answer_delay_s=0.5)
    pol.bind_participant(_participant("nod"))
    pol.reset(0)
    cmds = _drive(pol, 60, events_at=(3.0, 4.0, 30.0))
    onsets = [c.onset for c in cmds]
    assert onsets[0] == pytest.approx(3.5, abs=0.05)  # answered 0.5 s after the event
    assert not any(abs(o - 4.5) < 0.1 for o in onsets)  # the budget was spent: the second event waits
    assert any(abs(o - 30.5) < 0.05 for o in onsets)


def test_oracle_without_a_participant_is_refused() -> None:
    pol = make_policy("oracle")
    with pytest.raises(PolicyError, match="virtual participant"):
        pol.step(Observation.missing(0.0), 0.0)
    with pytest.raises(PolicyError, match="virtual participant"):
        pol.bind_participant(SimpleNamespace())
    with pytest.raises(PolicyError, match="rate_hz"):
        make_policy("oracle", rate_hz=0)


def test_oracle_with_a_video_is_a_one_line_error(tmp_path: Path, vtest_path: Path, capsys) -> None:
    rc = main(["run", str(vtest_path), "--policy", "oracle", "--out", str(tmp_path / "o"), "--no-video"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--policy: oracle" in err[0] and "virtual participant" in err[0]
    assert not (tmp_path / "o" / "study.db").exists()


def test_oracle_runs_in_the_demo_with_its_virtual_participant(tmp_path: Path, capsys) -> None:
    rc = main(["demo", "--fast", "--duration", "20", "--policy", "oracle", "--no-video", "--out", str(tmp_path)])
    assert rc == 0
    from fep_motion.store import Store

    with Store.open(tmp_path / "study.db", recover=False) as st:
        agent = [e for e in st.events(1) if e.actor == "agent"]
    assert agent and {e.params['class'] for e in agent} == {'nod'}  # the demo participant answers nods most
