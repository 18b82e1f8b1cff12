"""BVH export of agent motion (the humanoid's joint hierarchy, centimetres, Y up, facing +X) and a BVH reader.

Joint channels use each URDF joint's Euler order (joints.py), so a BVH channel triple is exactly the joint's
rotation: R = R_c1(a1) R_c2(a2) R_c3(a3) in the listed channel order, the BVH convention Blender and MotionBuilder read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from fep_motion.body.errors import BodyError
from fep_motion.body.humanoid import BASE_HEIGHT, GLOBAL_SCALING
from fep_motion.body.joints import HINGE, SPHERICAL, joint_rotations, pose_from_rotations
from sampling.primitives.base import NUM_DOF

CM = 100.0 * GLOBAL_SCALING  # URDF units -> centimetres at our scaling

# (name, parent, offset in URDF units from humanoid.urdf joint origins, channel order, end-site offset or None)
SKELETON: tuple[
    tuple[str, str | None, tuple[float, float, float], str, tuple[float, float, float] | None], ...
] = (
    ("root", None, (0.0, 0.0, 0.0), "ZXY", None),
    ("chest", "root", (0.0, 0.944604, 0.0), "YZX", None),
    ("neck", "chest", (0.0, 0.895576, 0.0), "YZX", (0.0, 1.11, 0.0)),
    ("right_shoulder", "chest", (-0.0962, 0.974, 0.73244), "ZXY", None),
    ("right_elbow", "right_shoulder", (0.0, -1.099152, 0.0), "ZXY", (0.0, -1.035788, 0.0)),
    ("left_shoulder", "chest", (-0.0962, 0.974, -0.73244), "ZXY", None),
    ("left_elbow", "left_shoulder", (0.0, -1.099152, 0.0), "ZXY", (0.0, -1.035788, 0.0)),
    ("right_hip", "root", (0.0, 0.0, 0.339548), "ZXY", None),
    ("right_knee", "right_hip", (0.0, -1.686184, 0.0), "ZXY", None),
    ("right_ankle", "right_knee", (0.0, -1.63948, 0.0), "ZXY", (0.18, -0.09, 0.0)),
    ("left_hip", "root", (0.0, 0.0, -0.339548), "ZXY", None),
    ("left_knee", "left_hip", (0.0, -1.686184, 0.0), "ZXY", None),
    ("left_ankle", "left_knee", (0.0, -1.63948, 0.0), "ZXY", (0.18, -0.09, 0.0)),
)


@dataclass
class BvhJoint:
    name: str
    parent: str | None
    offset: np.ndarray
    channels: list[str]
    end_site: np.ndarray | None = None


@dataclass
class Bvh:
    """A parsed BVH: joints in file order, frame time, and the motion matrix [frames, channels]."""

    joints: list[BvhJoint]
    frame_time: float
    motion: np.ndarray
    columns: dict[str, slice] = field(default_factory=dict)

    def channel_values(self, joint: str) -> tuple[list[str], np.ndarray]:
        j = next(j for j in self.joints if j.name == joint)
        return j.channels, self.motion[:, self.columns[joint]]

    def joint_rotation(self, joint: str) -> Rotation:
        """A joint's rotation per frame, composed from its rotation channels in their listed order (degrees)."""
        channels, values = self.channel_values(joint)
        rot = [(c[0].upper(), values[:, k]) for k, c in enumerate(channels) if c.endswith("rotation")]
        seq = "".join(axis for axis, _ in rot)
        return Rotation.from_euler(seq, np.stack([v for _, v in rot], axis=1), degrees=True)


def _children(name: str) -> list[tuple]:
    return [j for j in SKELETON if j[1] == name]


