"""The README's strip of stills of the character: idle, nod, wave, speaking, gaze left and gaze right (PNG)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fep_motion.body.face import FaceState
from fep_motion.body.render import Camera
from sampling.primitives import MotionCommand, MotionTimeline

STILL_SIZE = (320, 240)
SEAT = Camera().eye  # where the human sits: mutual gaze looks here


@dataclass(frozen=True)
class Still:
    """One still: a gesture (or none) sampled at time t, and the face shown."""

    name: str
    gesture: str | None
    t: float  # seconds into the timeline; negative = the moment the gesture moves the body most
    face: FaceState


def _gaze(dy: float) -> FaceState:
    return FaceState(gaze=(SEAT[0], SEAT[1] + dy, SEAT[2]))


STILLS: tuple[Still, ...] = (
    Still("idle", None, 3.0, _gaze(0.0)),
    Still("nod", "nod", -1.0, FaceState(gaze=SEAT)),  # t < 0: the gesture's peak (chin lowest, hand highest)
    Still("wave", "wave", -1.0, FaceState(gaze=SEAT, brow=0.6)),
    Still("speaking", None, 3.0, FaceState(gaze=SEAT, jaw=0.85, brow=0.3)),
    Still("gaze_left", None, 3.0, _gaze(1.2)),  # the agent's left (world +Y): the picture's right
    Still("gaze_right", None, 3.0, _gaze(-1.2)),
)


def still_pose(still: Still) -> np.ndarray:
    """The body pose of a still: the default timeline (idle motion, seed 0) with its gesture issued at 0.5 s."""
    tl = MotionTimeline()
    if still.gesture is None:
        return tl.pose(still.t)
    seg = tl.command(MotionCommand(still.gesture, {}, issued_at=0.5, source="stills"))
    if still.t >= 0:
        return tl.pose(still.t)
    times = np.arange(seg.onset, seg.end, 1.0 / 60.0)
    return tl.pose(float(times[np.argmax(np.abs(tl.offsets(times)).sum(axis=1))]))


def render_stills(render: Callable[[np.ndarray, FaceState], np.ndarray]) -> dict[str, np.ndarray]:
    """Every still rendered (BGR uint8) by render(pose, face)."""
    return {s.name: render(still_pose(s), s.face) for s in STILLS}


def write_stills(out: Path, backend: str = "tiny", size: tuple[int, int] = STILL_SIZE) -> list[Path]:
    """Render the stills with a fresh renderer and write OUT/NAME.png; returns the paths."""
    import cv2

    from fep_motion.body.render import BodyRenderer

    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with BodyRenderer(*size, backend=backend) as r:
        for name, img in render_stills(r.render).items():
            path = out / f"{name}.png"
            cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            paths.append(path)
    return paths
