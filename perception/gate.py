"""Who head gestures are read from: a person facing the camera at a usable size, judged from the pose landmarks.

Head angles of a passer-by far from the camera or turned away are neither addressed to the agent nor measurable:
their ears are a few pixels apart and MediaPipe still gives their eyes visibility ~0.99 from behind (measured on
vtest.avi). The gate checks size (ear-to-ear and shoulder-to-shoulder distance as fractions of the frame width),
face orientation (ears in frontal order, nose between them, eyes and ears visible) and the shoulder line (frontal
order, small depth angle), and opens only after it has passed for `open_s`, closing after `hold_s` of failures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perception.types import LM, PoseFrame
from yamlconf import FieldError

_NOSE, _L_EAR, _R_EAR = LM["nose"], LM["left_ear"], LM["right_ear"]
_L_EYE, _R_EYE = LM["left_eye"], LM["right_eye"]
_L_SH, _R_SH = LM["left_shoulder"], LM["right_shoulder"]

# Reasons a frame fails, in the order they are checked.
REASONS: tuple[str, ...] = ("no person", "face unseen", "face turned", "face small", "shoulders turned",
                            "shoulders small")


@dataclass(frozen=True)
class GateParams:
    """Thresholds of the gate (widths as fractions of the frame width, angles in rad, times in s).

    The size defaults admit a person within Hall's social distance (3.6 m; Hall 1966, The Hidden Dimension) of a
    60-degree camera: head breadth at the ears ~0.145 m and shoulder breadth ~0.37 m span 0.036 and 0.092 of the
    frame width there (~2.5 m for a 78-degree webcam). On vtest.avi the nearest pedestrians reach 0.019 and 0.054.
    """

    min_face_width: float = 0.035  # ear-to-ear distance in the image
    min_shoulder_width: float = 0.09  # shoulder-to-shoulder distance in the image (checked when both are seen)
    min_visibility: float = 0.5  # nose, ears and shoulders count as seen from here (MediaPipe's drawing threshold)
    min_eye_visibility: float = 0.8  # both eyes must be seen clearly: the face is toward the camera
    # The nose must lie between the ears, nose_margin of their span inside either ear: 0 admits a head turned up
    # to ~34 degrees (nose tip ~0.1 m ahead of the ear line, ears ~0.15 m apart), wider than a head shake's swing.
    nose_margin: float = 0.0
    # Angle of the shoulder line out of the image plane, atan2(dz, dx) with MediaPipe's z scaled like x: 0 frontal,
    # pi/2 side-on; z is the noisiest coordinate, so the bound is loose (messi5.jpg's frontal torso: 0.08).
    max_shoulder_yaw: float = 1.0
    open_s: float = 0.3  # the head gate opens after this long of passing frames (a turn toward the camera settles)
    hold_s: float = 0.3  # and closes after this long of failing ones (the nose may pass an ear at a shake's extreme)
    # Hand gestures need only the size: a wave or a point is often made half turned away, but the wrist speed is in
    # shoulder widths per second and a narrow shoulder line turns pixel jitter and a walker's arm swing into
    # "gestures". 0: gestures are not gated.
    gesture_min_shoulder_width: float = 0.09

    def __post_init__(self) -> None:
        """Bounds per field; a FieldError (a ValueError) names the field, so the YAML loader reports its line."""
        bounds = {**dict.fromkeys(("min_face_width", "min_shoulder_width", "gesture_min_shoulder_width"),
                                  (0.0, 1.0, False, "a fraction of the frame width")),
                  **dict.fromkeys(("min_visibility", "min_eye_visibility"), (0.0, 1.0, True, "a visibility")),
                  "nose_margin": (-0.5, 0.5, False, "a fraction of the ear span"),
                  "max_shoulder_yaw": (0.0, math.pi, True, "an angle in rad"),
                  **dict.fromkeys(("open_s", "hold_s"), (0.0, math.inf, True, "seconds"))}
        for name, (lo, hi, hi_inclusive, what) in bounds.items():
            v = getattr(self, name)
            low_ok = v > lo if name == "max_shoulder_yaw" else v >= lo
            if not (low_ok and (v <= hi if hi_inclusive else v < hi)):
                interval = f"{'(' if name == 'max_shoulder_yaw' else '['}{lo:g}, {hi:g}{']' if hi_inclusive else ')'}"
                raise FieldError(name, f"must be in {interval} (got {v!r})", f"set {what} in that range")


@dataclass(frozen=True)
class GateState:
    """The gate's verdict on one frame: measurements, the first failed check, and whether each detector may read."""

    face_width: float  # ear-to-ear / frame width (NaN when the ears are unseen)
    shoulder_width: float  # shoulder-to-shoulder / frame width (NaN when a shoulder is unseen)
    reason: str  # "" when the frame passes, else one of REASONS
    head_open: bool  # nods and shakes may be read (passed for open_s, not failed for hold_s)
    body_ok: bool  # hand gestures may be read (shoulders wide enough)

    @property
    def passes(self) -> bool:
        return not self.reason


