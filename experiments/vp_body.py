"""Kinematic seated upper body of the virtual participant -> 33 MediaPipe-style landmarks (image + world coordinates).

Body frame (metres): X toward image right (the person's left, camera facing them), Y down, Z away from the camera,
origin at the hip midpoint — the same axes MediaPipe uses for world landmarks. An orthographic camera maps it to
normalized image coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perception.types import LM, NUM_LANDMARKS

FIELD_W = 1.2  # metres of body frame spanning the image width
FIELD_H = 0.9  # metres spanning the image height (4:3)
IMAGE_Y0 = 0.45  # normalized image y of the body-frame shoulder line (Y = 0 after SHOULDER_Y shift)
SHOULDER_Y = -0.5  # shoulder line height above the hips (metres, Y down)
HALF_SHOULDER = 0.18
UPPER_ARM = 0.28
FOREARM = 0.26

# Face points relative to the head pivot (top of the neck), head frame, person facing -Z.
_FACE = {
    "nose": (0.0, -0.10, -0.10),
    "left_eye_inner": (0.015, -0.13, -0.085), "left_eye": (0.032, -0.13, -0.08),
    "left_eye_outer": (0.047, -0.13, -0.07),
    "right_eye_inner": (-0.015, -0.13, -0.085), "right_eye": (-0.032, -0.13, -0.08),
    "right_eye_outer": (-0.047, -0.13, -0.07),
    "left_ear": (0.075, -0.11, 0.0), "right_ear": (-0.075, -0.11, 0.0),
    "mouth_left": (0.025, -0.065, -0.085), "mouth_right": (-0.025, -0.065, -0.085),
}
_FACE_IDX = np.array([LM[n] for n in _FACE])
_FACE_PTS = np.array(list(_FACE.values()))
_LOWER = {  # seated legs, mostly out of view
    "left_hip": (0.12, 0.0, 0.0), "right_hip": (-0.12, 0.0, 0.0),
    "left_knee": (0.13, 0.05, -0.45), "right_knee": (-0.13, 0.05, -0.45),
    "left_ankle": (0.13, 0.5, -0.5), "right_ankle": (-0.13, 0.5, -0.5),
    "left_heel": (0.13, 0.55, -0.45), "right_heel": (-0.13, 0.55, -0.45),
    "left_foot_index": (0.13, 0.55, -0.62), "right_foot_index": (-0.13, 0.55, -0.62),
}
_VISIBILITY = np.full(NUM_LANDMARKS, 0.97)
for _n in ("left_hip", "right_hip"):
    _VISIBILITY[LM[_n]] = 0.6
for _n in ("left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index",
           "right_foot_index"):
    _VISIBILITY[LM[_n]] = 0.08


@dataclass
class BodyState:
    """Joint-level state of the participant at one instant (angles in rad, positions in metres, body frame)."""

    head_pitch: float = 0.0  # + = chin down
    head_yaw: float = 0.0  # + = turn to the person's left
    head_roll: float = 0.0  # + = tilt toward the left shoulder
    sway_x: float = 0.0
    lean: float = 0.0  # metres the shoulders move toward the camera
    breath: float = 0.0  # metres the shoulders rise
    left_wrist: tuple[float, float, float] | None = None  # None = rest
    right_wrist: tuple[float, float, float] | None = None


def shoulder(side: str, s: BodyState) -> np.ndarray:
    """Shoulder position of `side` ('left'|'right') in the body frame."""
    sign = 1.0 if side == "left" else -1.0
    return np.array([s.sway_x + sign * HALF_SHOULDER, SHOULDER_Y - s.breath, -s.lean])


def rest_wrist(side: str, s: BodyState) -> np.ndarray:
    """Where a resting hand lies (on the lap, forearm pointing toward the camera)."""
    sign = 1.0 if side == "left" else -1.0
    return shoulder(side, s) + np.array([-sign * 0.02, 0.36, -0.2])


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """R = Rz(roll) Ry(yaw) Rx(pitch) with the sign conventions of perception.types FEATURE_NAMES."""
    cp, sp, cy, sy, cr, sr = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw), np.cos(roll), np.sin(roll)
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    ry = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return rz @ ry @ rx


def _elbow(sh: np.ndarray, wr: np.ndarray, sign: float) -> np.ndarray:
    """Two-link inverse kinematics (law of cosines); the elbow bends outward and down."""
    d_vec = wr - sh
    d = float(np.clip(np.linalg.norm(d_vec), abs(UPPER_ARM - FOREARM) + 1e-3, UPPER_ARM + FOREARM - 1e-3))
    u = d_vec / max(np.linalg.norm(d_vec), 1e-9)
    x = (UPPER_ARM**2 - FOREARM**2 + d**2) / (2 * d)
    h = np.sqrt(max(UPPER_ARM**2 - x**2, 0.0))
    pole = np.array([sign * 0.6, 1.0, 0.3])
    pole = pole - pole.dot(u) * u
    pole /= max(np.linalg.norm(pole), 1e-9)
    return sh + x * u + h * pole


def landmarks(s: BodyState) -> tuple[np.ndarray, np.ndarray]:
    """(image [33, 4] float32: x, y normalized, z, visibility; world [33, 3] float32 metres, hip-centred)."""
    world = np.zeros((NUM_LANDMARKS, 3))
    for name, p in _LOWER.items():
        world[LM[name]] = p
    for side, sign in (("left", 1.0), ("right", -1.0)):
        sh = shoulder(side, s)
        wr_t = getattr(s, f"{side}_wrist")
        wr = rest_wrist(side, s) if wr_t is None else np.asarray(wr_t, float)
        el = _elbow(sh, wr, sign)
        fwd = (wr - el) / max(np.linalg.norm(wr - el), 1e-9)
        out = np.array([sign, 0.0, 0.0])
        world[LM[f"{side}_shoulder"]] = sh
        world[LM[f"{side}_elbow"]] = el
        world[LM[f"{side}_wrist"]] = wr
        world[LM[f"{side}_pinky"]] = wr + 0.07 * fwd + 0.02 * out
        world[LM[f"{side}_index"]] = wr + 0.08 * fwd - 0.01 * out
        world[LM[f"{side}_thumb"]] = wr + 0.04 * fwd - 0.03 * out
    pivot = np.array([s.sway_x, SHOULDER_Y - s.breath - 0.12, -s.lean])
    world[_FACE_IDX] = pivot + _FACE_PTS @ _rotation(s.head_pitch, s.head_yaw, s.head_roll).T
    img = np.empty((NUM_LANDMARKS, 4))
    img[:, 0] = 0.5 + world[:, 0] / FIELD_W
    img[:, 1] = IMAGE_Y0 + (world[:, 1] - SHOULDER_Y) / FIELD_H
    img[:, 2] = world[:, 2] / FIELD_W
    img[:, 3] = _VISIBILITY
    return img.astype(np.float32), world.astype(np.float32)
