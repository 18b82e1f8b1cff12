"""Playback of pybullet_data's DeepMimic clips (data/motions/humanoid3d_*.txt) on the agent's body.

A check of joint conventions (mocap quaternions drive the same URDF) and a source of idle variety (semantic poses).
DeepMimic frame layout: [dt, root xyz, root quat, chest, neck, r hip, r knee, r ankle, r shoulder, r elbow, l hip,
l knee, l ankle, l shoulder, l elbow]; quaternions are [w, x, y, z], hinges are one angle. Root motion is dropped:
the agent sits at a fixed place (fixed base).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

from fep_motion.body.errors import BodyError
from fep_motion.body.joints import pose_from_rotations

LAYOUT: tuple[tuple[str, int], ...] = (
    ("chest", 4),
    ("neck", 4),
    ("right_hip", 4),
    ("right_knee", 1),
    ("right_ankle", 4),
    ("right_shoulder", 4),
    ("right_elbow", 1),
    ("left_hip", 4),
    ("left_knee", 1),
    ("left_ankle", 4),
    ("left_shoulder", 4),
    ("left_elbow", 1),
)
FRAME_WIDTH = 1 + 3 + 4 + sum(n for _, n in LAYOUT)  # 44


def motions_dir() -> Path:
    import pybullet_data

    return Path(pybullet_data.getDataPath()) / "data" / "motions"


def available_clips() -> list[str]:
    """Names of the humanoid clips shipped with pybullet_data (e.g. 'walk', 'punch')."""
    return sorted(p.name[len("humanoid3d_") : -4] for p in motions_dir().glob("humanoid3d_*.txt"))


def clip_path(name_or_path: str) -> Path:
    """A clip name ('walk') or a path to a DeepMimic .txt file."""
    if os.sep in name_or_path or name_or_path.endswith(".txt"):
        return Path(name_or_path)
    path = motions_dir() / f"humanoid3d_{name_or_path}.txt"
    if not path.exists():
        raise BodyError(f"no mocap clip '{name_or_path}' (available: {', '.join(available_clips())})")
    return path


@dataclass
class MocapClip:
    """A DeepMimic clip: frame times and per-joint rotations (quaternions [x, y, z, w] or hinge angles)."""

    name: str
    times: np.ndarray  # [F] seconds
    rotations: dict[str, np.ndarray]  # joint -> [F, 4] or [F]

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def at(self, t: float) -> dict[str, np.ndarray]:
        """Joint rotations at time t (slerp between frames; clamped to the clip)."""
        t = float(np.clip(t, self.times[0], self.times[-1]))
        out: dict[str, np.ndarray] = {}
        for joint, values in self.rotations.items():
            if values.ndim == 2:
                out[joint] = Slerp(self.times, Rotation.from_quat(values))([t]).as_quat()[0]
            else:
                out[joint] = np.interp(t, self.times, values)
        return out

    def semantic_poses(self) -> np.ndarray:
        """The upper body of every frame as semantic angles [F, NUM_DOF] (unclamped)."""
        return pose_from_rotations(self.rotations)


def load_clip(name_or_path: str) -> MocapClip:
    """Load a DeepMimic clip; a missing or malformed file raises BodyError naming it."""
    path = clip_path(name_or_path)
    if not path.exists():
        raise BodyError(f"mocap file {path} not found")
    try:
        frames = np.asarray(json.loads(path.read_text())["Frames"], dtype=np.float64)
    except (ValueError, KeyError, TypeError) as exc:
        raise BodyError(f"mocap file {path} is not a DeepMimic clip (JSON with 'Frames'): {exc}") from None
    if (
        frames.ndim != 2
        or frames.shape[1] != FRAME_WIDTH
        or len(frames) < 2
        or not np.all(np.isfinite(frames))
    ):
        raise BodyError(
            f"mocap file {path}: frames must be [N>=2, {FRAME_WIDTH}] finite numbers, got {frames.shape}"
        )
    times = np.concatenate([[0.0], np.cumsum(frames[:-1, 0])])
    rotations: dict[str, np.ndarray] = {}
    col = 8
    for joint, width in LAYOUT:
        block = frames[:, col : col + width]
        if width == 4:
            q = block[:, [1, 2, 3, 0]]  # [w, x, y, z] -> [x, y, z, w]
            rotations[joint] = q / np.linalg.norm(q, axis=1, keepdims=True)
        else:
            rotations[joint] = block[:, 0]
        col += width
    return MocapClip(path.stem.replace("humanoid3d_", ""), times, rotations)
