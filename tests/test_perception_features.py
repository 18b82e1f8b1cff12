"""Features from landmarks: head angles recover known rotations, speeds are in shoulder widths/s, gaps are NaN."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perception.features import FeatureConfig, FeatureExtractor, head_angles
from perception.synthetic import _HEAD_IDX, _HEAD_PIVOT, _HEAD_REL, SyntheticSpec, _rotation, generate
from perception.types import FEATURE_INDEX, FEATURE_NAMES, LM, PoseFrame

angle = st.floats(min_value=-0.6, max_value=0.6)
NEUTRAL_PITCH = math.atan2(0.01, 0.11)  # the model's nose tip sits 1 cm below the ears, 11 cm in front


def _head_points(pitch: float, yaw: float, roll: float) -> np.ndarray:
    pts = np.zeros((33, 3))
    pts[_HEAD_IDX] = _HEAD_PIVOT + _HEAD_REL @ _rotation(pitch, yaw, roll).T
    return pts


@given(angle, angle)
@settings(max_examples=60, deadline=None)
def test_pitch_and_yaw_are_recovered(pitch, yaw):
    p, y, r = head_angles(_head_points(pitch, yaw, 0.0))
    assert p == pytest.approx(pitch + NEUTRAL_PITCH, abs=1e-9)
    assert y == pytest.approx(yaw, abs=1e-9)
    assert r == pytest.approx(0.0, abs=1e-9)


@given(angle, angle)
@settings(max_examples=60, deadline=None)
def test_roll_is_recovered(roll, yaw):
    _, _, r = head_angles(_head_points(0.0, yaw, roll))
    assert r == pytest.approx(roll, abs=1e-9)


def _pose(t: float, wrist_dx: float = 0.0, vis: float = 0.95) -> PoseFrame:
    lm = np.zeros((33, 4), np.float32)
    lm[:, 0], lm[:, 1], lm[:, 3] = 0.5, 0.5, vis
    lm[LM["left_shoulder"], :2] = (0.6, 0.5)
    lm[LM["right_shoulder"], :2] = (0.4, 0.5)  # shoulder width 0.2 * 640 = 128 px
    lm[LM["nose"], :3] = (0.5, 0.3, -0.1)
    lm[LM["left_ear"], :3] = (0.55, 0.29, 0.0)
    lm[LM["right_ear"], :3] = (0.45, 0.29, 0.0)
    lm[LM["left_wrist"], :2] = (0.6 + wrist_dx, 0.8)
    lm[LM["right_wrist"], :2] = (0.4, 0.8)
    return PoseFrame(t=t, landmarks=lm, world=None, image_size=(640, 480), valid=True)


def test_wrist_speed_is_in_shoulder_widths_per_second():
    fx = FeatureExtractor()
    fx.update(_pose(0.0))
    obs = fx.update(_pose(0.1, wrist_dx=0.02))  # 0.02 * 640 = 12.8 px in 0.1 s = 0.1 shoulder widths / 0.1 s
    assert obs.get("wrist_speed_left") == pytest.approx(1.0, rel=1e-5)
    assert obs.get("wrist_speed_right") == pytest.approx(0.0, abs=1e-9)
    assert obs.get("motion_energy") > 0
    assert obs.get("facing") > 0.9


def test_first_frame_has_no_velocities_and_a_lost_person_is_all_missing():
    fx = FeatureExtractor()
    first = fx.update(_pose(0.0))
    assert math.isnan(first.get("head_pitch_vel")) and not first.mask[FEATURE_INDEX["head_pitch_vel"]]
    assert first.mask[FEATURE_INDEX["head_pitch"]] and first.confidence[FEATURE_INDEX["head_pitch"]] > 0.9
    lost = fx.update(PoseFrame.empty(0.1, (640, 480)))
    assert not lost.mask.any() and np.isnan(lost.features).all() and lost.features.shape == (len(FEATURE_NAMES),)
    again = fx.update(_pose(0.2))  # velocities need two frames in a row again
    assert math.isnan(again.get("head_yaw_vel"))


def test_unseen_landmarks_give_nan_with_their_low_confidence():
    fx = FeatureExtractor(FeatureConfig(min_visibility=0.5))
    pose = _pose(0.0)
    pose.landmarks[LM["left_ear"], 3] = 0.2
    pose.landmarks[LM["left_hip"], 3] = 0.1
    obs = fx.update(pose)
    for name in ("head_pitch", "head_yaw", "head_roll", "facing", "torso_lean"):
        assert math.isnan(obs.get(name)) and not obs.mask[FEATURE_INDEX[name]]
    assert obs.confidence[FEATURE_INDEX["head_pitch"]] == pytest.approx(0.2)


def test_velocities_follow_a_synthetic_nod():
    stream = generate(SyntheticSpec(duration_s=12.0, kinds=("nod",), dropout_rate_hz=0.0), seed=3)
    fx = FeatureExtractor()
    obs = [fx.update(f) for f in stream.frames]
    nod = stream.truth[0]
    during = [o for o in obs if nod.t_onset <= o.t <= nod.t_offset]
    still = [o for o in obs if o.t < nod.t_onset - 0.5]
    peak_vel = max(abs(o.get("head_pitch_vel")) for o in during)
    rest_vel = np.nanmedian([abs(o.get("head_pitch_vel")) for o in still])
    assert peak_vel > 5 * rest_vel


def test_bad_feature_config_names_the_field():
    with pytest.raises(ValueError, match="head_source"):
        FeatureConfig(head_source="ears")
