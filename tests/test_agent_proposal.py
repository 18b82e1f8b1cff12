"""The sampling module: seeded, within the primitives' ranges, habit-weighted, aligned to the human's rhythm."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling.primitives import all_primitives, get_primitive
from sampling.proposal import CandidateProposer, ProposalSettings, RhythmEstimate, propose

PRIMS = [p for p in all_primitives()]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), K=st.integers(1, 300), conf=st.floats(0, 1), tempo=st.floats(0.3, 4.0),
       phase=st.floats(0, 2 * math.pi))
def test_candidates_are_valid_primitive_calls(seed, K, conf, tempo, phase):
    cs = propose(PRIMS, K, np.random.default_rng(seed), rhythm=RhythmEstimate(phase, tempo, conf))
    assert len(cs) == K and np.all((cs.onset_delay >= 0) & (cs.onset_delay <= ProposalSettings().max_onset_s))
    for i in range(K):
        prim = get_primitive(cs.primitive(i))
        assert prim.resolve(cs.params_of(i)) is not None  # raises PrimitiveError if out of range
        assert set(cs.params_of(i)) == {r.name for r in prim.ranges}


def test_seeded_and_reproducible():
    a = propose(PRIMS, 64, np.random.default_rng(3))
    b = propose(PRIMS, 64, np.random.default_rng(3))
    c = propose(PRIMS, 64, np.random.default_rng(4))
    assert np.array_equal(a.params, b.params, equal_nan=True) and np.array_equal(a.onset_delay, b.onset_delay)
    assert not np.array_equal(a.onset_delay, c.onset_delay)


def test_habit_prior_and_exploration():
    names = [p.name for p in PRIMS]
    log_E = np.full(len(PRIMS), -10.0)
    log_E[names.index("nod")] = 0.0
    prop = CandidateProposer(PRIMS, ProposalSettings(exploration=0.2))
    cs = prop.propose(4000, np.random.default_rng(0), log_E)
    share = np.mean(cs.primitive_index == names.index("nod"))
    assert share == pytest.approx(0.8 + 0.2 / len(PRIMS), abs=0.03)  # (1 − ε)E + ε/n
    assert set(cs.primitive_index[: len(PRIMS)]) == set(range(len(PRIMS)))  # every primitive offered at least once


def test_onsets_align_to_the_predicted_phase_and_tempo_follows():
    """A confident rhythm at 2 Hz, phase π: the next cycle starts in 0.25 s; aligned onsets sit at 0.25 or 0.75 s,
    and the nod's tempo is matched (≈2 Hz) or leads (up to 2.5 Hz), (≥ 99 % above 1.75 Hz)."""
    rh = RhythmEstimate(phase=math.pi, tempo_hz=2.0, confidence=1.0)
    nod = get_primitive("nod")
    cs = propose([nod], 2000, np.random.default_rng(1), rhythm=rh, settings=ProposalSettings(onset_jitter=0.0))
    assert np.all(cs.aligned)
    assert set(np.round(cs.onset_delay, 6)) <= {0.25, 0.75}
    tempo = cs.params[:, cs.param_names.index("tempo")]
    assert np.quantile(tempo, 0.01) > 1.75 and tempo.max() <= 2.5 + 1e-9 and np.mean(tempo > 2.2) > 0.2
    free = propose([nod], 2000, np.random.default_rng(1), rhythm=RhythmEstimate(confidence=0.0))
    assert not free.aligned.any() and free.onset_delay.std() > 0.3  # no rhythm: onsets spread over the window


def test_bad_arguments():
    with pytest.raises(ValueError, match="K must be"):
        propose(PRIMS, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="one entry per primitive"):
        propose(PRIMS, 4, np.random.default_rng(0), log_E=np.zeros(2))


def test_agent_habits_reach_the_proposal_through_the_model_E():
    """The fep policy's habit prior is the generative model's E (built from the config's habits): a habit for nods
    makes most of a decision's candidates nods, and candidates follow E shifted by the brain's steering."""
    from fep_motion.model.spaces import CONTROLS
    from fep_motion.policies.fep_policy import FepPolicy

    def nod_share(agent: FepPolicy) -> float:
        agent.decide(0.0)
        c = agent.last_decision.candidates
        return float(np.mean([c.gesture_class(i) == "nod" for i in range(len(c))]))

    plain = FepPolicy(num_candidates=256, exploration=0.0)
    habit = FepPolicy(num_candidates=256, exploration=0.0, habits={"nod": 3.0})
    assert habit.model.E[CONTROLS.index("nod")] == 3.0 and plain.model.E[CONTROLS.index("nod")] == 0.0
    base = nod_share(plain)
    assert nod_share(habit) > 0.6 > base
    plain.steer("agree", {"nod": 3.0}, {})
    assert nod_share(plain) > 0.6


@settings(max_examples=40, deadline=None)
@given(a=st.floats(0.0, 1.0), width=st.floats(0.0, 0.5), share=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_onset_focus_puts_its_share_of_candidates_in_its_window(a: float, width: float, share: float,
                                                                seed: int) -> None:
    """onset_focus = (start, end, share): about that share of the candidates start in [start, end] (binomial
    tolerance), the others as without it; a focus outside the proposal's own onset range is still honoured."""
    K = 2000
    cs = propose(PRIMS, K, np.random.default_rng(seed), onset_focus=(a, a + width, share),
                 settings=ProposalSettings(max_onset_s=0.75))
    base = propose(PRIMS, K, np.random.default_rng(seed), settings=ProposalSettings(max_onset_s=0.75))
    hit = np.mean((cs.onset_delay >= a - 1e-12) & (cs.onset_delay <= a + width + 1e-12))
    chance = np.mean((base.onset_delay >= a) & (base.onset_delay <= a + width))
    expected = share + (1 - share) * chance
    assert abs(hit - expected) <= 4 * math.sqrt(expected * (1 - expected) / K) + 1e-9
    assert not cs.aligned[(cs.onset_delay > 0.75)].any()


def test_onset_focus_rejects_a_reversed_window_or_a_share_outside_0_1() -> None:
    for focus in ((0.5, 0.2, 0.5), (0.0, 0.1, 1.5), (-0.1, 0.1, 0.5)):
        with pytest.raises(ValueError, match="onset_focus"):
            propose(PRIMS, 8, np.random.default_rng(0), onset_focus=focus)
