"""Learning curves: elicitation per time window of a trial, per condition, so a study shows *when* an agent starts
eliciting (an adaptive agent rises over the first minute; a fixed policy is flat).

Per trial, window [w, w + width): the share of agent onsets in it followed by a human onset within the elicitation
window (the same statistic as fep_motion.elicitation, restricted to those onsets; human onsets from the whole trial,
so an answer may fall after the window's end). Per condition: the mean over trials with an agent onset in the window.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from fep_motion.elicitation import DEFAULT_WINDOW, hit_proportion

DEFAULT_CURVE_WINDOW_S = 30.0


@dataclass(frozen=True)
class LearningCurve:
    """One condition's curve: window starts (s), mean elicitation per window (NaN: no agent onset in any trial),
    and the number of trials that contributed to each window."""

    condition: str
    starts_s: np.ndarray
    width_s: float
    mean: np.ndarray
    n: np.ndarray

    def level(self, t0: float, t1: float) -> float:
        """Mean of the windows that start in [t0, t1) (NaN if none has data)."""
        sel = (self.starts_s >= t0) & (self.starts_s < t1) & np.isfinite(self.mean)
        return float(np.mean(self.mean[sel])) if sel.any() else float("nan")


def trial_curve(agent: np.ndarray, human: np.ndarray, duration_s: float, width_s: float = DEFAULT_CURVE_WINDOW_S,
                window: tuple[float, float] = DEFAULT_WINDOW) -> np.ndarray:
    """Elicitation per window [k·width, (k+1)·width) of one trial (NaN where the agent made no onset)."""
    if width_s <= 0 or duration_s <= 0:
        raise ValueError(f"width_s and duration_s must be > 0, got {width_s} and {duration_s}")
    a = np.sort(np.asarray(agent, dtype=float))
    h = np.asarray(human, dtype=float)
    nwin = int(np.ceil(duration_s / width_s - 1e-9))
    out = np.full(nwin, np.nan)
    for k in range(nwin):
        sel = a[(a >= k * width_s) & (a < (k + 1) * width_s)]
        if sel.size:
            out[k] = float(hit_proportion(sel, h, window))
    return out


def learning_curves(trials: Iterable[tuple[str, np.ndarray, np.ndarray, float]], conditions: Sequence[str],
                    width_s: float = DEFAULT_CURVE_WINDOW_S,
                    window: tuple[float, float] = DEFAULT_WINDOW) -> dict[str, LearningCurve]:
    """Per condition, the mean of trial curves; `trials` yields (condition, agent onsets, human onsets, duration)."""
    per: dict[str, list[np.ndarray]] = {c: [] for c in conditions}
    for cond, agent, human, dur in trials:
        if cond in per:
            per[cond].append(trial_curve(agent, human, dur, width_s, window))
    return mean_curves(per, width_s)


def mean_curves(per: dict[str, list[np.ndarray]], width_s: float) -> dict[str, LearningCurve]:
    """Per condition, the window-wise mean of its trial curves (NaN windows of a trial do not count)."""
    out: dict[str, LearningCurve] = {}
    for c, curves in per.items():
        nwin = max((x.size for x in curves), default=0)
        m = np.full((len(curves), nwin), np.nan)
        for i, x in enumerate(curves):
            m[i, :x.size] = x
        n = np.sum(np.isfinite(m), axis=0)
        with np.errstate(invalid="ignore"):
            mean = np.where(n > 0, np.nansum(m, axis=0) / np.maximum(n, 1), np.nan)
        out[c] = LearningCurve(c, width_s * np.arange(nwin), width_s, mean, n)
    return out
