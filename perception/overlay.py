"""Overlay rendering for `fep-motion perceive`: skeleton on the frame, a rolling feature strip, event markers."""
from __future__ import annotations

import math
from collections import deque

import numpy as np

from perception.types import FEATURE_INDEX, HumanEvent, Observation, PoseFrame

# BlazePose skeleton edges (MediaPipe POSE_CONNECTIONS), kept here so drawing needs no MediaPipe import.
POSE_EDGES: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10), (11, 12), (11, 13), (13, 15),
    (15, 17), (15, 19), (15, 21), (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20), (11, 23),
    (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28), (27, 29), (28, 30), (29, 31), (30, 32), (27, 31),
    (28, 32),
)
STRIP_HEIGHT = 120
# (feature, colour BGR, value range mapped onto the strip's height)
STRIP_TRACES: tuple[tuple[str, tuple[int, int, int], tuple[float, float]], ...] = (
    ("head_pitch", (80, 200, 255), (-0.6, 0.6)),
    ("head_yaw", (255, 160, 80), (-0.8, 0.8)),
    ("wrist_speed_left", (120, 255, 120), (0.0, 6.0)),
    ("wrist_speed_right", (60, 180, 60), (0.0, 6.0)),
    ("motion_energy", (200, 120, 255), (0.0, 3.0)),
)
EVENT_COLOURS = {"nod": (0, 215, 255), "shake": (255, 120, 0), "gesture": (80, 255, 80)}


class OverlayRenderer:
    """Draws each frame with its pose and the last `window_s` seconds of features and events underneath."""

    def __init__(self, size: tuple[int, int], window_s: float = 6.0, min_visibility: float = 0.5) -> None:
        self.size = size
        self.window_s = window_s
        self.min_visibility = min_visibility
        self.out_size = (size[0], size[1] + STRIP_HEIGHT)
        self._history: deque[tuple[float, np.ndarray]] = deque()
        self._events: deque[HumanEvent] = deque()

    def render(self, frame_bgr: np.ndarray, pose: PoseFrame, obs: Observation) -> np.ndarray:
        """The overlay frame (width, height + STRIP_HEIGHT) for one processed frame."""
        import cv2

        w, h = self.size
        canvas = np.zeros((h + STRIP_HEIGHT, w, 3), np.uint8)
        canvas[:h] = frame_bgr
        if pose.valid:
            lm = pose.landmarks
            pts = np.nan_to_num(lm[:, :2] * np.array([w, h])).astype(int)
            seen = np.nan_to_num(lm[:, 3]) >= self.min_visibility
            for a, b in POSE_EDGES:
                if seen[a] and seen[b]:
                    cv2.line(canvas, tuple(pts[a]), tuple(pts[b]), (255, 255, 255), 2, cv2.LINE_AA)
            for i in np.flatnonzero(seen):
                cv2.circle(canvas, tuple(pts[i]), 3, (0, 0, 255), -1, cv2.LINE_AA)
        else:
            cv2.putText(canvas, "no person", (10, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 255), 2, cv2.LINE_AA)

        self._history.append((obs.t, obs.features.copy()))
        for ev in obs.events:
            if not ev.complete:
                self._events.append(ev)
        while self._history and self._history[0][0] < obs.t - self.window_s:
            self._history.popleft()
        while self._events and self._events[0].t_onset < obs.t - self.window_s:
            self._events.popleft()
        self._draw_strip(canvas[h:], obs.t)
        self._draw_banner(canvas, obs.t)
        return canvas

    def _x(self, t: float, now: float) -> int:
        return round((1.0 - (now - t) / self.window_s) * (self.size[0] - 1))

    def _draw_strip(self, strip: np.ndarray, now: float) -> None:
        import cv2

        strip[:] = (24, 24, 24)
        height = strip.shape[0]
        for ev in self._events:
            x = self._x(ev.t_onset, now)
            colour = EVENT_COLOURS.get(ev.kind, (255, 255, 255))
            cv2.line(strip, (x, 0), (x, height - 1), colour, 1)
            cv2.putText(strip, ev.kind[0].upper(), (x + 2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, colour, 1, cv2.LINE_AA)
        times = np.array([t for t, _ in self._history])
        if len(times) >= 2:
            xs = np.array([self._x(t, now) for t in times])
            for name, colour, (lo, hi) in STRIP_TRACES:
                values = np.array([f[FEATURE_INDEX[name]] for _, f in self._history])
                ys = (height - 1) - (np.clip(values, lo, hi) - lo) / (hi - lo) * (height - 1)
                finite = np.isfinite(ys)
                # One polyline per run of observed samples: gaps (NaN) stay visible as breaks.
                edges = np.flatnonzero(np.diff(np.concatenate([[0], finite.astype(np.int8), [0]])))
                runs = [
                    np.stack([xs[a:b], ys[a:b].astype(int)], axis=1).astype(np.int32)
                    for a, b in zip(edges[::2], edges[1::2])
                    if b - a >= 2
                ]
                if runs:
                    cv2.polylines(strip, runs, False, colour, 1, cv2.LINE_AA)
        legend_x = 4
        for name, colour, _ in STRIP_TRACES:
            cv2.putText(strip, name, (legend_x, height - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.33, colour, 1, cv2.LINE_AA)
            legend_x += 7 * len(name) + 12

    def _draw_banner(self, canvas: np.ndarray, now: float) -> None:
        import cv2

        recent = [e for e in self._events if now - e.t_onset <= 1.5]
        y = self.size[1] - 12
        for ev in recent[-3:]:
            label = f"{ev.kind.upper()} x{ev.cycles}" if ev.kind != "gesture" else "GESTURE"
            cv2.putText(canvas, label, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, EVENT_COLOURS.get(ev.kind, (255,) * 3),
                        2, cv2.LINE_AA)
            y -= 28
        if math.isfinite(now):
            cv2.putText(canvas, f"t={now:6.2f}s", (self.size[0] - 120, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6,
                        (255, 255, 255), 1, cv2.LINE_AA)
