"""MotionTimeline: idle underneath, gestures on top, and smooth interruption at any phase (pure numpy)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling.primitives import (
    DOF,
    DOF_GROUPS,
    IdleMotion,
    MotionCommand,
    MotionTimeline,
    PrimitiveError,
    all_primitives,
    get_primitive,
)

FRAME = 1.0 / 30.0


def params_for(prim):
    return st.fixed_dictionaries(
        {
            r.name: st.integers(int(r.low), int(r.high)).map(float) if r.integer else st.floats(r.low, r.high)
            for r in prim.ranges
        }
    )


@st.composite
def command_chain(draw):
    """Two or three commands; each later one interrupts the previous at a random phase (or just after it ends)."""
    n = draw(st.integers(2, 3))
    cmds, t = [], 0.0
    for k in range(n):
        prim = draw(st.sampled_from(all_primitives()))
        params = draw(params_for(prim))
        delay = draw(st.sampled_from([0.0, 0.0, 0.3]))
        cmds.append(MotionCommand(prim.name, params, issued_at=t, onset_delay=delay))
        dur = prim.duration(params) + delay
        t += draw(st.floats(0.0, 1.0)) * (dur + 0.3)
    return cmds


@settings(max_examples=120, deadline=None, derandomize=True)
@given(command_chain(), st.floats(0.0, FRAME))
def test_interrupting_any_gesture_at_any_phase_never_jumps(cmds, phase):
    tl = MotionTimeline()
    for c in cmds:
        tl.command(c)
    t = np.arange(phase, tl.busy_until + 1.0, FRAME)
    step = np.abs(np.diff(tl.pose(t), axis=0))
    assert step.max() <= 0.1  # no semantic joint angle moves more than 0.1 rad between 30 Hz frames
    for g in DOF_GROUPS.values():  # nor any body joint (sum over its angles bounds its rotation)
        assert step[:, list(g)].sum(axis=1).max() <= 0.1
    # Dense sampling: joint speed stays far below 6 rad/s.
    fine = np.arange(0.0, tl.busy_until + 0.5, 1.0 / 480)
    assert np.abs(np.diff(tl.pose(fine), axis=0)).max() * 480 <= 3.0


def test_hardest_known_interruption_stays_within_bounds():
    # Both gestures near full speed in opposite directions: the quintic blend alone cannot respect the limit here,
    # so the rate limiter must; afterwards the nod runs unchanged.
    tl = MotionTimeline()
    tl.command(MotionCommand("head_shake", {"amplitude": 0.288, "cycles": 4, "tempo": 0.935}, issued_at=0.0))
    seg = tl.command(MotionCommand("nod", {"amplitude": 0.297, "cycles": 2, "tempo": 2.24}, issued_at=1.125))
    t = np.arange(0.0, tl.busy_until + 0.5, FRAME / 8)
    step = np.abs(np.diff(tl.pose(t), axis=0))
    assert step.max() * 240 <= 2.8 + tl.idle.peak_speed() + 1e-6
    blend_end = seg.blend_t[-1]
    assert blend_end < seg.end  # the blend finishes while the nod still runs ...
    late = np.arange(blend_end + 0.01, seg.end, 0.01)
    assert np.allclose(tl.offsets(late), seg.raw(late), atol=1e-9)  # ... which then is exactly the nod


def test_speed_limit_must_keep_the_frame_bound():
    with pytest.raises(PrimitiveError, match="max_group_speed"):
        MotionTimeline(max_group_speed=5.0)
    with pytest.raises(PrimitiveError, match="max_group_speed"):
        MotionTimeline(max_group_speed=1.0)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(command_chain())
def test_body_returns_to_idle_after_the_last_command(cmds):
    tl = MotionTimeline()
    for c in cmds:
        tl.command(c)
    t = np.linspace(tl.busy_until + 1e-6, tl.busy_until + 3.0, 50)
    assert np.allclose(tl.pose(t), tl.idle.pose(t), atol=1e-9)
    assert tl.active(tl.busy_until + 0.01) is None


def test_uninterrupted_gesture_is_exactly_idle_plus_its_offsets():
    tl = MotionTimeline()
    nod = get_primitive("nod")
    tl.command(MotionCommand("nod", {"cycles": 3}, issued_at=1.0, onset_delay=0.5))
    t = np.arange(0.0, 5.0, 0.01)
    expected = tl.idle.pose(t) + nod.offsets(t - 1.5, nod.resolve({"cycles": 3}))
    assert np.allclose(tl.pose(t), expected, atol=1e-12)
    assert tl.busy_until == pytest.approx(1.5 + nod.duration({"cycles": 3}))
    assert tl.active(1.2) is None and tl.active(1.6) == "nod" and tl.active(tl.busy_until + 0.1) is None


def test_interruption_switches_to_the_new_gesture_and_keeps_velocity_continuous():
    tl = MotionTimeline()
    tl.command(MotionCommand("wave", {}, issued_at=0.0))
    tl.command(MotionCommand("head_shake", {}, issued_at=2.0))
    assert tl.active(1.9) == "wave" and tl.active(2.5) == "head_shake"
    h = 1e-4
    v_before = (tl.pose(2.0) - tl.pose(2.0 - h)) / h
    v_after = (tl.pose(2.0 + h) - tl.pose(2.0)) / h
    assert np.abs(v_after - v_before).max() < 0.05  # the blend carries the old velocity into the new gesture
    # The arm goes back down: after the blend the wave's raised arm is at rest while the head shakes.
    later = tl.offsets(tl.busy_until - 0.3)
    assert abs(later[DOF["r_shoulder_flex"]]) < 1e-9
    shake = tl.offsets(np.arange(2.0, tl.busy_until, 0.01))[:, DOF["neck_yaw"]]
    assert shake.max() > 0.15 and shake.min() < -0.15


def test_idle_keeps_moving_and_is_slow():
    idle = IdleMotion(seed=3)
    t = np.arange(0.0, 20.0, FRAME)
    pose = idle.pose(t)
    assert np.ptp(pose[:, DOF["chest_pitch"]]) > 0.005  # breathing
    assert np.ptp(pose[:, DOF["chest_roll"]]) > 0.005  # sway
    assert np.abs(np.diff(pose, axis=0)).max() / FRAME <= idle.peak_speed() + 1e-9
    assert not np.allclose(IdleMotion(seed=4).pose(t), pose)  # seeds vary the sway phase
    with pytest.raises(ValueError, match="breath_rate"):
        IdleMotion(breath_rate=0.0)


def test_commands_out_of_time_order_or_unknown_are_user_errors():
    tl = MotionTimeline()
    tl.command(MotionCommand("nod", {}, issued_at=2.0))
    with pytest.raises(PrimitiveError, match="time order"):
        tl.command(MotionCommand("nod", {}, issued_at=1.0))
    with pytest.raises(PrimitiveError, match="unknown primitive"):
        tl.command(MotionCommand("moonwalk", {}, issued_at=3.0))
    with pytest.raises(PrimitiveError, match="outside"):
        tl.command(MotionCommand("nod", {"amplitude": 5.0}, issued_at=3.0))


def test_timeline_module_is_pure_numpy():
    import subprocess
    import sys

    code = ("import sys, sampling.primitives.timeline; "
            "assert 'pybullet' not in sys.modules and 'fep_motion' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
