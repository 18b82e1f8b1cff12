"""VideoWriter: H.264 (or mp4v) files that OpenCV reads back frame for frame."""
from __future__ import annotations

import numpy as np
import pytest
from video_helpers import read_video

from perception.errors import PerceptionError
from perception.video import VideoWriter


@pytest.mark.parametrize("prefer_h264, codec", [(True, "h264"), (False, "mp4v")])
def test_written_frames_read_back(tmp_path, prefer_h264, codec):
    path = tmp_path / "sub" / "clip.mp4"
    with VideoWriter(path, 25.0, (161, 121), prefer_h264=prefer_h264) as writer:  # odd size: padded
        assert writer.codec == codec
        for i in range(30):
            frame = np.zeros((121, 161, 3), np.uint8)
            frame[:, : 5 * (i + 1)] = (0, 0, 255)  # a red bar growing by 5 px a frame
            writer.write(frame)
    frames = read_video(path)
    assert len(frames) == 30 and frames[0].shape[:2] == (122, 162)
    widths = [int((f[60, :161, 2] > 128).sum()) for f in frames]
    assert all(abs(w - 5 * (i + 1)) <= 3 for i, w in enumerate(widths))


def test_wrong_frame_size_is_a_clear_error(tmp_path):
    writer = VideoWriter(tmp_path / "v.mp4", 10.0, (64, 48))
    with pytest.raises(PerceptionError, match="does not match"):
        writer.write(np.zeros((48, 65, 3), np.uint8))
    writer.close()
