"""The agent's render + video stage, off the loop's critical path in real time.

Real time: the loop hands over the newest agent pose and never waits; a background thread renders the newest pose
it has (older ones are dropped) and writes it to the video, repeating the previous image for ticks it skipped so
video frame i is still tick i. PyBullet holds the GIL while it rasterizes, so the session runner uses this thread
only for a renderer passed in by the caller; its own renderer runs this worker's synchronous mode in a spawned
process (fep_motion/session/render_process.py). Virtual time: every pose is rendered
synchronously, so the video is exact. A renderer or video failure is kept in `error`, never raised into the loop.
"""
from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

import numpy as np


class RenderWorker:
    """Renders agent poses to images (and an optional video) at the loop's tick indices."""

    def __init__(self, render: Callable[[np.ndarray], np.ndarray], video: Any = None, threaded: bool = True) -> None:
        self._render = render
        try:  # renderers that take a face (BodyRenderer.render) get it; plain pose renderers get the pose only
            self._takes_face = "face" in inspect.signature(render).parameters
        except (TypeError, ValueError):
            self._takes_face = False
        self.video = video
        self.threaded = threaded
        self.latest: np.ndarray | None = None  # newest rendered image (for the display)
        self.error: BaseException | None = None
        self.rendered = 0
        self.skipped = 0
        self._written_idx = -1
        self._pending: tuple[int, np.ndarray, Any] | None = None
        self._cv = threading.Condition()
        self._closing = False
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name="render", daemon=True)
            self._thread.start()

    def submit(self, idx: int, pose: np.ndarray, face: Any = None) -> None:
        """Hand over tick idx's agent pose and face (never blocks in threaded mode)."""
        if self.error is not None:
            return
        if not self.threaded:
            self._do(idx, pose, face)
            return
        with self._cv:
            if self._pending is not None:
                self.skipped += 1
            self._pending = (idx, np.array(pose, copy=True), face)
            self._cv.notify()

    def _do(self, idx: int, pose: np.ndarray, face: Any = None) -> None:
        try:
            img = self._render(pose, face) if self._takes_face and face is not None else self._render(pose)
            if self.video is not None:
                if self.latest is not None:
                    for _ in range(idx - self._written_idx - 1):  # keep video frame i == tick i
                        self.video.write(self.latest)
                self.video.write(img)
            self._written_idx = idx
            self.latest = img
            self.rendered += 1
        except Exception as exc:  # noqa: BLE001 - reported by the loop as a warning, data keeps flowing
            self.error = exc

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._pending is None and not self._closing:
                    self._cv.wait()
                job, self._pending = self._pending, None
                closing = self._closing
            if job is not None and self.error is None:
                self._do(*job)
            if closing and job is None:
                return

    def close(self, last_idx: int | None = None) -> None:
        """Finish pending work, pad the video to `last_idx` (the last tick), close the video."""
        if self._thread is not None:
            with self._cv:
                self._closing = True
                self._cv.notify()
            self._thread.join(timeout=30)
        if self.video is not None:
            try:
                if last_idx is not None and self.latest is not None and self.error is None:
                    for _ in range(last_idx - self._written_idx):
                        self.video.write(self.latest)
            finally:
                self.video.close()
