"""Semantic angles <-> URDF joint rotations: round trip, clamping, and sign conventions seen in world positions."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fep_motion.body.humanoid import Humanoid, LookAt, human_position_from_image
from fep_motion.body.joints import LOWER, UPPER, clamp, joint_rotations, pose_from_rotations, rotation_angle
from sampling.primitives import DOF, NUM_DOF

poses_in_limits = st.lists(st.floats(0.0, 1.0), min_size=NUM_DOF, max_size=NUM_DOF).map(
    lambda u: LOWER + np.asarray(u) * (UPPER - LOWER)
)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(poses_in_limits)
def test_semantic_to_quaternion_round_trip(pose):
    back = pose_from_rotations(joint_rotations(pose))
    assert np.abs(back - pose).max() < 1e-9


def test_clamp_applies_our_limits_and_removes_nan():
    wild = np.full(NUM_DOF, 10.0)
    wild[DOF["neck_yaw"]] = np.nan
    c = clamp(wild)
    assert np.all(c <= UPPER) and np.all(c >= LOWER) and c[DOF["neck_yaw"]] == 0.0
    assert c[DOF["r_elbow"]] == UPPER[DOF["r_elbow"]]


@pytest.fixture(scope="module")
def body():
    client = p.connect(p.DIRECT)
    yield Humanoid(client, colorize=False)
    p.disconnect(client)


def moved(body, name, value, link, head=False):
    body.set_pose(np.zeros(NUM_DOF))
    before = body.head_center() if head else body.link_position(link)
    pose = np.zeros(NUM_DOF)
    pose[DOF[name]] = value
    body.set_pose(pose)
    return (body.head_center() if head else body.link_position(link)) - before


def test_sign_conventions_in_world_space(body):
    # World frame: the agent faces +X, its left is +Y, up is +Z.
    d = moved(body, "neck_pitch", 0.3, None, head=True)
    assert d[0] > 0.02 and d[2] < 0  # chin down: head forward and down
    d = moved(body, "neck_roll", 0.3, None, head=True)
    assert d[1] > 0.02  # tilt toward the left shoulder
    pose = np.zeros(NUM_DOF)
    pose[DOF["neck_yaw"]] = 0.4
    body.set_pose(pose)
    assert body.head_forward()[1] == pytest.approx(np.sin(0.4))  # look to the left
    d = moved(body, "chest_pitch", 0.3, None, head=True)
    assert d[0] > 0.05  # lean forward
    d = moved(body, "chest_roll", 0.3, None, head=True)
    assert d[1] > 0.05  # side-bend to the left
    d = moved(body, "chest_yaw", 0.4, "right_shoulder")
    assert d[0] > 0.03  # turning to the left (counter-clockwise from above) brings the right shoulder forward
    d = moved(body, "chest_yaw", 0.4, "left_shoulder")
    assert d[0] < -0.03
    for side, sy in (("r", -1.0), ("l", 1.0)):
        arm = "right" if side == "r" else "left"
        d = moved(body, f"{side}_shoulder_flex", 1.0, f"{arm}_wrist")
        assert d[0] > 0.3 and d[2] > 0.1  # raise forward
        d = moved(body, f"{side}_shoulder_abd", 1.0, f"{arm}_wrist")
        assert sy * d[1] > 0.3 and d[2] > 0.1  # raise sideways, away from the body
        d = moved(body, f"{side}_elbow", 1.0, f"{arm}_wrist")
        assert d[0] > 0.1  # bend: forearm comes forward
        bent = np.zeros(NUM_DOF)
        bent[DOF[f"{side}_elbow"]] = 1.5
        body.set_pose(bent)
        w0 = body.link_position(f"{arm}_wrist")
        bent[DOF[f"{side}_shoulder_rot"]] = 0.5
        body.set_pose(bent)
        assert (
            sy * (body.link_position(f"{arm}_wrist") - w0)[1] > 0.05
        )  # outward rotation: forearm swings out


def test_set_pose_clamps_and_readback_reports_the_clamped_pose(body):
    pose = np.zeros(NUM_DOF)
    pose[DOF["neck_pitch"]] = 3.0
    applied = body.set_pose(pose)
    assert applied[DOF["neck_pitch"]] == UPPER[DOF["neck_pitch"]]
    assert body.read_pose()[DOF["neck_pitch"]] == pytest.approx(UPPER[DOF["neck_pitch"]], abs=1e-6)


def test_look_at_turns_the_head_toward_the_target_smoothly(body):
    body.set_pose(np.zeros(NUM_DOF))
    body.look = LookAt(max_speed=2.0)
    body.look.target = (1.5, 0.8, 1.5)  # in front, to the agent's left
    yaws = []
    for _ in range(30):
        body.set_pose_looking(np.zeros(NUM_DOF), 1.0 / 30)
        yaws.append(body.read_pose()[DOF["neck_yaw"]])
    yaws = np.array(yaws)
    assert np.abs(np.diff(yaws)).max() <= 2.0 / 30 + 1e-9  # rate limited
    head = body.link_position("neck")
    assert yaws[-1] == pytest.approx(np.arctan2(0.8 - head[1], 1.5 - head[0]), abs=1e-3)
    face = body.head_forward()
    to_target = np.array([1.5, 0.8]) - head[:2]
    assert np.dot(face[:2], to_target) / np.linalg.norm(face[:2]) / np.linalg.norm(to_target) > 0.999
    body.look.target = None
    for _ in range(30):
        body.set_pose_looking(np.zeros(NUM_DOF), 1.0 / 30)
    assert abs(body.read_pose()[DOF["neck_yaw"]]) < 1e-9  # no target: back to straight ahead


def test_human_position_from_image_signs():
    left_of_image = human_position_from_image(0.2, 0.5)
    right_of_image = human_position_from_image(0.8, 0.5)
    assert left_of_image[1] > 0 > right_of_image[1]  # the human's left (image right) is the agent's right
    assert human_position_from_image(0.5, 0.2)[2] > human_position_from_image(0.5, 0.8)[2]


def test_rotation_angle():
    q = joint_rotations(np.eye(NUM_DOF)[DOF["neck_yaw"]] * 0.4)["neck"]
    q0 = joint_rotations(np.zeros(NUM_DOF))["neck"]
    assert rotation_angle(q0, q) == pytest.approx(0.4)
