"""Analysis statistics on plain arrays: elicitation with surrogates, WCC, Granger, Wilcoxon/Friedman/Holm, and the
elicitation test's false-positive rate and power on the event-level simulator."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.analysis.elicitation import elicitation, hit_proportion, shuffled_onsets
from experiments.analysis.granger import granger_both
from experiments.analysis.group_tests import friedman_w, holm, pairwise_holm, wilcoxon_r
from experiments.analysis.wcc import windowed_xcorr
from experiments.validation import null_false_positive_rate, power_curve


def test_hit_proportion_counts_window_exactly() -> None:
    agent = np.array([10.0, 20.0, 30.0])
    human = np.array([10.4, 20.5, 33.0, 33.1])  # 10.4 too early; 20.5 at the edge; 33.0 at the far edge
    assert hit_proportion(agent, human) == pytest.approx(2 / 3)


@given(st.lists(st.floats(0, 100, allow_nan=False), min_size=1, max_size=30), st.integers(0, 2**31))
@settings(max_examples=40, deadline=None)
def test_surrogates_keep_count_and_stay_in_trial(onsets: list[float], seed: int) -> None:
    a = np.sort(np.array(onsets))
    s = shuffled_onsets(a, 100.0, 50, np.random.default_rng(seed))
    assert s.shape == (50, a.size)
    assert np.all(s >= -1e-9) and np.all(s <= 100 + 1e-9) and np.all(np.diff(s, axis=1) >= -1e-9)
    # the interval multiset is preserved: sorted gaps equal the original sorted gaps
    gaps = np.sort(np.diff(np.r_[0, a, 100]))
    for row in s[:5]:
        assert np.allclose(np.sort(np.diff(np.r_[0, row, 100])), gaps)


def test_planted_responses_are_detected_and_independent_trains_are_not() -> None:
    rng = np.random.default_rng(3)
    agent = np.sort(rng.uniform(0, 180, 25))
    noise = np.sort(rng.uniform(0, 180, 12))
    answered = agent[rng.random(25) < 0.6] + rng.uniform(0.8, 1.6)
    planted = elicitation(agent, np.sort(np.r_[noise, answered]), 180.0, rng=rng)
    assert planted.p < 0.01 and planted.z > 3
    null = elicitation(agent, noise, 180.0, rng=rng)
    assert null.p > 0.05


def test_no_agent_onsets_gives_nan_not_error() -> None:
    r = elicitation(np.array([]), np.array([1.0, 2.0]), 60.0)
    assert r.n_agent == 0 and np.isnan(r.p)


def test_wcc_recovers_lag_and_direction() -> None:
    rng = np.random.default_rng(0)
    fs = 10.0
    x = np.convolve(rng.normal(size=1800), np.ones(5) / 5, mode="same")
    y = np.r_[np.zeros(20), x[:-20]] + 0.3 * rng.normal(size=1800)  # y follows x by 2 s
    w = windowed_xcorr(x, y, fs)
    assert w.r.shape == (15, 101)  # windows of 30 s every 10 s with room for +/-5 s lags; 101 lags
    assert w.median_peak_lag_s == pytest.approx(2.0, abs=0.11)
    assert w.peak_z > 1.0
    rev = windowed_xcorr(y, x, fs)
    assert rev.median_peak_lag_s == pytest.approx(-2.0, abs=0.11)
    with pytest.raises(ValueError, match="NaN"):
        windowed_xcorr(np.r_[x[:-1], np.nan], y, fs)


def test_granger_finds_the_driving_direction() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=1800)
    y = 0.8 * np.r_[np.zeros(10), x[:-10]] + rng.normal(size=1800)  # x drives y at 1 s
    g = granger_both(x, y, 10.0)
    assert g.p_xy < 1e-6 and g.p_yx > 0.01


def test_wilcoxon_z_by_hand_with_ties_and_zeros() -> None:
    """d = a - b = (1, -2, 3, 4, 5): ranks 1..5, W+ = 13, Z = (13 - 7.5) / sqrt(13.75). d = (1, 1, -2, 3, 0): the zero
    is dropped, tied ranks 1.5, W+ = 7, variance 4*5*9/24 - (2^3 - 2)/48 = 7.375 (Lehmann 1975, eq. 3.13)."""
    w = wilcoxon_r(np.array([1.0, -2.0, 3.0, 4.0, 5.0]), np.zeros(5), "x", "y")
    assert (w.a, w.b, w.n, w.w_plus) == ("x", "y", 5, 13.0)
    assert w.z == pytest.approx(5.5 / np.sqrt(13.75), abs=1e-12) and w.r == pytest.approx(w.z / np.sqrt(5))
    assert w.median_diff == 3.0 and 0 < w.p < 1
    t = wilcoxon_r(np.array([1.0, 1.0, -2.0, 3.0, 0.0]), np.zeros(5))
    assert (t.n, t.w_plus) == (4, 7.0) and t.z == pytest.approx(2.0 / np.sqrt(7.375), abs=1e-12)


def test_wilcoxon_sign_follows_direction_and_ties_give_no_test() -> None:
    rng = np.random.default_rng(2)
    a = rng.normal(size=20)
    b = a + rng.normal(0.6, 1, 20)
    lower, higher = wilcoxon_r(a, b), wilcoxon_r(b, a)
    assert lower.z < -1.5 and lower.r < 0 and higher.z == pytest.approx(-lower.z) and higher.p == pytest.approx(lower.p)
    assert lower.r == pytest.approx(lower.z / np.sqrt(20)) and lower.p < 0.05
    same = wilcoxon_r(np.ones(6), np.ones(6))
    assert same.n == 0 and np.isnan(same.z) and np.isnan(same.p)


def test_friedman_kendall_w_and_holm() -> None:
    m = np.array([[1, 2, 3]] * 10, dtype=float)  # perfect agreement -> W = 1
    f = friedman_w(m)
    assert f.kendall_w == pytest.approx(1.0) and f.p < 0.001
    # by hand: sorted 0.01, 0.03, 0.04, 0.2 times 4, 3, 2, 1 = 0.04, 0.09, 0.08 -> 0.09 (monotone), 0.2
    assert holm([0.01, 0.04, 0.03, 0.2]) == pytest.approx([0.04, 0.09, 0.09, 0.2])
    assert holm([0.4, 0.3]) == pytest.approx([0.6, 0.6]) and holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])
    with_nan = holm([0.01, float("nan"), 0.02])  # a pair without a test stays NaN and is not in the family
    assert with_nan[0] == pytest.approx(0.02) and np.isnan(with_nan[1]) and with_nan[2] == pytest.approx(0.02)
    assert holm([]) == []
    pairs = pairwise_holm(m + np.random.default_rng(0).normal(0, 0.1, m.shape), ["a", "b", "c"])
    assert [(x.a, x.b) for x in pairs] == [("a", "b"), ("a", "c"), ("b", "c")]
    assert all(x.p_holm >= x.p for x in pairs)


def test_null_false_positive_rate_within_binomial_interval() -> None:
    r = null_false_positive_rate(studies=60, n=6, n_surrogates=199, seed=4)
    assert r.group_interval[0] <= r.group_rejections <= r.group_interval[1]
    assert r.trial_interval[0] <= r.trial_rejections <= r.trial_interval[1]


def test_power_grows_with_n_for_a_planted_effect() -> None:
    curve = power_curve([2, 12], p_answer=0.15, studies=20, n_surrogates=199, seed=5)
    assert curve[0][1] < curve[1][1] and curve[1][1] >= 0.8


def test_condition_comparison_power_with_planted_cohort_and_none_without() -> None:
    from pathlib import Path

    from experiments.cohort import load_cohort
    from experiments.validation import comparison_power

    planted = comparison_power([16], load_cohort(), "fep", "random", studies=6, duration=120.0, seed=7)[0]
    assert planted.questionnaire >= 0.8 and planted.elicitation >= 0.5
    null = load_cohort(Path(__file__).resolve().parents[1] / "examples/cohorts/null.yaml")
    none = comparison_power([16], null, "random", "random", studies=6, duration=120.0, seed=7)[0]
    assert none.questionnaire <= 0.25 and none.elicitation <= 0.25


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=12))
@settings(max_examples=60, deadline=None)
def test_holm_properties(p: list[float]) -> None:
    adj = np.array(holm(p))
    raw = np.array(p)
    assert np.all(adj >= raw - 1e-12) and np.all(adj <= 1.0)
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(adj[order]) >= -1e-12)  # monotone in the raw p-values
    assert adj.min() == pytest.approx(min(1.0, len(p) * raw.min()))


@given(st.integers(3, 25), st.integers(0, 2**31))
@settings(max_examples=30, deadline=None)
def test_kendall_w_in_unit_interval(n: int, seed: int) -> None:
    m = np.random.default_rng(seed).integers(1, 8, size=(n, 3)).astype(float)
    f = friedman_w(m)
    assert np.isnan(f.kendall_w) or 0.0 <= f.kendall_w <= 1.0 + 1e-12


def test_learning_curve_tracks_when_answers_start() -> None:
    """Elicitation per 30 s window: an agent answered only from 60 s on reads 0, 0, 1, 1; windows without agent
    onsets are NaN and do not count toward a condition's mean."""
    from experiments.analysis.learning import learning_curves, trial_curve

    agent = np.arange(5.0, 120.0, 10.0)
    human = agent[agent >= 60.0] + 1.0
    curve = trial_curve(agent, human, 120.0)
    assert curve.tolist() == [0.0, 0.0, 1.0, 1.0]
    sparse = trial_curve(np.array([65.0]), np.array([66.0]), 120.0)
    assert np.isnan(sparse[0]) and sparse[2] == 1.0
    lc = learning_curves([("fep", agent, human, 120.0), ("fep", np.array([65.0]), np.array([]), 120.0)], ["fep"])
    assert lc["fep"].mean.tolist() == [0.0, 0.0, 0.5, 1.0] and lc["fep"].n.tolist() == [1, 1, 2, 1]
    assert lc["fep"].level(60.0, 120.0) == 0.75
