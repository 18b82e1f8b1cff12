"""MotionTimeline: idle motion plus the running gesture, with smooth, speed-limited interruption (pure numpy).

A command switches the gesture layer at its issue time. The old layer's pose p0 and velocity v0 at the switch are
carried into the new gesture through a quintic blend r(tau) = d*H0(tau/D) + v*Dv*H1(tau/Dv), Dv = min(D, 0.35 s),
that decays to zero with zero velocity and acceleration at its end (Flash & Hogan 1985's minimum-jerk boundary
conditions), so position and velocity are continuous. D is the shortest from a ladder that keeps every joint group's
speed (sum of |angle rates|) under `max_group_speed`; in the rare case none does, a per-group rate limiter on a fine
grid enforces it. Either way no joint moves more than max_group_speed / 30 rad between 30 Hz frames, whatever the
phase of the interruption.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sampling.primitives.base import DOF_GROUPS, NUM_DOF, MotionCommand, Primitive, PrimitiveError
from sampling.primitives.idle import IdleMotion

GRID_HZ = 240.0
VELOCITY_BLEND = 0.35  # s over which the interrupted gesture's velocity is carried into the new one
_GROUPS = [np.asarray(g) for g in DOF_GROUPS.values()]


def _h0(s: np.ndarray) -> np.ndarray:
    """1 - minimum-jerk: decays 1 -> 0 with zero end velocity/acceleration (Flash & Hogan 1985, eq. 4)."""
    s = np.clip(s, 0.0, 1.0)
    return 1.0 - s**3 * (10.0 - 15.0 * s + 6.0 * s**2)


def _h1(s: np.ndarray) -> np.ndarray:
    """Quintic with h(0)=0, h'(0)=1, h''(0)=0 and h=h'=h''=0 at s=1: s - 6s^3 + 8s^4 - 3s^5 (carries the velocity)."""
    s = np.clip(s, 0.0, 1.0)
    return s - 6.0 * s**3 + 8.0 * s**4 - 3.0 * s**5


@dataclass
class Segment:
    """One command in the timeline: from `start` (issue time) the layer is the primitive plus a decaying blend."""

    command: MotionCommand
    primitive: Primitive
    params: dict[str, float]
    start: float
    onset: float
    end: float  # onset + duration: the gesture is back at rest (unless interrupted)
    blend_t: np.ndarray  # grid times of the transition window (absolute), empty if none
    blend_y: np.ndarray  # the layer's offsets on that grid [len(blend_t), NUM_DOF]

    def raw(self, t: np.ndarray) -> np.ndarray:
        return self.primitive.offsets(t - self.onset, self.params)

    def layer(self, t: np.ndarray) -> np.ndarray:
        out = self.raw(t)
        if len(self.blend_t):
            inside = (t >= self.blend_t[0]) & (t <= self.blend_t[-1])
            if np.any(inside):
                ti = t[inside]
                out[inside] = np.stack(
                    [np.interp(ti, self.blend_t, self.blend_y[:, j]) for j in range(NUM_DOF)], axis=1
                )
        return out


def _group_rate_limit(y: np.ndarray, start: np.ndarray, max_step: float) -> np.ndarray:
    """Follow y[k] from `start`, moving each joint group at most max_step (L1 over its angles) per grid step."""
    out = np.empty_like(y)
    cur = start.astype(np.float64).copy()
    for k in range(len(y)):
        delta = y[k] - cur
        for g in _GROUPS:
            l1 = float(np.abs(delta[g]).sum())
            if l1 > max_step:
                delta[g] *= max_step / l1
        cur = cur + delta
        out[k] = cur
    return out


class MotionTimeline:
    """Idle motion + at most one gesture at a time; `command` interrupts smoothly; `pose(t)` is a pure function."""

    def __init__(
        self,
        idle: IdleMotion | None = None,
        max_group_speed: float = 2.8,
        registry=None,
    ) -> None:
        from sampling.primitives import get_primitive
        from sampling.primitives.keyframed import MAX_GROUP_SPEED

        self.idle = idle if idle is not None else IdleMotion()
        self.max_group_speed = float(max_group_speed)
        # The layer must be able to follow any primitive (>= their design limit), and with idle on top stay below
        # 0.1 rad per 30 Hz frame (3 rad/s).
        if not (MAX_GROUP_SPEED <= self.max_group_speed <= 3.0 - self.idle.peak_speed()):
            raise PrimitiveError(
                f"MotionTimeline max_group_speed={max_group_speed} must be in [{MAX_GROUP_SPEED}, "
                f"{3.0 - self.idle.peak_speed():.3f}] rad/s"
            )
        self._get = registry or get_primitive
        self.segments: list[Segment] = []

    # --- queries -------------------------------------------------------------------------------------------------
    def _segment_index(self, t: np.ndarray) -> np.ndarray:
        starts = np.array([s.start for s in self.segments])
        return np.searchsorted(starts, t, side="right") - 1

    def offsets(self, t: np.ndarray | float) -> np.ndarray:
        """Gesture-layer offsets (radians) at times t: [len(t), NUM_DOF], or [NUM_DOF] for scalar t."""
        scalar = np.ndim(t) == 0
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        out = np.zeros((len(t), NUM_DOF))
        if self.segments:
            idx = self._segment_index(t)
            for i in np.unique(idx[idx >= 0]):
                sel = idx == i
                out[sel] = self.segments[i].layer(t[sel])
        return out[0] if scalar else out

    def pose(self, t: np.ndarray | float) -> np.ndarray:
        """Absolute joint angles over DOF_NAMES at t: idle motion + the gesture layer."""
        return self.idle.pose(t) + self.offsets(t)

    def active(self, t: float) -> str | None:
        """Name of the gesture running at t (between its onset and its end), or None."""
        if not self.segments:
            return None
        i = int(self._segment_index(np.array([t]))[0])
        if i < 0:
            return None
        seg = self.segments[i]
        return seg.primitive.name if seg.onset <= t < seg.end else None

    @property
    def busy_until(self) -> float:
        """Time at which the last command has finished (gesture back at rest and any blend done); -inf if none."""
        if not self.segments:
            return float("-inf")
        s = self.segments[-1]
        return max(s.end, float(s.blend_t[-1]) if len(s.blend_t) else s.end)

    # --- commands ------------------------------------------------------------------------------------------------
    def command(self, cmd: MotionCommand) -> Segment:
        """Start cmd at cmd.issued_at (gesture from cmd.onset), interrupting whatever runs; returns its segment."""
        prim = self._get(cmd.primitive)
        params = prim.resolve(cmd.params)
        t0 = float(cmd.issued_at)
        if not np.isfinite(t0) or not np.isfinite(cmd.onset_delay) or cmd.onset_delay < 0:
            raise PrimitiveError(
                f"command '{cmd.primitive}' has bad timing (issued_at={t0}, delay={cmd.onset_delay})"
            )
        if self.segments and t0 < self.segments[-1].start:
            raise PrimitiveError(
                f"command '{cmd.primitive}' issued at {t0:.3f}s, before the previous one "
                f"({self.segments[-1].start:.3f}s); issue commands in time order"
            )
        onset = t0 + float(cmd.onset_delay)
        seg = Segment(
            cmd, prim, params, t0, onset, onset + prim.duration(params), np.empty(0), np.empty((0, NUM_DOF))
        )
        h = 1.0 / GRID_HZ
        p0 = self.offsets(t0)
        v0 = (p0 - self.offsets(t0 - h)) / h if self.segments else np.zeros(NUM_DOF)
        g0 = seg.raw(np.array([t0]))[0]
        g1 = seg.raw(np.array([t0 + h]))[0]
        d, v = p0 - g0, v0 - (g1 - g0) / h
        if np.max(np.abs(d)) < 1e-12 and np.max(np.abs(v)) < 1e-9:
            self.segments.append(seg)
            return seg
        step = self.max_group_speed / GRID_HZ
        blend_t = blend_y = None
        best_dur, best_excess = 0.0, np.inf
        for dur in 0.3 * 1.15 ** np.arange(24):  # 0.3 s .. ~7.4 s
            tt, y = self._blend(seg, t0, d, v, dur, dur)
            excess = _max_group_step(np.vstack([p0[None], y[1:]])) - step
            if excess <= step * 1e-7:
                blend_t, blend_y = tt, y
                break
            if excess < best_excess:
                best_dur, best_excess = dur, excess
        if (
            blend_t is None
        ):  # rare (old and new gesture both near full speed): enforce the bound with a rate limiter
            tt, target = self._blend(seg, t0, d, v, best_dur, best_dur + 4.0)
            y = _group_rate_limit(target, p0, step)
            caught = np.nonzero(np.max(np.abs(y - target), axis=1) < 1e-9)[0]
            caught = caught[caught * h >= best_dur]
            cut = int(caught[0]) + 1 if len(caught) else len(tt)
            blend_t, blend_y = tt[:cut], y[:cut]
        blend_y[0] = p0
        seg.blend_t, seg.blend_y = blend_t, blend_y
        self.segments.append(seg)
        return seg

    @staticmethod
    def _blend(seg: Segment, t0: float, d: np.ndarray, v: np.ndarray, dur: float, span: float):
        """Grid times over [t0, t0 + span] and the new layer there: raw gesture + position blend decaying over dur +
        velocity blend decaying over min(dur, VELOCITY_BLEND) (the old motion is carried only briefly)."""
        h = 1.0 / GRID_HZ
        tt = t0 + np.arange(int(np.ceil(span * GRID_HZ)) + 1) * h
        dv = min(dur, VELOCITY_BLEND)
        y = seg.raw(tt) + d * _h0((tt - t0) / dur)[:, None] + (v * dv) * _h1((tt - t0) / dv)[:, None]
        return tt, y


def _max_group_step(y: np.ndarray) -> float:
    dy = np.abs(np.diff(y, axis=0))
    return max(float(dy[:, g].sum(axis=1).max(initial=0.0)) for g in _GROUPS)
