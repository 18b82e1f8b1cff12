"""The face's state for one frame (gaze, lids, jaw, brows) and how it is written to the character's face joints.

Gaze is a world point the eyes fixate (the participant's face) plus an angular offset (aversions, saccades); each eye
is turned toward it separately (so they converge), within the human oculomotor range used here (|yaw| <= 0.7 rad,
|pitch| <= 0.45 rad). The upper lids follow the eyes' pitch a little (lid-eye coupling: looking down lowers the lids),
as in Evinger et al. 1991, "Eyelid movements", Invest. Ophthalmol. Vis. Sci. 32(2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

EYE_YAW_LIMIT = 0.7
EYE_PITCH_LIMIT = 0.45
LID_FOLLOW = 0.6  # upper lid rotation per rad of downward eye pitch


@dataclass(frozen=True)
class FaceState:
    """One frame of the face: what the eyes look at, how closed the lids are, how open the mouth is, brow raise."""

    gaze: tuple[float, float, float] | None = None  # world point (m); None = straight ahead of the head
    gaze_offset: tuple[float, float] = (0.0, 0.0)  # (yaw + = the agent's left, pitch + = up), rad, added
    lid: float = 0.0  # 0 open .. 1 closed (blink)
    jaw: float = 0.0  # 0 closed .. 1 fully open (speech)
    brow: float = 0.0  # -0.5 (lowered) .. 1 (raised)


NEUTRAL = FaceState()


def eye_angles(eye_world: np.ndarray, head_rot: np.ndarray, target: np.ndarray | None) -> tuple[float, float]:
    """(yaw, pitch) of an eye at eye_world that points its +X at target, in the head frame (URDF axes)."""
    if target is None or not np.all(np.isfinite(target)):
        return 0.0, 0.0
    d = head_rot.T @ (np.asarray(target, dtype=np.float64) - eye_world)
    yaw = float(np.arctan2(-d[2], d[0]))  # +Z is the character's right: looking left is toward -Z
    pitch = float(np.arctan2(d[1], np.hypot(d[0], d[2])))
    return yaw, pitch


def apply_face(humanoid: Any, face: FaceState) -> None:
    """Set the eye, lid, jaw and brow joints of a dressed Humanoid from `face`."""
    from fep_motion.body.character import BROW_TRAVEL, JAW_TRAVEL, LID_CLOSED, LID_OPEN, MOUTH_TRAVEL

    p, body, client = humanoid._p, humanoid.body, humanoid.client
    idx = humanoid.joint_index
    close = LID_OPEN - LID_CLOSED
    target = None if face.gaze is None else np.asarray(face.gaze, dtype=np.float64)
    neck = p.getLinkState(body, idx["neck"], computeForwardKinematics=True, physicsClientId=client)
    head_pos = np.asarray(neck[4])
    head_rot = np.asarray(p.getMatrixFromQuaternion(neck[5])).reshape(3, 3)
    from fep_motion.body.character import eye_center

    lid = float(np.clip(face.lid, 0.0, 1.0))
    for side, name in ((-1, "left"), (1, "right")):
        eye_world = head_pos + head_rot @ eye_center(side)
        yaw, pitch = eye_angles(eye_world, head_rot, target)
        yaw = float(np.clip(yaw + face.gaze_offset[0], -EYE_YAW_LIMIT, EYE_YAW_LIMIT))
        pitch = float(np.clip(pitch + face.gaze_offset[1], -EYE_PITCH_LIMIT, EYE_PITCH_LIMIT))
        q = Rotation.from_euler("YZ", [yaw, pitch]).as_quat()
        p.resetJointStateMultiDof(body, idx[f"{name}_eye"], targetValue=list(q), physicsClientId=client)
        open_angle = -LID_FOLLOW * pitch * 0.5 if pitch > 0 else -LID_FOLLOW * pitch
        angle = open_angle + lid * (close - open_angle)
        p.resetJointState(body, idx[f"{name}_upper_lid"], float(np.clip(angle, -0.3, close)), physicsClientId=client)
        brow = float(np.clip(face.brow, -0.5, 1.0)) * BROW_TRAVEL
        p.resetJointState(body, idx[f"{name}_brow"], brow, physicsClientId=client)
    jaw = float(np.clip(face.jaw, 0.0, 1.0))
    p.resetJointState(body, idx["jaw"], jaw * JAW_TRAVEL, physicsClientId=client)
    p.resetJointState(body, idx["mouth"], min(1.0, 2.0 * jaw) * MOUTH_TRAVEL, physicsClientId=client)
