"""One-Euro landmark filter with MediaPipe's legacy pose settings, driven by the real frame timestamps.

One-Euro filter: Casiez, Roussel & Vogel, "1€ Filter: A Simple Speed-based Low-pass Filter for Noisy Input in
Interactive Systems", CHI 2012. Settings and value scaling follow MediaPipe's legacy pose graph
(pose_landmark_filtering: landmarks min_cutoff 0.1, beta 40, derivate_cutoff 1.0, scaled by 1/object size; world
landmarks the same without scaling; visibility low-pass alpha 0.1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from perception.types import PoseFrame


@dataclass(frozen=True)
class OneEuroParams:
    """Cutoffs in Hz; beta in 1/(value unit) (MediaPipe legacy pose landmark defaults)."""

    min_cutoff: float = 0.1
    beta: float = 40.0
    d_cutoff: float = 1.0

    def __post_init__(self) -> None:
        for name in ("min_cutoff", "d_cutoff"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"OneEuroParams.{name} must be a positive number, got {value!r}")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"OneEuroParams.beta must be >= 0, got {self.beta!r}")


def smoothing_alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    """alpha = 1 / (1 + tau / T_e) with tau = 1 / (2 pi f_c) (Casiez et al. 2012, exponential smoothing factor)."""
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """Vectorized One-Euro filter over an array of values sharing one timestamp stream."""

    def __init__(self, params: OneEuroParams = OneEuroParams()) -> None:
        self.params = params
        self.reset()

    def reset(self) -> None:
        """Forget history: the next sample passes through unchanged."""
        self._t: float | None = None
        self._x_raw: np.ndarray | None = None  # last raw value (MediaPipe derives speed from raw values)
        self._x_hat: np.ndarray | None = None
        self._dx_hat: np.ndarray | None = None

    def __call__(self, x: np.ndarray, t: float, value_scale: float = 1.0) -> np.ndarray:
        """Filter sample x taken at time t (seconds); value_scale converts x to the units beta is tuned for."""
        x = np.asarray(x, dtype=np.float64)
        if self._t is None or self._x_hat is None or self._x_raw is None or self._dx_hat is None:
            self._t, self._x_raw, self._x_hat, self._dx_hat = t, x.copy(), x.copy(), np.zeros_like(x)
            return x.copy()
        dt = t - self._t
        if not dt > 0:  # non-increasing timestamp: keep the state, return the last estimate (as MediaPipe does)
            return self._x_hat.copy()
        p = self.params
        # Derivative of the signal, low-passed at d_cutoff (Casiez et al. 2012: dX_i = (X_i - X_{i-1}) / T_e).
        dx = (x - self._x_raw) * value_scale / dt
        dx_hat = self._dx_hat + smoothing_alpha(p.d_cutoff, dt) * (dx - self._dx_hat)
        # Speed-adaptive cutoff f_c = f_cmin + beta * |dX_hat| (Casiez et al. 2012, the 1€ cutoff rule).
        cutoff = p.min_cutoff + p.beta * np.abs(dx_hat)
        # Exponential smoothing X_hat_i = alpha X_i + (1 - alpha) X_hat_{i-1} (Casiez et al. 2012, Eq. 1).
        x_hat = self._x_hat + smoothing_alpha(cutoff, dt) * (x - self._x_hat)
        self._t, self._x_raw, self._x_hat, self._dx_hat = t, x.copy(), x_hat, dx_hat
        return x_hat.copy()


@dataclass(frozen=True)
class FilterConfig:
    """Landmark filtering settings; defaults are MediaPipe's legacy pose filtering graph."""

    landmarks: OneEuroParams = OneEuroParams(0.1, 40.0, 1.0)
    world: OneEuroParams = OneEuroParams(0.1, 40.0, 1.0)
    visibility_alpha: float = 0.1  # MediaPipe VisibilitySmoothingCalculator low_pass_filter alpha
    reset_gap_s: float = 0.5  # a gap longer than this (or a frame without a person) restarts the filters

    def __post_init__(self) -> None:
        if not 0.0 < self.visibility_alpha <= 1.0:
            raise ValueError(f"FilterConfig.visibility_alpha must be in (0, 1], got {self.visibility_alpha!r}")
        if not self.reset_gap_s > 0:
            raise ValueError(f"FilterConfig.reset_gap_s must be > 0, got {self.reset_gap_s!r}")


def object_scale(pixels_xy: np.ndarray) -> float:
    """Mean of the landmark bounding box's width and height in pixels (MediaPipe's GetObjectScale)."""
    span = np.nanmax(pixels_xy, axis=0) - np.nanmin(pixels_xy, axis=0)
    return float((span[0] + span[1]) / 2.0)


class PoseFilter:
    """Smooths a PoseFrame stream: image landmarks, world landmarks and visibility; resets on gaps and lost tracking."""

    def __init__(self, config: FilterConfig = FilterConfig()) -> None:
        self.config = config
        self._image = OneEuroFilter(config.landmarks)
        self._world = OneEuroFilter(config.world)
        self._visibility: np.ndarray | None = None
        self._last_t: float | None = None

    def reset(self) -> None:
        self._image.reset()
        self._world.reset()
        self._visibility = None
        self._last_t = None

    def __call__(self, frame: PoseFrame) -> PoseFrame:
        """The filtered copy of `frame` (invalid frames pass through and reset the filter)."""
        if not frame.valid or not np.isfinite(frame.landmarks[:, :3]).all():
            self.reset()
            return frame
        if self._last_t is not None and frame.t - self._last_t > self.config.reset_gap_s:
            self.reset()
        self._last_t = frame.t
        w, h = frame.image_size
        size = np.array([w, h, w], dtype=np.float64)  # MediaPipe filters pixels; z shares x's scale
        pixels = frame.landmarks[:, :3].astype(np.float64) * size
        scale = object_scale(pixels[:, :2])
        lm = frame.landmarks.copy()
        if scale > 1e-6:
            lm[:, :3] = (self._image(pixels, frame.t, value_scale=1.0 / scale) / size).astype(np.float32)
        vis = frame.landmarks[:, 3].astype(np.float64)
        if self._visibility is None:
            self._visibility = vis.copy()
        else:  # low-pass: v_hat = alpha v + (1 - alpha) v_hat (MediaPipe visibility smoothing)
            alpha = self.config.visibility_alpha
            self._visibility = alpha * vis + (1.0 - alpha) * self._visibility
        lm[:, 3] = self._visibility.astype(np.float32)
        world = frame.world
        if world is not None and np.isfinite(world).all():
            world = self._world(world, frame.t).astype(np.float32)
        return replace(frame, landmarks=lm, world=world)
