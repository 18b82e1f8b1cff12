"""Seeded fault injection around the real session components, for soak runs: a fault schedule on the session clock
and wrappers that make the source, the pose stage and the renderer fail on it.

The wrappers only decide *when* a component fails; everything else is the real component (virtual participant,
perception pipeline, PyBullet renderer). Brain faults (a frozen or killed server) act on a server process and are
driven by the soak harness (bench/soak.py) from the same schedule.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fep_motion.session.sources import Reading
from perception.types import PoseFrame

# Kinds of injected fault and how each shows up in a session.
SOURCE_KINDS: tuple[str, ...] = ("camera_dropout", "nan_landmarks", "missing_landmarks", "pose_exception")
BRAIN_KINDS: tuple[str, ...] = ("brain_frozen", "brain_killed")
FAULT_KINDS: tuple[str, ...] = SOURCE_KINDS + BRAIN_KINDS + ("renderer_failure",)
# Faults that make the loop record a gap (missing_landmarks is a frame without a person, not a gap).
GAP_KINDS: tuple[str, ...] = ("camera_dropout", "nan_landmarks", "pose_exception")


@dataclass(frozen=True)
class FaultWindow:
    """One injected fault: its kind and the session-time interval [t0, t1) it lasts."""

    kind: str
    t0: float
    t1: float

    def covers(self, t: float) -> bool:
        return self.t0 <= t < self.t1


@dataclass(frozen=True)
class FaultRates:
    """Mean faults per minute of session time and mean fault length (s) per kind; the renderer fails once."""

    per_minute: dict[str, float] = field(default_factory=lambda: {
        "camera_dropout": 0.5, "nan_landmarks": 0.5, "missing_landmarks": 0.5, "pose_exception": 0.5,
        "brain_frozen": 0.1, "brain_killed": 0.1})
    mean_s: dict[str, float] = field(default_factory=lambda: {
        "camera_dropout": 3.0, "nan_landmarks": 1.0, "missing_landmarks": 2.0, "pose_exception": 1.0,
        "brain_frozen": 40.0, "brain_killed": 60.0})
    renderer_failure_at: float = 0.9  # fraction of the session at which the renderer dies (None-like: <= 0 never)


@dataclass
class FaultPlan:
    """A seeded, non-overlapping (per component) schedule of fault windows over a session of `duration_s`."""

    duration_s: float
    seed: int
    windows: list[FaultWindow]

    def active(self, kind: str, t: float) -> FaultWindow | None:
        """The window of `kind` covering session time t, if any."""
        for w in self.windows:
            if w.kind == kind and w.covers(t):
                return w
        return None

    def of_kind(self, kind: str) -> list[FaultWindow]:
        return [w for w in self.windows if w.kind == kind]

    def count(self) -> dict[str, int]:
        """Injected faults per kind."""
        return {k: len(self.of_kind(k)) for k in FAULT_KINDS}


def _poisson_windows(kind: str, rate_per_min: float, mean_s: float, start: float, end: float,
                     rng: np.random.Generator) -> list[FaultWindow]:
    """Poisson onsets at `rate_per_min`; lengths exponential around `mean_s` (at least one 30 Hz tick, at most 3x)."""
    out: list[FaultWindow] = []
    t = start
    if rate_per_min <= 0:
        return out
    while True:
        t += float(rng.exponential(60.0 / rate_per_min))
        if t >= end:
            return out
        length = float(np.clip(rng.exponential(mean_s), 0.1, 3 * mean_s))
        out.append(FaultWindow(kind, t, min(t + length, end)))
        t += length  # a component's faults do not overlap each other


def plan_faults(duration_s: float, seed: int = 0, rates: FaultRates | None = None,
                brain: bool = True) -> FaultPlan:
    """Draw the fault schedule for a session: source/pose faults interleaved (one at a time), brain faults apart."""
    rates = rates or FaultRates()
    rng = np.random.default_rng([seed, 20])
    start = 5.0  # the first seconds run clean, so every window has a fault-free reference
    source: list[FaultWindow] = []
    for kind in SOURCE_KINDS:
        source += _poisson_windows(kind, rates.per_minute.get(kind, 0.0), rates.mean_s.get(kind, 1.0), start,
                                   duration_s, rng)
    source.sort(key=lambda w: w.t0)
    merged: list[FaultWindow] = []
    for w in source:  # one source-side fault at a time: drop a window that starts inside the previous one
        if merged and w.t0 < merged[-1].t1 + 0.5:
            continue
        merged.append(w)
    brain_w: list[FaultWindow] = []
    if brain:
        for kind in BRAIN_KINDS:
            brain_w += _poisson_windows(kind, rates.per_minute.get(kind, 0.0), rates.mean_s.get(kind, 30.0), start,
                                        duration_s, rng)
        brain_w.sort(key=lambda w: w.t0)
        kept: list[FaultWindow] = []
        for w in brain_w:  # a server is frozen or killed, not both at once
            if kept and w.t0 < kept[-1].t1 + 5.0:
                continue
            kept.append(w)
        brain_w = kept
    render: list[FaultWindow] = []
    if rates.renderer_failure_at > 0:
        t = rates.renderer_failure_at * duration_s
        render.append(FaultWindow("renderer_failure", t, duration_s))
    return FaultPlan(duration_s, seed, sorted(merged + brain_w + render, key=lambda w: (w.t0, w.kind)))


class FaultySource:
    """A participant source that drops out (raises, then reports gaps, then is reopened), sends NaN landmarks and
    frames without a person on the plan's schedule; otherwise it is the wrapped source."""

    def __init__(self, make_source: Any, plan: FaultPlan) -> None:
        self._make = make_source  # () -> ParticipantSource; called again to reopen after a drop-out
        self.inner = make_source()
        self.plan = plan
        self.name = f"{self.inner.name} + faults (seed {plan.seed})"
        self.fps = getattr(self.inner, "fps", None)
        self.delivers_images = getattr(self.inner, "delivers_images", False)
        self.reopens = 0
        self._down: FaultWindow | None = None

    def read(self, t: float) -> Reading:
        w = self.plan.active("camera_dropout", t)
        if w is not None:
            if self._down is not w:  # the device vanishes: the first read raises, later reads are gaps
                self._down = w
                self.inner.close()
                raise OSError("camera disconnected (injected)")
            return Reading("gap", detail="camera dropout: reopening (injected)")
        if self._down is not None:  # the window is over: reopen the device
            self._down = None
            self.inner = self._make()
            self.reopens += 1
        r = self.inner.read(t)
        if r.pose is not None and self.plan.active("nan_landmarks", t) is not None:
            lm = np.full_like(r.pose.landmarks, np.nan)
            r = Reading(r.status, pose=PoseFrame(t=t, landmarks=lm, world=None, image_size=r.pose.image_size,
                                                 valid=True, frame_index=r.pose.frame_index), detail=r.detail)
        elif r.pose is not None and self.plan.active("missing_landmarks", t) is not None:
            r = Reading(r.status, pose=PoseFrame.empty(t, r.pose.image_size, r.pose.frame_index), detail=r.detail)
        return r

    def close(self) -> None:
        self.inner.close()


