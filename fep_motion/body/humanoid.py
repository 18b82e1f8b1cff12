"""The agent's body: pybullet_data's humanoid (DeepMimic layout), fixed base, Z-up, driven kinematically.

Poses are semantic joint angles over DOF_NAMES; they are clamped to our limits, mapped to URDF quaternions
(joints.py) and written with resetJointStateMultiDof, so the body is exactly where the timeline says (no dynamics).
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass

import numpy as np

from fep_motion.body.joints import HINGE, SPHERICAL, clamp, joint_rotations, pose_from_rotations
from sampling.primitives.base import NUM_DOF

GLOBAL_SCALING = 0.25
BASE_HEIGHT = 0.9  # m: feet on the floor at this scaling
# Y-up URDF -> Z-up world: +90 degrees about X ([x, y, z, w]); the character faces world +X, its left is world +Y.
Y_UP_TO_Z_UP = (float(np.sin(np.pi / 4)), 0.0, 0.0, float(np.cos(np.pi / 4)))


def _flush_c_stdio() -> None:
    """Flush C stdio buffers so native output lands while our redirection is still in place."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def quiet_native_output(capture: list[str] | None = None):
    """Silence C-level stdout/stderr (Bullet's loader and EGL plugin chatter) for the duration of the block.

    With `capture`, the silenced text is appended to it (the EGL plugin reports its GL renderer this way).
    """
    import tempfile

    sys.stdout.flush()
    sys.stderr.flush()
    try:
        saved = [os.dup(1), os.dup(2)]
    except OSError:  # no real fds (e.g. captured by a test runner): nothing to silence
        yield
        return
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield
        finally:
            _flush_c_stdio()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            if capture is not None:
                sink.seek(0)
                capture.append(sink.read().decode(errors="replace"))


@dataclass
class LookAt:
    """Turns the head toward a world point, smoothly: a rate-limited neck yaw/pitch added on top of the pose."""

    max_yaw: float = 0.8
    max_pitch: float = 0.4
    max_speed: float = 2.0  # rad/s, below the gesture limit
    yaw: float = 0.0
    pitch: float = 0.0
    target: tuple[float, float, float] | None = None

    def desired(self, head_world: np.ndarray) -> tuple[float, float]:
        """Neck (yaw, pitch) that points the face (+X) from head_world at the target; (0, 0) with no target."""
        if self.target is None or not np.all(np.isfinite(self.target)):
            return 0.0, 0.0
        d = np.asarray(self.target, dtype=np.float64) - head_world
        yaw = float(np.arctan2(d[1], d[0]))  # + = the agent's left (world +Y)
        pitch = float(np.arctan2(-d[2], np.hypot(d[0], d[1])))  # + = chin down
        return float(np.clip(yaw, -self.max_yaw, self.max_yaw)), float(
            np.clip(pitch, -self.max_pitch, self.max_pitch)
        )

    def update(self, head_world: np.ndarray, dt: float) -> tuple[float, float]:
        """Step toward the desired angles by at most max_speed * dt each; returns the current (yaw, pitch)."""
        wy, wp = self.desired(head_world)
        step = self.max_speed * max(dt, 0.0)
        self.yaw += float(np.clip(wy - self.yaw, -step, step))
        self.pitch += float(np.clip(wp - self.pitch, -step, step))
        return self.yaw, self.pitch


def human_position_from_image(
    x: float,
    y: float,
    distance: float = 1.5,
    eye_height: float = 1.4,
    half_width: float = 0.5,
    half_height: float = 0.35,
) -> tuple[float, float, float]:
    """World point of the human from their head's normalized position in their (unmirrored) webcam image.

    The human sits facing the agent at `distance`; their left (image right, x > 0.5) is the agent's right (world -Y).
    """
    return (distance, -(x - 0.5) * 2.0 * half_width, eye_height - (y - 0.5) * 2.0 * half_height)


_BOX_CORNERS = np.array([[i >> 2 & 1, i >> 1 & 1, i & 1] for i in range(8)])  # 0 = min, 1 = max, per axis


