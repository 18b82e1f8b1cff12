"""The elicitation statistic (docs/architecture.md §5), shared by the session summary and experiment analysis:
P(human gesture onset within [lo, hi] s after an agent onset), tested against shuffled-onset surrogates.

Surrogates permute the agent's inter-onset intervals (including the gaps to the trial's start and end), which keeps
the agent's onset count, rate and interval distribution and destroys only its timing relative to the human. For a
renewal agent process the observed train is exchangeable with its surrogates under independence, so the Monte-Carlo
p-value p = (1 + #{S_k > P} + T) / (1 + K) (Davison & Hinkley 1997, eq. 4.11; Phipson & Smyth 2010) is exact, where
T ~ Uniform{0..#{S_k = P}} places the observed value at a random rank among its ties: proportions are discrete, and
counting every tie as "at least as extreme" would make the test conservative.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DEFAULT_WINDOW: tuple[float, float] = (0.5, 3.0)
DEFAULT_SURROGATES = 1000


@dataclass(frozen=True)
class ElicitationResult:
    """One trial's elicitation: observed proportion, surrogate mean/sd, z and Monte-Carlo p (NaN if no agent onset)."""

    n_agent: int
    n_human: int
    hits: int
    proportion: float
    surrogate_mean: float
    surrogate_sd: float
    z: float
    p: float
    surrogates: np.ndarray  # [K] surrogate proportions (kept for the group test)


def _clean(onsets: np.ndarray, duration: float) -> np.ndarray:
    a = np.asarray(onsets, dtype=float).ravel()
    a = a[np.isfinite(a)]
    return np.sort(a[(a >= 0.0) & (a <= duration)])


def mc_p(obs: float, sur: np.ndarray, rng: np.random.Generator) -> float:
    """One-sided Monte-Carlo p with the observed value ranked at random among its ties (exact size under H0)."""
    eps = 1e-12
    above = int(np.sum(sur > obs + eps))
    ties = int(np.sum(np.abs(sur - obs) <= eps))
    return (1.0 + above + int(rng.integers(0, ties + 1))) / (1.0 + sur.size)


def hit_proportion(agent: np.ndarray, human: np.ndarray, window: tuple[float, float] = DEFAULT_WINDOW) -> np.ndarray:
    """Fraction of agent onsets followed by >= 1 human onset in [a+lo, a+hi]; agent may be [n] or [K, n]."""
    agent = np.asarray(agent, dtype=float)
    human = np.sort(np.asarray(human, dtype=float))
    if agent.shape[-1] == 0:
        return np.full(agent.shape[:-1], np.nan)
    lo, hi = window
    count = np.searchsorted(human, agent + hi, side="right") - np.searchsorted(human, agent + lo, side="left")
    return (count > 0).mean(axis=-1)


def shuffled_onsets(agent: np.ndarray, duration: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """[n, len(agent)] surrogate onset trains: the n+1 gaps of [0, duration] split by the onsets, permuted."""
    a = np.sort(np.asarray(agent, dtype=float))
    gaps = np.diff(np.concatenate([[0.0], a, [duration]]))  # k+1 gaps summing to duration
    perm = rng.permuted(np.broadcast_to(gaps, (n, gaps.size)).copy(), axis=1)
    return np.cumsum(perm[:, :-1], axis=1)


def elicitation(agent_onsets: np.ndarray, human_onsets: np.ndarray, duration: float,
                window: tuple[float, float] = DEFAULT_WINDOW, n_surrogates: int = DEFAULT_SURROGATES,
                rng: np.random.Generator | None = None) -> ElicitationResult:
    """Observed elicitation proportion and its shuffled-onset surrogate test (one-sided: more than chance)."""
    if duration <= 0 or not np.isfinite(duration):
        raise ValueError(f"duration must be a positive finite number of seconds, got {duration}")
    rng = rng if rng is not None else np.random.default_rng(0)
    a = _clean(agent_onsets, duration)
    h = _clean(human_onsets, duration)
    if a.size == 0:
        return ElicitationResult(0, int(h.size), 0, float("nan"), float("nan"), float("nan"), float("nan"),
                                 float("nan"), np.empty(0))
    obs = float(hit_proportion(a, h, window))
    sur = hit_proportion(shuffled_onsets(a, duration, n_surrogates, rng), h, window)
    mean, sd = float(sur.mean()), float(sur.std(ddof=1)) if sur.size > 1 else 0.0
    z = (obs - mean) / sd if sd > 0 else 0.0
    p = mc_p(obs, sur, rng)
    return ElicitationResult(int(a.size), int(h.size), round(obs * a.size), obs, mean, sd, float(z), p, sur)
