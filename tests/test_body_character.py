"""The character on camera: same kinematics as the bare humanoid, and the face's channels measured in rendered images
(pupil centroids follow the gaze target, lids close in a blink, the mouth moves only while speaking, idle seconds
differ visibly)."""

from __future__ import annotations

import itertools

import numpy as np
import pybullet as p
import pytest

from fep_motion.body.expression import Expression, Utterance
from fep_motion.body.face import FaceState
from fep_motion.body.humanoid import Humanoid
from fep_motion.body.render import BodyRenderer
from fep_motion.body.stills import SEAT
from fep_motion.voice.envelope import RATE, text_envelope
from sampling.primitives import REST_POSE, MotionTimeline

FACE_SIZE = (640, 480)


@pytest.fixture(scope="module")
def renderer():
    with BodyRenderer(*FACE_SIZE, backend="tiny") as r:
        yield r


def eye_boxes(r: BodyRenderer) -> list[tuple[int, int, int, int]]:
    """Pixel boxes (y0, y1, x0, x1) around both eyes, from their projected centres."""
    from fep_motion.body.character import EYE_RADIUS

    boxes = []
    for name in ("left_eye", "right_eye"):
        cx, cy = r.camera.project(r.humanoid.link_position(name), *FACE_SIZE)
        _, cy_top = r.camera.project(r.humanoid.link_position(name) + [0, 0, EYE_RADIUS], *FACE_SIZE)
        h = abs(cy - cy_top) * 1.1
        boxes.append((int(cy - h), int(cy + h), int(cx - 1.4 * h), int(cx + 1.4 * h)))
    return boxes


def mouth_box(r: BodyRenderer) -> tuple[int, int, int, int]:
    cx, cy = r.camera.project(r.humanoid.link_position("jaw"), *FACE_SIZE)
    return int(cy - 12), int(cy + 22), int(cx - 26), int(cx + 26)


def crop(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    y0, y1, x0, x1 = box
    return img[y0:y1, x0:x1].astype(np.float32)


def test_character_joints_move_the_links_like_the_bare_humanoid():
    client = p.connect(p.DIRECT)
    try:
        bare, dressed = Humanoid(client, colorize=False), Humanoid(client, colorize=True)
        rng = np.random.default_rng(0)
        for _ in range(5):
            pose = REST_POSE + rng.uniform(-0.5, 0.5, size=REST_POSE.shape)
            bare.set_pose(pose)
            dressed.set_pose(pose)
            for link in ("chest", "neck", "right_shoulder", "left_elbow", "right_wrist", "left_wrist"):
                assert np.allclose(bare.link_position(link), dressed.link_position(link), atol=1e-6), link
            assert np.allclose(bare.head_center(), dressed.head_center(), atol=1e-6)
            assert np.allclose(bare.read_pose(), dressed.read_pose(), atol=1e-6)
    finally:
        p.disconnect(client)


def test_pupils_move_toward_the_gaze_target(renderer):
    """Gaze at a point on the agent's left (world +Y, the picture's right) vs its right: pupil centroids shift."""
    centroids = {}
    for side, dy in (("left", 0.9), ("right", -0.9)):
        img = renderer.render(REST_POSE, FaceState(gaze=(SEAT[0], SEAT[1] + dy, SEAT[2])))
        xs = []
        for box in eye_boxes(renderer):
            dark = crop(img, box).max(axis=2) < 45  # the pupil (and nothing else that dark around the eye)
            _ys, xx = np.nonzero(dark)
            assert len(xx) > 8, f"no pupil found in the {side}-gaze frame"
            xs.append(box[2] + xx.mean())
        centroids[side] = np.array(xs)
    shift = centroids["left"] - centroids["right"]
    assert np.all(shift > 4.0), shift  # pixels at 640x480, toward the picture's right for the agent's left


def test_eyelids_close_in_a_blink_frame(renderer):
    def sclera_pixels(face: FaceState) -> int:
        img = renderer.render(REST_POSE, face)
        n = 0
        for box in eye_boxes(renderer):
            c = crop(img, box)
            n += int(((c.min(axis=2) > 200) & (c.max(axis=2) - c.min(axis=2) < 25)).sum())  # white, unsaturated
        return n

    open_ = sclera_pixels(FaceState(gaze=SEAT, lid=0.0))
    half = sclera_pixels(FaceState(gaze=SEAT, lid=0.5))
    shut = sclera_pixels(FaceState(gaze=SEAT, lid=1.0))
    assert open_ > 100
    assert shut < 0.05 * open_ and half < 0.8 * open_, (open_, half, shut)


def test_mouth_moves_while_speaking_and_not_while_silent(renderer):
    """Frames 0.1 s apart from the Expression: the mouth region changes during an utterance, not in silence."""

    def mouth_diffs(speaking: bool) -> list[float]:
        ex = Expression(seed=3, default_target=SEAT)
        if speaking:
            ex.speak(Utterance(1.0, text_envelope("Hello there, welcome! How are you today?"), RATE))
        frames = []
        for t in np.arange(1.2, 2.4, 0.1):
            _, face = ex.step(float(t))
            face = FaceState(gaze=face.gaze, lid=0.0, jaw=face.jaw, brow=0.0)  # eyes and brows held: mouth only
            frames.append(crop(renderer.render(REST_POSE, face), mouth_box(renderer)))
        return [float(np.abs(a - b).mean()) for a, b in itertools.pairwise(frames)]

    talking, silent = mouth_diffs(True), mouth_diffs(False)
    assert max(silent) < 0.5, silent
    assert np.mean(talking) > 4.0 and sum(d > 2.0 for d in talking) >= len(talking) // 2, talking


def idle_frames(seconds: np.ndarray) -> list[np.ndarray]:
    """The agent at rest as a session shows it: idle motion (timeline) + face behaviour, 320x240, seeded."""
    tl = MotionTimeline()
    ex = Expression(seed=0, default_target=SEAT)
    frames = []
    with BodyRenderer(320, 240, backend="tiny") as r:
        for t in np.arange(0.0, seconds[-1] + 1e-9, 1.0 / 30.0):
            head, face = ex.step(float(t))
            if np.any(np.isclose(t, seconds)):
                frames.append(r.render(tl.pose(float(t)) + head, face).astype(np.float32))
    return frames


# Whole 320x240 frames one second apart, at rest (breathing, sway, head drift, weight shifts, blinks, saccades):
IDLE_MIN_DIFF = 0.3  # every pair: mean absolute difference, grey levels of 255 (measured 0.42-3.7, mean 1.34)
IDLE_MEAN_DIFF = 1.0  # the mean over 20 pairs
IDLE_MIN_CHANGED = 0.004  # every pair: share of pixels changed by more than 12 levels (measured 0.59-6.4 %)


def test_idle_seconds_differ_visibly():
    frames = idle_frames(np.arange(10.0, 31.0))
    diffs = [float(np.abs(a - b).mean()) for a, b in itertools.pairwise(frames)]
    changed = [float((np.abs(a - b).max(axis=2) > 12).mean()) for a, b in itertools.pairwise(frames)]
    assert min(diffs) > IDLE_MIN_DIFF and np.mean(diffs) > IDLE_MEAN_DIFF, diffs
    assert min(changed) > IDLE_MIN_CHANGED, changed