class Humanoid:
    """The humanoid in one PyBullet client: `set_pose` (semantic angles) and read-backs of joints and links."""

    def __init__(self, client: int, colorize: bool = True) -> None:
        """`colorize` dresses the body as the character (meshes and face joints, fep_motion/body/character.py);
        False loads the bare pybullet_data humanoid (the same joints, for kinematics-only work)."""
        import pybullet as p

        self._p, self.client = p, client
        self.dressed = colorize
        from fep_motion.body.character import character_urdf, stock_humanoid_urdf

        if colorize:
            path, scaling = str(character_urdf()), 1.0
        else:
            path, scaling = stock_humanoid_urdf(), GLOBAL_SCALING
        with quiet_native_output():
            self.body = p.loadURDF(
                path,
                [0.0, 0.0, BASE_HEIGHT],
                Y_UP_TO_Z_UP,
                globalScaling=scaling,
                useFixedBase=True,
                flags=p.URDF_MAINTAIN_LINK_ORDER,
                physicsClientId=client,
            )
        self.joint_index: dict[str, int] = {}
        self.joint_type: dict[str, int] = {}
        for j in range(p.getNumJoints(self.body, physicsClientId=client)):
            info = p.getJointInfo(self.body, j, physicsClientId=client)
            self.joint_index[info[1].decode()] = j
            self.joint_type[info[1].decode()] = info[2]
        self.look = LookAt()
        self.face = None
        self._boxes: tuple[list[int], np.ndarray] | None = None
        if colorize:
            from fep_motion.body.character import link_bounds

            boxes = link_bounds(path)
            self._boxes = ([self.joint_index[name] for name in boxes], np.stack(list(boxes.values())))
            self._set_gloss()
        self.set_pose(np.zeros(NUM_DOF))

    def _set_gloss(self) -> None:
        """Glossy eyes and lips, matte skin, hair and cloth (specular colour per visual shape)."""
        from fep_motion.body.character import PALETTE

        p = self._p
        gloss = {PALETTE.sclera: 0.7, PALETTE.iris: 0.7, PALETTE.pupil: 0.7, PALETTE.lips: 0.25}
        for shape in p.getVisualShapeData(self.body, physicsClientId=self.client):
            link, rgba = shape[1], tuple(round(float(c), 4) for c in shape[7])
            level = next((g for col, g in gloss.items() if tuple(round(c, 4) for c in col) == rgba), 0.04)
            p.changeVisualShape(self.body, link, specularColor=[level] * 3, physicsClientId=self.client)

    def box_corners(self) -> np.ndarray | None:
        """World corners [links, 8, 3] of the boxes that hold each dressed link's meshes, at the current pose (None
        for the bare humanoid): everything drawn of the character lies inside them."""
        if self._boxes is None:
            return None
        links, boxes = self._boxes
        states = self._p.getLinkStates(
            self.body, links, computeForwardKinematics=True, physicsClientId=self.client
        )
        pos = np.array([s[4] for s in states])
        x, y, z, w = np.array([s[5] for s in states]).T
        rot = np.stack(  # the link frames' rotation matrices from their quaternions
            [
                [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
            ]
        ).transpose(2, 0, 1)
        local = boxes[:, _BOX_CORNERS, [0, 1, 2]]  # [links, 8, 3]: each corner picks min or max per axis
        return np.einsum("lij,lcj->lci", rot, local) + pos[:, None, :]

    def set_face(self, face) -> None:
        """Write a FaceState (gaze, lids, jaw, brows; fep_motion/body/face.py) to the face joints (dressed only)."""
        if not self.dressed:
            return
        from fep_motion.body.face import apply_face

        apply_face(self, face)
        self.face = face

    def set_pose(self, pose: np.ndarray) -> np.ndarray:
        """Clamp semantic angles to the joint limits and write them to the URDF joints; returns the clamped pose."""
        p = self._p
        pose = clamp(pose)
        rot = joint_rotations(pose)
        for joint in SPHERICAL:
            p.resetJointStateMultiDof(
                self.body, self.joint_index[joint], targetValue=list(rot[joint]), physicsClientId=self.client
            )
        for joint in HINGE:
            p.resetJointState(
                self.body, self.joint_index[joint], float(rot[joint]), physicsClientId=self.client
            )
        return pose

    def set_pose_looking(self, pose: np.ndarray, dt: float) -> np.ndarray:
        """set_pose with the look-at's neck yaw/pitch added (stepped by dt toward the current target)."""
        from sampling.primitives.base import DOF

        head = self.link_position("neck")
        yaw, pitch = self.look.update(head, dt)
        pose = np.array(pose, dtype=np.float64)
        pose[DOF["neck_yaw"]] += yaw
        pose[DOF["neck_pitch"]] += pitch
        return self.set_pose(pose)

    def joint_rotations(self) -> dict[str, np.ndarray]:
        """Read back each driven joint's state from PyBullet: quaternion [x, y, z, w] or hinge angle."""
        p = self._p
        out: dict[str, np.ndarray] = {}
        for joint in SPHERICAL:
            state = p.getJointStateMultiDof(self.body, self.joint_index[joint], physicsClientId=self.client)
            out[joint] = np.asarray(state[0], dtype=np.float64)
        for joint in HINGE:
            out[joint] = np.asarray(
                p.getJointState(self.body, self.joint_index[joint], physicsClientId=self.client)[0]
            )
        return out

    def read_pose(self) -> np.ndarray:
        """Semantic angles recovered from PyBullet's joint states (the inverse of set_pose within the limits)."""
        return pose_from_rotations(self.joint_rotations())

    def link_position(self, link: str) -> np.ndarray:
        """World position (m) of a link's frame origin: 'neck' is the neck joint, 'right_wrist' the wrist, etc."""
        state = self._p.getLinkState(
            self.body, self.joint_index[link], computeForwardKinematics=True, physicsClientId=self.client
        )
        return np.asarray(state[4], dtype=np.float64)

    def head_center(self) -> np.ndarray:
        """World position of the head sphere's center (the neck link's visual origin)."""
        state = self._p.getLinkState(
            self.body, self.joint_index["neck"], computeForwardKinematics=True, physicsClientId=self.client
        )
        return np.asarray(state[0], dtype=np.float64)

    def head_forward(self) -> np.ndarray:
        """World unit vector the face points along (the neck link's URDF +X)."""
        state = self._p.getLinkState(
            self.body, self.joint_index["neck"], computeForwardKinematics=True, physicsClientId=self.client
        )
        return np.asarray(self._p.getMatrixFromQuaternion(state[5])).reshape(3, 3)[:, 0]

    def set_raw_joints(self, rotations: dict[str, np.ndarray]) -> None:
        """Write URDF joint values directly (mocap playback): quaternions [x, y, z, w] for spherical joints, angles
        for hinges."""
        p = self._p
        for joint, value in rotations.items():
            j = self.joint_index[joint]
            if self.joint_type[joint] == p.JOINT_SPHERICAL:
                p.resetJointStateMultiDof(self.body, j, targetValue=list(value), physicsClientId=self.client)
            else:
                p.resetJointState(
                    self.body, j, float(np.asarray(value).reshape(-1)[0]), physicsClientId=self.client
                )
