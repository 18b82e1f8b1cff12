"""DeepMimic mocap playback on the body: loading, conventions against our semantic angles, errors."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from fep_motion.body.errors import BodyError
from fep_motion.body.humanoid import Humanoid
from fep_motion.body.joints import SPHERICAL, joint_rotations, rotation_angle
from fep_motion.body.mocap import available_clips, load_clip
from sampling.primitives import DOF


def test_clips_load_with_unit_quaternions():
    assert {"walk", "punch"} <= set(available_clips())
    clip = load_clip("walk")
    assert clip.duration > 0.5 and len(clip.times) > 10
    for joint in SPHERICAL:
        assert np.allclose(np.linalg.norm(clip.rotations[joint], axis=1), 1.0)


def test_walk_drives_the_body_and_agrees_with_semantic_angles():
    clip = load_clip("walk")
    poses = clip.semantic_poses()
    client = p.connect(p.DIRECT)
    try:
        body = Humanoid(client, colorize=False)
        wrist_x, ankle_x = {"right": [], "left": []}, {"right": [], "left": []}
        for t in clip.times:
            body.set_raw_joints(clip.at(t))
            for side in ("right", "left"):
                wrist_x[side].append(
                    body.link_position(f"{side}_wrist")[0] - body.link_position(f"{side}_shoulder")[0]
                )
                ankle_x[side].append(body.link_position(f"{side}_ankle")[0])
        for side, s in (("right", "r"), ("left", "l")):
            # Our "shoulder flex + = arm forward" tracks where the mocap puts the hand...
            assert np.corrcoef(poses[:, DOF[f"{s}_shoulder_flex"]], wrist_x[side])[0, 1] > 0.9
            # ... and the clip walks like a person: each arm swings against its own leg.
            assert np.corrcoef(wrist_x[side], ankle_x[side])[0, 1] < -0.5
        assert np.ptp(wrist_x["right"]) > 0.05
        # Semantic angles reproduce the mocap rotations exactly (same joint conventions both ways).
        rot = joint_rotations(poses)
        for joint in SPHERICAL:
            assert rotation_angle(rot[joint], clip.rotations[joint]).max() < 1e-6
    finally:
        p.disconnect(client)


def test_interpolates_between_frames():
    clip = load_clip("walk")
    mid = 0.5 * (clip.times[3] + clip.times[4])
    q = clip.at(mid)["chest"]
    a, b = clip.rotations["chest"][3], clip.rotations["chest"][4]
    assert rotation_angle(q, a) == pytest.approx(rotation_angle(q, b), abs=1e-6)


def test_bad_clips_are_user_errors(tmp_path):
    with pytest.raises(BodyError, match="available: .*walk"):
        load_clip("moonwalk")
    bad = tmp_path / "bad.txt"
    bad.write_text('{"Frames": [[1, 2, 3]]}')
    with pytest.raises(BodyError, match="bad.txt"):
        load_clip(str(bad))
    (tmp_path / "junk.txt").write_text("not json")
    with pytest.raises(BodyError, match="junk.txt"):
        load_clip(str(tmp_path / "junk.txt"))
