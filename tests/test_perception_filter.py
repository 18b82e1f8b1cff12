"""One-Euro filter and PoseFilter: smoothing math (property tests), real-timestamp behaviour, resets."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perception.filter import FilterConfig, OneEuroFilter, OneEuroParams, PoseFilter, smoothing_alpha
from perception.types import PoseFrame

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)


@given(st.lists(finite, min_size=2, max_size=40), st.floats(min_value=0.005, max_value=0.2))
@settings(max_examples=60, deadline=None)
def test_output_stays_within_the_range_of_inputs(values, dt):
    """Each output is a convex combination of the last output and the new input (0 < alpha <= 1)."""
    f = OneEuroFilter()
    out = [float(f(np.array([v]), i * dt)[0]) for i, v in enumerate(values)]
    assert min(values) - 1e-9 <= min(out) and max(out) <= max(values) + 1e-9


@given(finite, st.integers(min_value=2, max_value=30))
@settings(max_examples=40, deadline=None)
def test_constant_signal_is_unchanged(value, n):
    f = OneEuroFilter()
    out = [f(np.full(3, value), i / 30.0) for i in range(n)]
    assert np.allclose(out[-1], value)


@given(st.floats(min_value=1e-3, max_value=100.0), st.floats(min_value=1e-4, max_value=1.0))
def test_alpha_matches_the_cutoff_formula(cutoff, dt):
    tau = 1.0 / (2.0 * math.pi * cutoff)
    assert smoothing_alpha(cutoff, dt) == pytest.approx(1.0 / (1.0 + tau / dt))
    assert 0.0 < smoothing_alpha(cutoff, dt) < 1.0


def _ramp_lag(beta: float) -> float:
    f = OneEuroFilter(OneEuroParams(min_cutoff=0.1, beta=beta, d_cutoff=1.0))
    t = np.arange(0, 2.0, 1 / 30)
    x = 5.0 * t  # 5 units/s ramp
    y = np.array([f(np.array([v]), ti)[0] for v, ti in zip(x, t)])
    return float(x[-1] - y[-1])


def test_higher_beta_follows_fast_motion_with_less_lag():
    assert _ramp_lag(40.0) < 0.2 * _ramp_lag(0.0)


def test_timestamps_drive_the_smoothing_not_the_frame_count():
    """Same step seen at 15 and 60 fps: after the same real time the filter has moved about as far."""
    def after(fps: float) -> float:
        f = OneEuroFilter(OneEuroParams(min_cutoff=1.0, beta=0.0, d_cutoff=1.0))
        f(np.array([0.0]), 0.0)
        y = 0.0
        for i in range(1, int(0.5 * fps) + 1):
            y = float(f(np.array([1.0]), i / fps)[0])
        return y

    assert after(15.0) == pytest.approx(after(60.0), abs=0.06)
    # a filter counting frames at 30 fps would have moved much further at 60 fps than at 15 fps
    assert abs(after(15.0) - after(60.0)) < 0.5 * abs(after(60.0) - 0.0)


def test_non_increasing_timestamp_keeps_the_last_estimate():
    f = OneEuroFilter()
    f(np.array([0.0]), 0.0)
    a = f(np.array([1.0]), 0.1)
    b = f(np.array([50.0]), 0.1)
    assert np.allclose(a, b)


def _frame(t: float, offset: float, vis: float = 1.0, valid: bool = True) -> PoseFrame:
    lm = np.zeros((33, 4), np.float32)
    lm[:, 0] = np.linspace(0.3, 0.7, 33) + offset
    lm[:, 1] = np.linspace(0.2, 0.9, 33)
    lm[:, 3] = vis
    world = lm[:, :3].copy()
    return PoseFrame(t=t, landmarks=lm, world=world, image_size=(640, 480), valid=valid)


def test_pose_filter_smooths_jitter_and_resets_after_a_gap():
    rng = np.random.default_rng(0)
    pf = PoseFilter()
    raw, out = [], []
    for i in range(90):
        fr = _frame(i / 30, 0.002 * rng.standard_normal())
        raw.append(fr.landmarks[0, 0])
        out.append(pf(fr).landmarks[0, 0])
    assert np.std(out[30:]) < 0.5 * np.std(raw[30:])
    # after a gap longer than reset_gap_s the first frame passes through unfiltered
    fr = _frame(90 / 30 + 1.0, 0.05)
    assert pf(fr).landmarks[0, 0] == pytest.approx(fr.landmarks[0, 0])


def test_visibility_is_low_passed_with_alpha_0_1_and_invalid_frames_pass_through():
    pf = PoseFilter(FilterConfig())
    pf(_frame(0.0, 0.0, vis=1.0))
    out = pf(_frame(1 / 30, 0.0, vis=0.0))
    assert out.landmarks[0, 3] == pytest.approx(0.9)
    empty = PoseFrame.empty(2 / 30, (640, 480))
    assert pf(empty) is empty
    fresh = pf(_frame(3 / 30, 0.0, vis=0.0))  # tracking was lost: the filter restarted
    assert fresh.landmarks[0, 3] == pytest.approx(0.0)


def test_bad_filter_settings_name_the_field():
    with pytest.raises(ValueError, match="min_cutoff"):
        OneEuroParams(min_cutoff=0.0)
    with pytest.raises(ValueError, match="visibility_alpha"):
        FilterConfig(visibility_alpha=1.5)
