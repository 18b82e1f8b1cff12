"""Perception pipeline: pose-only use (synthetic poses), stage timing, static mode, reset between streams."""
from __future__ import annotations

import numpy as np
import pytest

from perception.pipeline import STAGES, Perception
from perception.synthetic import SyntheticSpec, generate


def test_process_pose_filters_times_stages_and_attaches_events():
    stream = generate(SyntheticSpec(duration_s=20.0, kinds=("nod",), dropout_rate_hz=0.0), seed=5)
    perception = Perception(create_pose=False)
    events = []
    raw_x, filt_x = [], []
    for frame in stream.frames:
        pose, obs = perception.process_pose(frame)
        raw_x.append(frame.landmarks[0, 0])
        filt_x.append(pose.landmarks[0, 0])
        assert obs.t == frame.t and obs.features.shape == obs.mask.shape == obs.confidence.shape
        events += obs.events
    assert np.std(np.diff(filt_x)) < np.std(np.diff(raw_x))  # the One-Euro stage smoothed the jitter
    assert any(e.kind == "nod" for e in events)
    for stage in ("filter", "features", "events"):
        assert len(perception.timer.samples[stage]) == len(stream.frames)
    assert set(perception.timer.summary()) == set(STAGES)
    with pytest.raises(RuntimeError, match="process_pose"):
        perception.process(np.zeros((8, 8, 3), np.uint8), 0.0)


def test_static_mode_neither_smooths_nor_differentiates_across_stills():
    stream = generate(SyntheticSpec(duration_s=1.0, kinds=(), dropout_rate_hz=0.0), seed=1)
    perception = Perception(create_pose=False, static_image_mode=True)
    for frame in stream.frames[:3]:
        pose, obs = perception.process_pose(frame)
        assert pose is frame and np.isnan(obs.get("head_pitch_vel"))


def test_reset_forgets_the_previous_stream():
    stream = generate(SyntheticSpec(duration_s=2.0, kinds=(), dropout_rate_hz=0.0), seed=2)
    perception = Perception(create_pose=False)
    for frame in stream.frames:
        perception.process_pose(frame)
    perception.reset()
    _, obs = perception.process_pose(stream.frames[0])
    assert np.isnan(obs.get("head_yaw_vel"))
