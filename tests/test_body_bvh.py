"""BVH export of motion timelines: parses back, round-trips joint angles, and matches the PyBullet body's geometry."""

from __future__ import annotations

import numpy as np
import pybullet as p
import pytest

from cli import main
from fep_motion.body.bvh import poses_from_bvh, read_bvh, write_bvh
from fep_motion.body.errors import BodyError
from fep_motion.body.humanoid import Humanoid
from sampling.primitives import NUM_DOF, MotionCommand, MotionTimeline


def interrupted_timeline():
    tl = MotionTimeline()
    tl.command(MotionCommand("wave", {"side": 1}, issued_at=0.2))
    tl.command(MotionCommand("head_shake", {}, issued_at=2.3))
    tl.command(MotionCommand("welcome", {}, issued_at=3.0, onset_delay=0.2))
    return tl


def test_round_trip_within_1e3_rad(tmp_path):
    tl = interrupted_timeline()
    t = np.arange(0.0, tl.busy_until + 0.5, 1 / 30)
    poses = tl.pose(t)
    path = write_bvh(poses, 30.0, tmp_path / "motion.bvh")
    bvh = read_bvh(path)
    assert bvh.motion.shape[0] == len(t) and bvh.frame_time == pytest.approx(1 / 30)
    back = poses_from_bvh(bvh)
    assert back.shape == poses.shape
    assert np.abs(back - poses).max() <= 1e-3


def forward_kinematics(bvh, frame):
    """World positions (Y-up, cm) of every joint at a frame, from offsets and channel rotations."""
    pos, rot = {}, {}
    for j in bvh.joints:
        _, vals = bvh.channel_values(j.name)
        local = bvh.joint_rotation(j.name)[frame]
        if j.parent is None:
            pos[j.name] = vals[frame, :3] + j.offset
            rot[j.name] = local
        else:
            pos[j.name] = pos[j.parent] + rot[j.parent].apply(j.offset)
            rot[j.name] = rot[j.parent] * local
        if j.end_site is not None:
            pos[j.name + "_end"] = pos[j.name] + rot[j.name].apply(j.end_site)
    return pos


def test_bvh_skeleton_moves_like_the_pybullet_body(tmp_path):
    tl = interrupted_timeline()
    t = np.array([0.0, 1.5, 2.6, 4.0])
    poses = tl.pose(t)
    bvh = read_bvh(write_bvh(poses, 30.0, tmp_path / "m.bvh"))
    client = p.connect(p.DIRECT)
    try:
        body = Humanoid(client, colorize=False)
        for k, pose in enumerate(poses):
            body.set_pose(pose)
            fk = forward_kinematics(bvh, k)
            for bvh_name, link in (
                ("right_elbow_end", "right_wrist"),
                ("left_elbow_end", "left_wrist"),
                ("left_elbow", "left_elbow"),
                ("neck", "neck"),
            ):
                x, y, z = fk[bvh_name] / 100.0
                world = np.array([x, -z, y])  # BVH/URDF Y-up -> world Z-up (+90 degrees about X)
                assert np.allclose(world, body.link_position(link), atol=1e-4), (k, link)
    finally:
        p.disconnect(client)


def test_reader_rejects_malformed_files(tmp_path):
    bad = tmp_path / "bad.bvh"
    bad.write_text("HIERARCHY\nROOT root\n{\n  OFFSET 0 0\n")
    with pytest.raises(BodyError, match="bad.bvh"):
        read_bvh(bad)
    with pytest.raises(BodyError, match="not found"):
        read_bvh(tmp_path / "missing.bvh")
    good = write_bvh(np.zeros((3, NUM_DOF)), 30.0, tmp_path / "g.bvh")
    lines = good.read_text().splitlines()
    (tmp_path / "short.bvh").write_text("\n".join(lines[:-1]) + "\n")  # header says 3 frames, only 2 present
    with pytest.raises(BodyError, match="frames"):
        read_bvh(tmp_path / "short.bvh")


def test_writer_rejects_nan_and_missing_directory(tmp_path):
    poses = np.zeros((2, NUM_DOF))
    poses[1, 3] = np.nan
    with pytest.raises(BodyError, match="NaN"):
        write_bvh(poses, 30.0, tmp_path / "x.bvh")
    with pytest.raises(BodyError, match="does not exist"):
        write_bvh(np.zeros((2, NUM_DOF)), 30.0, tmp_path / "nope" / "x.bvh")


def test_cli_export_bvh_with_interruption(tmp_path, capsys):
    out = tmp_path / "a.bvh"
    assert (
        main(["body", "export-bvh", "nod:cycles=3", "wave@2.0:side=1", "--out", str(out), "--fps", "60"]) == 0
    )
    bvh = read_bvh(out)
    assert bvh.frame_time == pytest.approx(1 / 60)
    poses = poses_from_bvh(bvh)
    from sampling.primitives import DOF

    assert poses[:, DOF["neck_pitch"]].max() > 0.15  # the nod is in there
    assert poses[:, DOF["l_shoulder_flex"]].max() > 1.0  # and the left-hand wave
    assert "wrote" in capsys.readouterr().out
