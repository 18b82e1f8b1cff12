"""Turning motion into frames: sample a MotionTimeline at a frame rate, render, label, and write video."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fep_motion.body.errors import BodyError
from fep_motion.body.render import BodyRenderer, draw_label
from sampling.primitives import MotionCommand, MotionTimeline


@dataclass(frozen=True)
class ShowSpec:
    """One gesture to show: primitive name, parameters, and when its command is issued (seconds)."""

    name: str
    params: dict[str, float]
    at: float | None = None


def parse_param(text: str) -> tuple[str, float]:
    """'k=v' -> (k, float(v)); anything else raises BodyError naming the text and the fix."""
    key, sep, value = text.partition("=")
    try:
        if not sep or not key.strip():
            raise ValueError
        number = float(value)
    except ValueError:
        raise BodyError(f"--param '{text}' is not KEY=NUMBER (e.g. --param amplitude=0.2)") from None
    if not np.isfinite(number):
        raise BodyError(f"--param '{text}': value must be a finite number")
    return key.strip(), number


def parse_spec(text: str) -> ShowSpec:
    """'NAME[@SECONDS][:k=v,k=v]' -> ShowSpec (e.g. 'nod@1.5:amplitude=0.2,cycles=3')."""
    head, _, plist = text.partition(":")
    name, _, at = head.partition("@")
    params = dict(parse_param(p) for p in plist.split(",") if p.strip())
    try:
        when = float(at) if at else None
    except ValueError:
        raise BodyError(f"gesture spec '{text}': time after @ must be seconds (e.g. nod@1.5)") from None
    if when is not None and (not np.isfinite(when) or when < 0):
        raise BodyError(f"gesture spec '{text}': time after @ must be >= 0 seconds")
    return ShowSpec(name.strip(), params, when)


def build_timeline(
    specs: list[ShowSpec], lead: float = 0.5, gap: float = 0.4
) -> tuple[MotionTimeline, float]:
    """A timeline issuing each spec at its time (or after the previous one ends + gap); returns it and its end time."""
    timeline = MotionTimeline()
    t = lead
    for spec in specs:
        at = spec.at if spec.at is not None else max(t, timeline.busy_until + gap if timeline.segments else t)
        timeline.command(MotionCommand(spec.name, spec.params, issued_at=at, source="cli"))
        t = timeline.busy_until + gap
    end = timeline.busy_until + lead if timeline.segments else lead
    return timeline, end


def frame_times(t0: float, t1: float, fps: float) -> np.ndarray:
    return t0 + np.arange(int(np.floor((t1 - t0) * fps + 1e-9)) + 1) / fps


def render_frames(
    renderer: BodyRenderer,
    timeline: MotionTimeline,
    times: np.ndarray,
    label: Callable[[float], str] | None = None,
) -> Iterator[np.ndarray]:
    """Render the timeline's pose at each time, with the face alive (gaze at the viewer, blinks, one with each nod);
    label(t) is drawn on the frame when given."""
    from fep_motion.body.expression import Expression

    expression = Expression(seed=0, default_target=renderer.camera.eye)
    for seg in timeline.segments:
        if seg.primitive.gesture_class == "nod":
            expression.nod(seg.onset)
    poses = timeline.pose(times)
    for t, pose in zip(times, poses):
        head, face = expression.step(float(t))
        frame = renderer.render(pose + head, face)
        if label is not None:
            draw_label(frame, label(float(t)))
        yield frame


def write_video(frames: Iterator[np.ndarray], path: str | Path, fps: float, size: tuple[int, int]) -> int:
    """Write frames to path through perception.video.VideoWriter; returns the frame count."""
    from perception.video import VideoWriter

    path = Path(path)
    if not path.parent.exists():
        raise BodyError(f"cannot write {path}: directory {path.parent} does not exist (create it first)")
    writer = VideoWriter(str(path), fps, size)
    n = 0
    try:
        for frame in frames:
            writer.write(frame)
            n += 1
    finally:
        writer.close()
    return n


def gallery_timeline(
    names: list[str], lead: float = 0.4, gap: float = 0.5
) -> tuple[MotionTimeline, Callable[[float], str], float]:
    """Every named primitive at its defaults, one after another; returns the timeline, a label(t) and the end time."""
    timeline = MotionTimeline()
    starts: list[float] = []
    t = lead
    for name in names:
        seg = timeline.command(MotionCommand(name, {}, issued_at=t, source="gallery"))
        starts.append(t)
        t = seg.end + gap
    bounds = np.array(starts) - gap / 2

    def label(time: float) -> str:
        return names[max(0, int(np.searchsorted(bounds, time, side="right")) - 1)]

    return timeline, label, t - gap + lead