class FaultyPerceiver:
    """The real perception pipeline, whose pose stage throws during the plan's `pose_exception` windows."""

    def __init__(self, real: Any, plan: FaultPlan) -> None:
        self.real = real
        self.plan = plan

    def process_pose(self, pose: PoseFrame) -> Any:
        if self.plan.active("pose_exception", pose.t) is not None:
            raise RuntimeError("pose estimator crashed (injected)")
        return self.real.process_pose(pose)

    def process(self, image: np.ndarray, t: float) -> Any:
        if self.plan.active("pose_exception", t) is not None:
            raise RuntimeError("pose estimator crashed (injected)")
        return self.real.process(image, t)

    def __getattr__(self, name: str) -> Any:  # flush, last_raw, ...: the real pipeline's
        return getattr(self.real, name)


class FaultyRenderer:
    """The real body renderer, which dies for good at the plan's `renderer_failure` (a lost GL context)."""

    def __init__(self, real: Any, plan: FaultPlan, fps: float) -> None:
        self.real = real
        self.width, self.height = real.width, real.height
        w = plan.of_kind("renderer_failure")
        self.fail_at = round(w[0].t0 * fps) if w else None  # render call index (one call per tick in virtual time)
        self.calls = 0
        self.cpu_s = 0.0  # CPU seconds spent rendering on the calling thread (soak reports loop CPU without it)

    def render(self, pose: np.ndarray, face: Any = None) -> np.ndarray:
        self.calls += 1
        if self.fail_at is not None and self.calls > self.fail_at:
            raise RuntimeError("render context lost (injected)")
        c0 = time.thread_time()
        try:
            return self.real.render(pose, face) if face is not None else self.real.render(pose)
        finally:
            self.cpu_s += time.thread_time() - c0

    def close(self) -> None:
        self.real.close()


__all__ = ["BRAIN_KINDS", "FAULT_KINDS", "GAP_KINDS", "SOURCE_KINDS", "FaultPlan", "FaultRates", "FaultWindow",
           "FaultyPerceiver", "FaultyRenderer", "FaultySource", "plan_faults"]
