"""Test helper: read a written video back with OpenCV, as a user's player would."""
from __future__ import annotations

import cv2
import numpy as np


def read_video(path) -> list[np.ndarray]:
    """Every frame OpenCV decodes from `path` (BGR)."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames
