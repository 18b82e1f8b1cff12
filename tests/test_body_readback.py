"""Acceptance: every primitive performed on the PyBullet humanoid and read back from its joint states."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from fep_motion.body.humanoid import Humanoid
from fep_motion.body.joints import HINGE, SPHERICAL, rotation_angle
from sampling.primitives import DOF, MotionCommand, MotionTimeline, all_primitives, get_primitive

HZ = 30.0


@pytest.fixture(scope="module")
def body():
    client = p.connect(p.DIRECT)
    yield Humanoid(client, colorize=False)
    p.disconnect(client)


def perform(body, name, params, lead=0.3, tail=0.7):
    """Run the gesture through a timeline at 30 Hz on the body; return times, read-back poses, idle poses, quats."""
    tl = MotionTimeline()
    seg = tl.command(MotionCommand(name, params, issued_at=lead))
    t = np.arange(0.0, seg.end + tail, 1.0 / HZ)
    readback, quats = [], []
    for pose in tl.pose(t):
        body.set_pose(pose)
        readback.append(body.read_pose())
        quats.append(body.joint_rotations())
    return t, np.array(readback), tl.idle.pose(t), quats, seg


def count_excursions(x, threshold):
    above = x > threshold
    return int(np.sum(above[1:] & ~above[:-1]) + (1 if above[0] else 0))


# primitive -> (params, DOF measured, expected signed amplitude, expected cycles, baseline offset of that DOF)
CASES = {
    "nod": ({"amplitude": 0.25, "cycles": 3, "tempo": 2.0}, "neck_pitch", 0.25, 3),
    "double_nod": ({"amplitude": 0.2, "tempo": 2.5}, "neck_pitch", 0.2, 2),
    "head_tilt": ({"amplitude": 0.3, "side": 0, "hold": 0.5}, "neck_roll", -0.3, 1),
    "head_shake": ({"amplitude": 0.25, "cycles": 3, "tempo": 1.0}, "neck_yaw", 0.25, 3),
    "lean_forward": ({"amplitude": 0.2, "hold": 0.5}, "chest_pitch", 0.2, 1),
    "lean_back": ({"amplitude": 0.15, "hold": 0.5}, "chest_pitch", -0.15, 1),
    "wave": ({"amplitude": 0.25, "cycles": 4, "tempo": 1.0, "side": 1}, "l_shoulder_rot", 0.25, 4),
    "welcome": ({"amplitude": 1.0, "hold": 0.5}, "r_shoulder_abd", 0.95, 1),
}


def test_cases_cover_every_primitive():
    assert set(CASES) | {"idle", "beat"} == {p.name for p in all_primitives()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_amplitude_cycles_speed_and_return_to_rest(body, name):
    params, dof, amp, cycles = CASES[name]
    t, rb, idle, quats, seg = perform(body, name, params)
    x = rb[:, DOF[dof]] - idle[:, DOF[dof]]
    sign = np.sign(amp)
    assert (sign * x).max() == pytest.approx(abs(amp), rel=0.05)
    assert count_excursions(sign * x, abs(amp) / 2) == cycles
    # Joint angular speed from consecutive read-back quaternions / hinge angles.
    for joint in (*SPHERICAL, *HINGE):
        a = np.array([q[joint] for q in quats])
        step = rotation_angle(a[1:], a[:-1]) if a.ndim == 2 else np.abs(np.diff(a))
        assert step.max() * HZ <= 6.0, joint
    # Back to rest: after the gesture the body is exactly in its idle pose again.
    after = t > seg.end + 0.05
    assert np.abs(rb[after] - idle[after]).max() < 1e-6


@pytest.mark.parametrize("side,prefix", [(0, "r"), (1, "l")])
def test_beat_dips_the_hand_cycles_times(body, side, prefix):
    prim = get_primitive("beat")
    params = {"amplitude": 0.3, "cycles": 3, "tempo": 1.5, "side": side}
    t, rb, idle, _, seg = perform(body, "beat", params)
    elbow = rb[:, DOF[f"{prefix}_elbow"]] - idle[:, DOF[f"{prefix}_elbow"]]
    ready = prim.READY["elbow"]
    kf = prim.keyframes(params)  # between reaching the ready pose and leaving it
    inside = (t >= seg.onset + kf.times[1] - 1e-9) & (t <= seg.onset + kf.times[-2] + 1e-9)
    assert (ready - elbow[inside]).max() == pytest.approx(0.3, rel=0.05)
    assert count_excursions(ready - elbow[inside], 0.15) == 3


def test_wave_lifts_the_wrist_above_the_shoulder(body):
    for side, arm in ((0, "right"), (1, "left")):
        tl = MotionTimeline()
        seg = tl.command(MotionCommand("wave", {"side": side}, issued_at=0.0))
        lifted = []
        for tt in np.arange(0.0, seg.end, 0.1):
            body.set_pose(tl.pose(tt))
            lifted.append(body.link_position(f"{arm}_wrist")[2] - body.link_position(f"{arm}_shoulder")[2])
        lifted = np.array(lifted)
        assert lifted.max() > 0.1  # metres above the shoulder while waving
        assert lifted[0] < -0.3 and lifted[-1] < -0.3  # hanging down before and after
        other = "left" if arm == "right" else "right"
        body.set_pose(tl.pose(seg.end / 2))
        assert body.link_position(f"{other}_wrist")[2] < body.link_position(f"{other}_shoulder")[2] - 0.3


def test_nod_rotates_the_head_about_its_pitch_axis(body):
    nod = get_primitive("nod")
    body.set_pose(np.zeros(len(DOF)))
    head_rest = body.head_center()
    q_rest = body.joint_rotations()["neck"]
    peak = nod.offsets(np.array([0.5 / nod.defaults()["tempo"]]))[0]
    body.set_pose(peak)
    head_down = body.head_center()
    q_nod = body.joint_rotations()["neck"]
    # The relative rotation's axis is the body's lateral (pitch) axis: world Y for a body facing +X.
    from scipy.spatial.transform import Rotation

    rotvec = (Rotation.from_quat(q_rest).inv() * Rotation.from_quat(q_nod)).as_rotvec()
    axis_urdf = rotvec / np.linalg.norm(rotvec)
    assert abs(axis_urdf[2]) > 0.999  # URDF Z (lateral) == world Y after the Y-up -> Z-up turn
    assert np.linalg.norm(rotvec) == pytest.approx(peak[DOF["neck_pitch"]], rel=1e-6)
    assert head_down[0] > head_rest[0] + 0.02 and head_down[2] < head_rest[2]  # forward and down
    assert abs(head_down[1] - head_rest[1]) < 1e-6