def check_frame(frame: PoseFrame, params: GateParams = GateParams()) -> tuple[float, float, str]:
    """(face width, shoulder width, reason) of one frame: reason "" when a frontal person of usable size is seen."""
    if not frame.valid or not np.isfinite(frame.landmarks[:, :3]).all():
        return math.nan, math.nan, "no person"
    w, h = frame.image_size
    px = frame.landmarks[:, :3].astype(np.float64) * np.array([w, h, w])  # z scales like x (MediaPipe)
    vis = np.nan_to_num(frame.landmarks[:, 3].astype(np.float64))
    p = params
    face_seen = min(vis[_NOSE], vis[_L_EAR], vis[_R_EAR]) >= p.min_visibility
    sh_seen = min(vis[_L_SH], vis[_R_SH]) >= p.min_visibility
    face_w = float(np.hypot(*(px[_L_EAR, :2] - px[_R_EAR, :2]))) / w if face_seen else math.nan
    sh_w = float(np.hypot(*(px[_L_SH, :2] - px[_R_SH, :2]))) / w if sh_seen else math.nan
    if not face_seen or min(vis[_L_EYE], vis[_R_EYE]) < p.min_eye_visibility:
        return face_w, sh_w, "face unseen"
    # Facing: the person's left ear on the image right of their right ear, the nose between them.
    span = px[_L_EAR, 0] - px[_R_EAR, 0]
    u = (px[_NOSE, 0] - px[_R_EAR, 0]) / span if span > 0 else math.nan
    if not p.nose_margin <= u <= 1.0 - p.nose_margin:
        return face_w, sh_w, "face turned"
    if face_w < p.min_face_width:
        return face_w, sh_w, "face small"
    if sh_seen:
        d = px[_L_SH] - px[_R_SH]
        if abs(math.atan2(d[2], d[0])) > p.max_shoulder_yaw:  # d[0] < 0 (shoulders in back view order) gives > pi/2
            return face_w, sh_w, "shoulders turned"
        if sh_w < p.min_shoulder_width:
            return face_w, sh_w, "shoulders small"
    return face_w, sh_w, ""


class AttentionGate:
    """Stateful gate over a PoseFrame stream: `update(frame)` -> GateState."""

    def __init__(self, params: GateParams = GateParams()) -> None:
        self.params = params
        self.reset()

    def reset(self) -> None:
        self._open = False
        self._pass_since: float | None = None
        self._fail_since: float | None = None
        self._last_t: float | None = None

    def update(self, frame: PoseFrame) -> GateState:
        """The verdict on this frame; the head gate's timing runs on the frame timestamps."""
        p = self.params
        t = frame.t
        if self._last_t is not None and t < self._last_t:
            self.reset()  # time went back: a new stream
        self._last_t = t
        face_w, sh_w, reason = check_frame(frame, p)
        if not reason:
            self._fail_since = None
            if self._pass_since is None:
                self._pass_since = t
            if t - self._pass_since >= p.open_s:
                self._open = True
        else:
            if self._fail_since is None:
                self._fail_since = t
            if not self._open or t - self._fail_since >= p.hold_s:
                self._open = False
                self._pass_since = None
        body_ok = p.gesture_min_shoulder_width == 0.0 or (
            math.isfinite(sh_w) and sh_w >= p.gesture_min_shoulder_width
        )
        return GateState(face_w, sh_w, reason, self._open, body_ok)
