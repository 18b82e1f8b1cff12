"""The event-level simulator: its participant follows the configured rates and contingencies, and its FEP agent model
learns which gesture class the participant answers."""
from __future__ import annotations

import numpy as np
import pytest

from experiments.cohort import load_cohort
from experiments.errors import ExperimentError
from experiments.eventsim import AGENT_CLASSES, simulate_trial
from experiments.vp_config import Contingency, VirtualParticipantConfig


def _cfg(p: dict[str, float], engagement: float = 1.0) -> VirtualParticipantConfig:
    cfg = VirtualParticipantConfig(nod_rate=3.0, gesture_rate=1.0, engagement_initial=engagement,
                                   engagement_baseline=engagement, engagement_gain=0.0)
    cfg.contingencies = {c: Contingency(p.get(c, 0.0), 1.0, 0.3, "nod") for c in AGENT_CLASSES}
    return cfg


def test_spontaneous_rate_matches_config() -> None:
    rng = np.random.default_rng(0)
    n = sum(simulate_trial("idle", _cfg({}), 600.0, rng, motion=False).human_t.size for _ in range(30))
    # 4 events/min at engagement 1, thinned slightly by the 0.8 s refractory period
    assert 3.5 <= n / 300.0 <= 4.0


def test_answers_follow_contingency_and_latency() -> None:
    rng = np.random.default_rng(1)
    tr = simulate_trial("random", _cfg({c: 0.8 for c in AGENT_CLASSES}), 600.0, rng, motion=False)
    answers = tr.human_t[tr.human_answer]
    assert 0.55 <= answers.size / tr.agent_t.size <= 0.85  # 0.8, minus answers lost to the refractory period
    lags = np.array([a - tr.agent_t[tr.agent_t < a].max() for a in answers])
    assert abs(np.median(lags) - 1.0) < 0.15
    none = simulate_trial("random", _cfg({}), 600.0, rng, motion=False)
    assert not none.human_answer.any()


def test_fep_agent_learns_the_answered_class() -> None:
    rng = np.random.default_rng(2)
    late = []
    for _ in range(6):
        tr = simulate_trial("fep", _cfg({"wave": 0.9}), 300.0, rng, motion=False)
        kinds = np.array(tr.agent_kind)[tr.agent_t > 150]
        late.append(np.mean(kinds == "wave"))
    assert np.mean(late) > 2.0 / len(AGENT_CLASSES)  # well above the uniform 1/7 a random agent has


def test_reactive_agent_answers_human_events() -> None:
    rng = np.random.default_rng(3)
    tr = simulate_trial("reactive", _cfg({}), 300.0, rng, motion=False)
    assert tr.experienced_contingency > 0.6
    assert simulate_trial("random", _cfg({}), 300.0, rng, motion=False).experienced_contingency < 0.5


def test_motion_energy_has_gesture_bumps() -> None:
    tr = simulate_trial("random", _cfg({}), 60.0, np.random.default_rng(4))
    assert tr.agent_energy.shape == tr.human_energy.shape == (600,)
    i = int(tr.agent_t[0] * 10) + 7  # mid-gesture
    assert tr.agent_energy[i] > 0.5 > np.median(tr.agent_energy)


def test_cohort_sampling_is_reproducible_and_validated(tmp_path) -> None:
    co = load_cohort()
    assert co.sample(3) == co.sample(3) and co.sample(3) != co.sample(4)
    bad = tmp_path / "c.yaml"
    bad.write_text("name: c\nparticipant:\n  nod_rate: {uniform: [5, 1]}\n")
    with pytest.raises(ExperimentError, match=r"c.yaml:3: participant.nod_rate.uniform: low 5 > high 1; swap them"):
        load_cohort(bad)
    bad.write_text("name: c\nparticipant:\n  contingencies:\n    nod: {probability: 1.5}\n")
    with pytest.raises(ExperimentError,
                       match=r"c.yaml:4: participant.contingencies.nod.probability: must be <= 1 \(got 1.5\)"):
        load_cohort(bad)


def test_heterogeneous_cohort_gives_each_participant_its_own_answered_classes(tmp_path) -> None:
    """Shipped examples/cohorts/heterogeneous.yaml: a {choice: [...]} of whole contingency profiles, each drawn with
    its own distributions; one or two strong classes per participant, which ones varying across the cohort."""
    from pathlib import Path

    co = load_cohort(Path(__file__).resolve().parents[1] / "examples/cohorts/heterogeneous.yaml")
    strong_sets = []
    for i in range(24):
        cfg = co.sample(i)
        assert set(cfg.contingencies) == set(AGENT_CLASSES)
        strong = {c for c, s in cfg.contingencies.items() if s.probability >= 0.75}
        weak = {c for c, s in cfg.contingencies.items() if s.probability <= 0.12}
        assert 1 <= len(strong) <= 2 and len(strong) + len(weak) == len(AGENT_CLASSES)
        strong_sets.append(frozenset(strong))
    assert len(set(strong_sets)) >= 8
    best_fixed_share = max(sum(c in s for s in strong_sets) for c in AGENT_CLASSES) / len(strong_sets)
    assert best_fixed_share < 0.5
    bad = tmp_path / "c.yaml"
    bad.write_text("name: c\nparticipant:\n  contingencies:\n    choice:\n"
                   "      - nod: {probability: {uniform: [0.9, 0.1]}}\n")
    with pytest.raises(ExperimentError, match=r"c.yaml:5: participant.contingencies.choice\[0\].nod.probability"
                                              r".uniform: low 0.9 > high 0.1"):
        load_cohort(bad)
