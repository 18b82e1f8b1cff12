"""Granger causality between two motion-energy series, both directions (Granger 1969, Econometrica 37:424), using
statsmodels' SSR F-test at a fixed lag order after block-averaging to a lower rate."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

DEFAULT_FS = 2.0      # Hz after block averaging
DEFAULT_LAG_S = 3.0   # lag order = round(lag_s * fs)


@dataclass(frozen=True)
class GrangerResult:
    """F and p for 'x Granger-causes y' and for 'y Granger-causes x' at `lag` samples of `fs` Hz."""

    lag: int
    fs: float
    f_xy: float
    p_xy: float
    f_yx: float
    p_yx: float


def block_average(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Average consecutive blocks of round(fs_in / fs_out) samples (drops the incomplete tail)."""
    k = max(1, round(fs_in / fs_out))
    n = (len(x) // k) * k
    return np.asarray(x[:n], dtype=float).reshape(-1, k).mean(axis=1)


def _one_way(cause: np.ndarray, effect: np.ndarray, lag: int) -> tuple[float, float]:
    from statsmodels.tsa.stattools import grangercausalitytests

    data = np.column_stack([effect, cause])  # statsmodels tests whether column 2 Granger-causes column 1
    if np.std(cause) == 0 or np.std(effect) == 0:
        return float("nan"), float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = grangercausalitytests(data, maxlag=[lag])
    f, p = res[lag][0]["ssr_ftest"][:2]
    return float(f), float(p)


def granger_both(x: np.ndarray, y: np.ndarray, fs_in: float, fs: float = DEFAULT_FS,
                 lag_s: float = DEFAULT_LAG_S) -> GrangerResult:
    """Granger tests x->y and y->x on series block-averaged from fs_in to fs, lag order round(lag_s * fs)."""
    xs, ys = block_average(x, fs_in, fs), block_average(y, fs_in, fs)
    lag = max(1, round(lag_s * fs))
    if xs.size < 3 * lag + 10:
        return GrangerResult(lag, fs, float("nan"), float("nan"), float("nan"), float("nan"))
    f_xy, p_xy = _one_way(xs, ys, lag)
    f_yx, p_yx = _one_way(ys, xs, lag)
    return GrangerResult(lag, fs, f_xy, p_xy, f_yx, p_yx)