def write_bvh(poses: np.ndarray, fps: float, path: str | Path) -> Path:
    """Write semantic poses [T, NUM_DOF] (radians) as a BVH at fps; returns the path."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] != NUM_DOF or len(poses) == 0:
        raise BodyError(f"write_bvh needs poses [frames, {NUM_DOF}], got {poses.shape}")
    if not np.all(np.isfinite(poses)):
        raise BodyError("write_bvh: poses contain NaN/inf; clean the timeline first")
    if not fps > 0:
        raise BodyError(f"write_bvh: fps={fps} must be > 0")
    path = Path(path)
    if not path.parent.exists():
        raise BodyError(f"cannot write {path}: directory {path.parent} does not exist (create it first)")
    rot = joint_rotations(poses)
    lines: list[str] = ["HIERARCHY"]
    columns: list[np.ndarray] = []
    n = len(poses)

    def emit(joint: tuple, depth: int) -> None:
        name, parent, offset, order, end = joint
        pad = "  " * depth
        off = np.asarray(offset) * CM
        lines.append(f"{pad}{'ROOT' if parent is None else 'JOINT'} {name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}  OFFSET {off[0]:.6f} {off[1]:.6f} {off[2]:.6f}")
        rot_channels = " ".join(f"{a}rotation" for a in order)
        if parent is None:
            lines.append(f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rot_channels}")
            columns.append(np.tile([0.0, BASE_HEIGHT * 100.0, 0.0], (n, 1)))
        else:
            lines.append(f"{pad}  CHANNELS 3 {rot_channels}")
        if name in SPHERICAL:
            columns.append(Rotation.from_quat(rot[name]).as_euler(order, degrees=True))
        elif name in HINGE:  # hinge about +Z: the first channel of Z-X-Y
            columns.append(np.stack([np.degrees(rot[name]), np.zeros(n), np.zeros(n)], axis=1))
        else:
            columns.append(np.zeros((n, 3)))
        for child in _children(name):
            emit(child, depth + 1)
        if end is not None:
            e = np.asarray(end) * CM
            lines.extend(
                [
                    f"{pad}  End Site",
                    f"{pad}  {{",
                    f"{pad}    OFFSET {e[0]:.6f} {e[1]:.6f} {e[2]:.6f}",
                    f"{pad}  }}",
                ]
            )
        lines.append(f"{pad}}}")

    emit(SKELETON[0], 0)
    motion = np.concatenate(columns, axis=1)
    lines += ["MOTION", f"Frames: {n}", f"Frame Time: {1.0 / fps:.8f}"]
    lines += [" ".join(f"{v:.6f}" for v in row) for row in motion]
    path.write_text("\n".join(lines) + "\n")
    return path


def read_bvh(path: str | Path) -> Bvh:
    """Parse a BVH file (any joint hierarchy and channel order); malformed files raise BodyError naming the line."""
    path = Path(path)
    if not path.exists():
        raise BodyError(f"BVH file {path} not found")
    tokens_by_line = [ln.split() for ln in path.read_text(errors="replace").splitlines()]
    joints: list[BvhJoint] = []
    stack: list[str | None] = []
    pending: BvhJoint | None = None
    in_end = False
    i = 0
    try:
        if not tokens_by_line or tokens_by_line[0][:1] != ["HIERARCHY"]:
            raise ValueError("expected HIERARCHY")
        i = 1
        while i < len(tokens_by_line):
            tok = tokens_by_line[i]
            if not tok:
                i += 1
                continue
            key = tok[0]
            if key in ("ROOT", "JOINT"):
                pending = BvhJoint(tok[1], stack[-1] if stack else None, np.zeros(3), [])
                joints.append(pending)
            elif key == "End":
                in_end = True
            elif key == "{":
                stack.append(None if in_end else pending.name)
            elif key == "}":
                top = stack.pop()
                if top is None:
                    in_end = False
            elif key == "OFFSET":
                vals = np.array([float(v) for v in tok[1:4]])
                if in_end:
                    joints[-1].end_site = vals
                else:
                    pending.offset = vals
            elif key == "CHANNELS":
                pending.channels = tok[2 : 2 + int(tok[1])]
            elif key == "MOTION":
                break
            else:
                raise ValueError(f"unexpected '{key}'")
            i += 1
        frames = int(tokens_by_line[i + 1][1])
        frame_time = float(tokens_by_line[i + 2][2])
        rows = [list(map(float, t)) for t in tokens_by_line[i + 3 : i + 3 + frames] if t]
        motion = np.asarray(rows, dtype=np.float64)
    except (ValueError, IndexError, AttributeError) as exc:
        raise BodyError(f"BVH file {path} is malformed near line {i + 1}: {exc}") from None
    width = sum(len(j.channels) for j in joints)
    if motion.shape != (frames, width):
        raise BodyError(
            f"BVH file {path}: motion is {motion.shape}, header says {frames} frames x {width} channels"
        )
    bvh = Bvh(joints, frame_time, motion)
    col = 0
    for j in joints:
        bvh.columns[j.name] = slice(col, col + len(j.channels))
        col += len(j.channels)
    return bvh


def poses_from_bvh(bvh: Bvh) -> np.ndarray:
    """Semantic poses [frames, NUM_DOF] from a BVH with this skeleton's joint names (written by write_bvh)."""
    names = {j.name for j in bvh.joints}
    missing = [j for j in (*SPHERICAL, *HINGE) if j not in names]
    if missing:
        raise BodyError(f"BVH lacks the humanoid joints {', '.join(missing)}")
    rotations: dict[str, np.ndarray] = {}
    for joint in SPHERICAL:
        rotations[joint] = bvh.joint_rotation(joint).as_quat()
    for joint in HINGE:
        rotvec = bvh.joint_rotation(joint).as_rotvec()
        rotations[joint] = rotvec[:, 2]  # hinge about +Z
    return pose_from_rotations(rotations)
