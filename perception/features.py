"""PoseFrame stream -> Observation: head angles and velocities, wrist speeds, torso lean, motion energy, facing.

Geometry uses the camera convention of MediaPipe's landmarks (x right, y down, z away from the camera). Torso lean
uses world landmarks (metres, hip-centred) when present; head angles use image landmarks in pixel units by default
(measured steadier, see FeatureConfig.head_source); speeds are in the image plane, normalized by shoulder width.
Features whose landmarks are not visible enough are NaN with mask False; confidence is their minimum visibility.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perception.types import FEATURE_INDEX, FEATURE_NAMES, LM, Observation, PoseFrame

_NOSE, _L_EAR, _R_EAR = LM["nose"], LM["left_ear"], LM["right_ear"]
_L_SH, _R_SH, _L_HIP, _R_HIP = LM["left_shoulder"], LM["right_shoulder"], LM["left_hip"], LM["right_hip"]
_L_WR, _R_WR = LM["left_wrist"], LM["right_wrist"]
_UPPER_BODY = np.arange(0, 23)  # face, shoulders, arms and hands: what is in view of a webcam
_HEAD = (_NOSE, _L_EAR, _R_EAR)
_SHOULDERS = (_L_SH, _R_SH)


@dataclass(frozen=True)
class FeatureConfig:
    """Thresholds for turning landmarks into features."""

    min_visibility: float = 0.5  # below this a landmark counts as unseen (MediaPipe's own drawing threshold)
    max_velocity_gap_s: float = 0.3  # velocities need two measurements at most this far apart
    min_energy_landmarks: int = 5  # motion energy needs at least this many visible upper-body landmarks
    # Head angles from "image" landmarks (pixel units, z scaled like x) or "world" landmarks when present. Image is
    # the default: on messi5.jpg/basketball1.png with sensor noise, world-based head angles jittered 3-5x more
    # (sd 0.012-0.043 rad vs 0.005-0.012 rad) and their yaw was biased by ~0.35-0.5 rad.
    head_source: str = "image"

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_visibility <= 1.0:
            raise ValueError(f"FeatureConfig.min_visibility must be in [0, 1], got {self.min_visibility!r}")
        if not self.max_velocity_gap_s > 0:
            raise ValueError(f"FeatureConfig.max_velocity_gap_s must be > 0, got {self.max_velocity_gap_s!r}")
        if self.head_source not in ("image", "world"):
            raise ValueError(f"FeatureConfig.head_source must be 'image' or 'world', got {self.head_source!r}")
        if self.min_energy_landmarks < 1:
            raise ValueError(f"FeatureConfig.min_energy_landmarks must be >= 1, got {self.min_energy_landmarks!r}")


def head_angles(points: np.ndarray) -> tuple[float, float, float]:
    """(pitch, yaw, roll) in rad from nose and ears of 3D points [33, 3] in camera axes (x right, y down, z away).

    Forward vector f = nose - ear midpoint; lateral vector a = left ear - right ear (points to the image right when
    the person faces the camera). yaw + = turning to the person's left, pitch + = chin down, roll + = tilting
    toward the left shoulder. Pitch carries the anatomical offset of the nose tip below the ears.
    """
    ear_mid = (points[_L_EAR] + points[_R_EAR]) / 2.0
    f = points[_NOSE] - ear_mid
    a = points[_L_EAR] - points[_R_EAR]
    yaw = math.atan2(f[0], -f[2])
    pitch = math.atan2(f[1], math.hypot(f[0], f[2]))
    roll = math.atan2(a[1], math.hypot(a[0], a[2]))
    return pitch, yaw, roll


def torso_lean(points: np.ndarray) -> float:
    """Forward lean in rad of the hip->shoulder vector, + = shoulders closer to the camera than the hips."""
    up = (points[_L_SH] + points[_R_SH]) / 2.0 - (points[_L_HIP] + points[_R_HIP]) / 2.0
    return math.atan2(-up[2], -up[1])


def _wrap(angle: float) -> float:
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


class FeatureExtractor:
    """Stateful: `update(pose_frame)` -> Observation (features, mask, confidence; events are added downstream)."""

    def __init__(self, config: FeatureConfig = FeatureConfig()) -> None:
        self.config = config
        self.reset()

    def reset(self) -> None:
        self._prev_t: float | None = None
        self._prev_angles: np.ndarray | None = None  # pitch, yaw, roll (NaN where unseen)
        self._prev_wrist_rel: np.ndarray | None = None  # [2, 2] wrist - shoulder midpoint, pixels
        self._prev_pixels: np.ndarray | None = None  # [33, 2]
        self._prev_seen: np.ndarray | None = None  # [33] bool

    def update(self, frame: PoseFrame) -> Observation:
        """Features of one (filtered) PoseFrame; NaN + mask False for everything that cannot be measured."""
        n = len(FEATURE_NAMES)
        values = np.full(n, np.nan)
        conf = np.zeros(n)
        if not frame.valid or not np.isfinite(frame.landmarks[:, :2]).all():
            self.reset()
            return Observation(t=frame.t, features=values, mask=np.zeros(n, bool), confidence=conf)

        c = self.config
        vis = np.clip(np.nan_to_num(frame.landmarks[:, 3].astype(np.float64)), 0.0, 1.0)
        seen = vis >= c.min_visibility
        w, h = frame.image_size
        pixels3 = frame.landmarks[:, :3].astype(np.float64) * np.array([w, h, w])
        pixels = pixels3[:, :2]
        has_world = frame.world is not None and np.isfinite(frame.world).all()
        world = frame.world.astype(np.float64) if has_world else None
        head_points = world if (world is not None and c.head_source == "world") else pixels3
        body_points = world if world is not None else pixels3

        dt = None if self._prev_t is None else frame.t - self._prev_t
        recent = dt is not None and 0.0 < dt <= c.max_velocity_gap_s

        # Head pose and angular velocities.
        head_conf = float(vis[list(_HEAD)].min())
        angles = np.full(3, np.nan)
        if head_conf >= c.min_visibility:
            angles[:] = head_angles(head_points)
        for k, name in enumerate(("head_pitch", "head_yaw", "head_roll")):
            i = FEATURE_INDEX[name]
            values[i], conf[i] = angles[k], head_conf
        if recent and self._prev_angles is not None:
            for k, name in enumerate(("head_pitch_vel", "head_yaw_vel", "head_roll_vel")):
                i = FEATURE_INDEX[name]
                values[i] = _wrap(angles[k] - self._prev_angles[k]) / dt  # NaN if either end is unseen
                conf[i] = head_conf

        # Body scale: shoulder width in pixels (3D pixel units so turning sideways shrinks it less).
        sh_conf = float(vis[list(_SHOULDERS)].min())
        scale = float(np.linalg.norm(pixels3[_L_SH] - pixels3[_R_SH])) if sh_conf >= c.min_visibility else math.nan
        if not scale > 1.0:
            scale = math.nan
        sh_mid = (pixels[_L_SH] + pixels[_R_SH]) / 2.0

        # Wrist speeds relative to the shoulders, in shoulder widths per second (hand gesturing, not walking).
        wrist_rel = np.stack([pixels[_L_WR] - sh_mid, pixels[_R_WR] - sh_mid])
        for k, (name, idx) in enumerate((("wrist_speed_left", _L_WR), ("wrist_speed_right", _R_WR))):
            i = FEATURE_INDEX[name]
            conf[i] = min(float(vis[idx]), sh_conf)
            if (
                recent
                and self._prev_wrist_rel is not None
                and self._prev_seen is not None
                and seen[idx]
                and self._prev_seen[idx]
                and math.isfinite(scale)
            ):
                values[i] = float(np.linalg.norm(wrist_rel[k] - self._prev_wrist_rel[k])) / dt / scale

        # Torso lean from hips to shoulders.
        i = FEATURE_INDEX["torso_lean"]
        conf[i] = min(sh_conf, float(vis[[_L_HIP, _R_HIP]].min()))
        if conf[i] >= c.min_visibility:
            values[i] = torso_lean(body_points)

        # Motion energy: mean speed of the visible upper-body landmarks, shoulder widths per second.
        i = FEATURE_INDEX["motion_energy"]
        if recent and self._prev_pixels is not None and self._prev_seen is not None and math.isfinite(scale):
            both = _UPPER_BODY[seen[_UPPER_BODY] & self._prev_seen[_UPPER_BODY]]
            conf[i] = len(both) / len(_UPPER_BODY)
            if len(both) >= c.min_energy_landmarks:
                speeds = np.linalg.norm(pixels[both] - self._prev_pixels[both], axis=1) / dt / scale
                values[i] = float(speeds.mean())

        # Facing the camera: 1 when the face points at it, falling with |yaw| and |pitch|.
        i = FEATURE_INDEX["facing"]
        conf[i] = head_conf
        if math.isfinite(angles[0]):
            values[i] = max(0.0, math.cos(angles[1])) * max(0.0, math.cos(angles[0]))

        self._prev_t = frame.t
        self._prev_angles = angles
        self._prev_wrist_rel = wrist_rel
        self._prev_pixels = pixels.copy()
        self._prev_seen = seen
        mask = np.isfinite(values)
        return Observation(t=frame.t, features=values, mask=mask, confidence=np.clip(conf, 0.0, 1.0))
