"""Windowed cross-correlation of two motion-energy series, rMEA-style (Boker et al. 2002, Psychol. Methods 7:338;
Kleinbub & Ramseyer 2021, Psychotherapy Research 31:2 (rMEA)): Pearson r in sliding windows over a range of lags,
per-window peak picking, Fisher z summaries."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_WINDOW_S = 30.0
DEFAULT_STEP_S = 10.0
DEFAULT_MAX_LAG_S = 5.0


@dataclass(frozen=True)
class WCCResult:
    """r[window, lag] with lags in seconds (positive = y follows x), window starts, and per-window peaks."""

    r: np.ndarray
    lags_s: np.ndarray
    starts_s: np.ndarray
    peak_r: np.ndarray
    peak_lag_s: np.ndarray

    @property
    def peak_z(self) -> float:
        """Mean Fisher z of the per-window peak correlations (z = atanh r, Fisher 1915)."""
        ok = np.isfinite(self.peak_r)
        return float(np.mean(np.arctanh(np.clip(self.peak_r[ok], -0.999999, 0.999999)))) if ok.any() else float("nan")

    @property
    def mean_abs_z(self) -> float:
        """Mean absolute Fisher z over every window and lag (rMEA's global synchrony summary)."""
        ok = np.isfinite(self.r)
        if not ok.any():
            return float("nan")
        return float(np.mean(np.abs(np.arctanh(np.clip(self.r[ok], -0.999999, 0.999999)))))

    @property
    def median_peak_lag_s(self) -> float:
        ok = np.isfinite(self.peak_lag_s)
        return float(np.median(self.peak_lag_s[ok])) if ok.any() else float("nan")


def _corr_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r between matching rows of a and b (NaN where either row is constant)."""
    a = a - a.mean(axis=-1, keepdims=True)
    b = b - b.mean(axis=-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(-1) / np.where(den > 0, den, 1.0), np.nan)


def windowed_xcorr(x: np.ndarray, y: np.ndarray, fs: float, window_s: float = DEFAULT_WINDOW_S,
                   step_s: float = DEFAULT_STEP_S, max_lag_s: float = DEFAULT_MAX_LAG_S) -> WCCResult:
    """r(window w, lag L) = corr(x[s_w : s_w+W], y[s_w+L : s_w+L+W]); windows start where every lag fits.
    Peak picking takes, per window, the lag of the largest r (positive lag = y lags x, i.e. y follows x)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-D of equal length, got {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("motion-energy series contain NaN/inf: interpolate or drop gaps first")
    w, step, lag = round(window_s * fs), max(1, round(step_s * fs)), round(max_lag_s * fs)
    lags = np.arange(-lag, lag + 1)
    starts = np.arange(lag, x.size - w - lag + 1, step)
    if starts.size == 0 or w < 3:
        empty = np.empty((0, lags.size))
        return WCCResult(empty, lags / fs, np.empty(0), np.empty(0), np.empty(0))
    xi = starts[:, None] + np.arange(w)[None, :]              # [nw, w]
    xs = x[xi]
    r = np.empty((starts.size, lags.size))
    for j, L in enumerate(lags):
        r[:, j] = _corr_rows(xs, y[xi + L])
    rr = np.where(np.isfinite(r), r, -np.inf)
    best = np.argmax(rr, axis=1)
    has = np.isfinite(r).any(axis=1)
    peak_r = np.where(has, r[np.arange(starts.size), best], np.nan)
    peak_lag = np.where(has, lags[best] / fs, np.nan)
    return WCCResult(r, lags / fs, starts / fs, peak_r, peak_lag)
