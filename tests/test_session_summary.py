"""The elicitation statistic the demo summary and the experiment analysis share (property tests)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fep_motion.elicitation import elicitation


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(5, 40), st.floats(0.6, 2.9))
def test_a_participant_who_always_answers_is_detected(seed, n, lag):
    rng = np.random.default_rng(seed)
    agent = np.sort(rng.uniform(0, 297, n))  # answers (<= 2.9 s later) stay inside the 300 s trial
    e = elicitation(agent, agent + lag, 300.0, rng=np.random.default_rng(seed))
    assert e.proportion == 1.0 and e.p < 0.05 and e.surrogate_mean < 0.6


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000))
def test_rates_are_fractions_and_p_is_valid(seed):
    rng = np.random.default_rng(seed)
    agent, human = rng.uniform(0, 120, rng.integers(1, 30)), rng.uniform(0, 120, rng.integers(0, 30))
    e = elicitation(agent, human, 120.0, n_surrogates=200, rng=np.random.default_rng(seed))
    assert 0 <= e.proportion <= 1 and 0 <= e.surrogate_mean <= 1 and 1 / 201 <= e.p <= 1


def test_independent_streams_are_not_significant_more_than_alpha():
    rng = np.random.default_rng(0)
    ps = [elicitation(rng.uniform(0, 300, 20), rng.uniform(0, 300, 30), 300.0, n_surrogates=200,
                      rng=np.random.default_rng(k)).p
          for k in range(200)]
    assert np.mean(np.array(ps) < 0.05) <= 0.09  # alpha 0.05 plus binomial slack (sd 0.015 at n=200)


def test_no_agent_gestures_gives_nan():
    assert np.isnan(elicitation(np.array([]), np.array([1.0]), 10.0).proportion)
