"""Minimum-jerk shaping (Flash & Hogan 1985) and every primitive's trajectory over its whole parameter box."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling.primitives import DOF, DOF_GROUPS, all_primitives, get_primitive
from sampling.primitives.keyframed import MAX_GROUP_SPEED
from sampling.primitives.minjerk import minjerk, minjerk_velocity

HZ = 480.0


@settings(derandomize=True)
@given(st.floats(0.0, 1.0))
def test_minjerk_is_monotone_symmetric_and_bounded(s):
    assert 0.0 <= minjerk(s) <= 1.0
    assert minjerk(s) == pytest.approx(1.0 - minjerk(1.0 - s), abs=1e-12)
    assert minjerk(min(1.0, s + 1e-3)) >= minjerk(s)
    assert 0.0 <= minjerk_velocity(s) <= 15.0 / 8.0 + 1e-12


def test_minjerk_boundary_conditions():
    assert minjerk(0.0) == 0.0 and minjerk(1.0) == 1.0
    h = 1e-5
    for s in (0.0, 1.0):  # zero velocity and acceleration at both ends
        assert minjerk_velocity(s) == 0.0
        acc = (minjerk_velocity(min(1.0, s + h)) - minjerk_velocity(max(0.0, s - h))) / h
        assert abs(acc) < 1e-3
    assert minjerk_velocity(0.5) == pytest.approx(15.0 / 8.0)


def params_for(prim):
    fields = {}
    for r in prim.ranges:
        fields[r.name] = (
            st.integers(int(r.low), int(r.high)).map(float) if r.integer else st.floats(r.low, r.high)
        )
    return st.fixed_dictionaries(fields)


@st.composite
def primitive_and_params(draw):
    prim = draw(st.sampled_from(all_primitives()))
    return prim, draw(params_for(prim))


def trajectory(prim, params):
    d = prim.duration(params)
    t = np.arange(-0.1, d + 0.1, 1.0 / HZ)
    return t, prim.offsets(t, params), d


@settings(max_examples=150, deadline=None, derandomize=True)
@given(primitive_and_params())
def test_every_primitive_starts_and_ends_at_rest_within_the_speed_limit(pp):
    prim, params = pp
    t, y, d = trajectory(prim, params)
    assert np.all(y[t <= 0.0] == 0.0) and np.all(y[t >= d] == 0.0)
    step = np.abs(np.diff(y, axis=0))
    for g in DOF_GROUPS.values():  # per joint group: sum of |angle rates| (bounds the joint's angular speed)
        assert step[:, list(g)].sum(axis=1).max() * HZ <= MAX_GROUP_SPEED + 1e-6
    # Smooth onsets/offsets: the first and last 20 ms move far less than the peak speed would.
    assert np.abs(y[t <= 0.02]).max() < 0.02 and np.abs(y[(t >= d - 0.02)]).max() < 0.02
    assert np.all(np.abs(y) < 2.0)


def peaks(x, threshold):
    """Local maxima above threshold (count of separate excursions)."""
    above = x > threshold
    return int(np.sum(above[1:] & ~above[:-1]) + (1 if above[0] else 0))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.floats(0.05, 0.3), st.integers(1, 4), st.floats(0.8, 2.4))
def test_nod_amplitude_cycles_and_tempo_match_parameters(a, cycles, tempo):
    prim = get_primitive("nod")
    p = {"amplitude": a, "cycles": cycles, "tempo": tempo}
    _, y, d = trajectory(prim, p)
    pitch = y[:, DOF["neck_pitch"]]
    assert pitch.max() == pytest.approx(a, rel=1e-3)
    assert peaks(pitch, a / 2) == cycles
    assert d == pytest.approx(cycles / tempo)
    other = np.delete(y, DOF["neck_pitch"], axis=1)
    assert np.all(other == 0.0)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.floats(0.05, 0.3), st.integers(1, 4), st.floats(0.6, 1.2))
def test_shake_swings_both_ways_cycles_times(a, cycles, tempo):
    _, y, _ = trajectory(get_primitive("head_shake"), {"amplitude": a, "cycles": cycles, "tempo": tempo})
    yaw = y[:, DOF["neck_yaw"]]
    assert yaw.max() == pytest.approx(a, rel=1e-3) and yaw.min() == pytest.approx(-a, rel=1e-3)
    assert peaks(yaw, a / 2) == cycles and peaks(-yaw, a / 2) == cycles


@pytest.mark.parametrize("side,prefix", [(0, "r"), (1, "l")])
def test_wave_uses_the_requested_arm(side, prefix):
    _, y, _ = trajectory(get_primitive("wave"), {"side": side, "cycles": 2, "amplitude": 0.2})
    other = "l" if prefix == "r" else "r"
    assert y[:, DOF[f"{prefix}_shoulder_flex"]].max() > 1.0
    assert np.all(y[:, DOF[f"{other}_shoulder_flex"]] == 0.0)
    rot = y[:, DOF[f"{prefix}_shoulder_rot"]]
    assert rot.max() == pytest.approx(0.2, rel=1e-3) and peaks(-rot, 0.1) == 2
