"""Semantic joint angles (DOF_NAMES) <-> the humanoid URDF's joint rotations, and our joint-limit clamping.

The URDF (pybullet_data humanoid, DeepMimic layout) is Y-up with the character facing +X and its right side at +Z;
every joint frame is aligned with its parent at zero. Conventions (verified against link world positions in tests):
chest/neck R = Ry(yaw) Rz(-pitch) Rx(-roll) (intrinsic Y-Z-X); right shoulder R = Rz(flex) Rx(-abd) Ry(-rot),
left shoulder R = Rz(flex) Rx(abd) Ry(rot) (intrinsic Z-X-Y); elbows are hinges about +Z (+ = bend).
Bullet enforces no limits on spherical joints, so `clamp` applies ours in semantic space before any mapping.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from sampling.primitives.base import DOF, DOF_NAMES, NUM_DOF

# Semantic joint limits (radians). Shoulder abduction stays below pi/2 so the Z-X-Y decomposition is unique.
JOINT_LIMITS: dict[str, tuple[float, float]] = {
    "chest_pitch": (-0.45, 0.6),
    "chest_yaw": (-0.6, 0.6),
    "chest_roll": (-0.4, 0.4),
    "neck_pitch": (-0.6, 0.7),
    "neck_yaw": (-1.1, 1.1),
    "neck_roll": (-0.6, 0.6),
    "r_shoulder_flex": (-0.8, 2.6),
    "r_shoulder_abd": (-0.3, 1.5),
    "r_shoulder_rot": (-1.3, 1.3),
    "r_elbow": (0.0, 2.5),
    "l_shoulder_flex": (-0.8, 2.6),
    "l_shoulder_abd": (-0.3, 1.5),
    "l_shoulder_rot": (-1.3, 1.3),
    "l_elbow": (0.0, 2.5),
}
LOWER = np.array([JOINT_LIMITS[n][0] for n in DOF_NAMES])
UPPER = np.array([JOINT_LIMITS[n][1] for n in DOF_NAMES])

# URDF spherical joint -> (its three semantic DOF names in Euler order, intrinsic Euler sequence, signs).
SPHERICAL: dict[str, tuple[tuple[str, str, str], str, tuple[float, float, float]]] = {
    "chest": (("chest_yaw", "chest_pitch", "chest_roll"), "YZX", (1.0, -1.0, -1.0)),
    "neck": (("neck_yaw", "neck_pitch", "neck_roll"), "YZX", (1.0, -1.0, -1.0)),
    "right_shoulder": (("r_shoulder_flex", "r_shoulder_abd", "r_shoulder_rot"), "ZXY", (1.0, -1.0, -1.0)),
    "left_shoulder": (("l_shoulder_flex", "l_shoulder_abd", "l_shoulder_rot"), "ZXY", (1.0, 1.0, 1.0)),
}
HINGE: dict[str, str] = {"right_elbow": "r_elbow", "left_elbow": "l_elbow"}


def clamp(pose: np.ndarray) -> np.ndarray:
    """Clip semantic angles (any leading shape, last axis NUM_DOF) to JOINT_LIMITS; NaN becomes the rest value 0."""
    pose = np.nan_to_num(np.asarray(pose, dtype=np.float64), nan=0.0)
    return np.clip(pose, LOWER, UPPER)


def joint_rotations(pose: np.ndarray) -> dict[str, np.ndarray]:
    """URDF joint name -> quaternion(s) [x, y, z, w] (spherical) or angle(s) (hinge) for pose [..., NUM_DOF]."""
    pose = np.asarray(pose, dtype=np.float64)
    lead = pose.shape[:-1]
    flat = pose.reshape(-1, NUM_DOF)
    out: dict[str, np.ndarray] = {}
    for joint, (names, seq, signs) in SPHERICAL.items():
        angles = flat[:, [DOF[n] for n in names]] * np.asarray(signs)
        out[joint] = Rotation.from_euler(seq, angles).as_quat().reshape(*lead, 4)
    for joint, name in HINGE.items():
        out[joint] = flat[:, DOF[name]].reshape(lead)
    return out


def pose_from_rotations(rotations: dict[str, np.ndarray]) -> np.ndarray:
    """Inverse of joint_rotations: semantic angles [..., NUM_DOF] from URDF quaternions [x, y, z, w] and hinge
    angles."""
    first = np.asarray(rotations["chest"])
    lead = first.shape[:-1]
    n = int(np.prod(lead)) if lead else 1
    out = np.zeros((n, NUM_DOF))
    for joint, (names, seq, signs) in SPHERICAL.items():
        q = np.asarray(rotations[joint], dtype=np.float64).reshape(n, 4)
        angles = Rotation.from_quat(q).as_euler(seq) * np.asarray(signs)
        for k, name in enumerate(names):
            out[:, DOF[name]] = angles[:, k]
    for joint, name in HINGE.items():
        out[:, DOF[name]] = np.asarray(rotations[joint], dtype=np.float64).reshape(n)
    return out.reshape(*lead, NUM_DOF)


def rotation_angle(q_a: np.ndarray, q_b: np.ndarray) -> np.ndarray:
    """Angle (rad) of the relative rotation between quaternions [..., 4] ([x, y, z, w]); for joint speed checks."""
    dot = np.abs(np.sum(np.asarray(q_a) * np.asarray(q_b), axis=-1))
    return 2.0 * np.arccos(np.clip(dot, -1.0, 1.0))
