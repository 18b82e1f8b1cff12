"""Choosing among scored candidates: q(π) = softmax(−γG + ln E), then sample or take the argmax.

(The policy posterior of discrete active inference, as pymdp 1.0.4 `control.update_posterior_policies` computes it:
softmax(γ·(−G) + ln E).)
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import softmax

CHOICE_MODES: tuple[str, ...] = ("sample", "argmax")


def policy_posterior(G: np.ndarray, log_E: np.ndarray | None, gamma: float) -> np.ndarray:
    """q(π) = softmax(−γG + ln E); γ = inf gives the uniform mass over the minimizers of −(−γG) (argmax limit)."""
    G = np.asarray(G, dtype=np.float64)
    lnE = np.zeros_like(G) if log_E is None else np.asarray(log_E, dtype=np.float64)
    if G.ndim != 1 or G.shape != lnE.shape or G.size == 0:
        raise ValueError(f"G and log_E must be equal-length non-empty vectors, got {G.shape} and {lnE.shape}")
    if not np.all(np.isfinite(G)):
        raise ValueError("G contains non-finite values")
    if gamma < 0 or math.isnan(gamma):
        raise ValueError(f"gamma must be >= 0, got {gamma}")
    if math.isinf(gamma):
        # lim γ→∞ softmax(−γG + ln E): all mass on argmin G (ties split by E, which then dominates)
        best = G <= G.min()
        logits = np.where(best, lnE, -np.inf)
    else:
        logits = -gamma * G + lnE
    return softmax(logits)


def choose(
    G: np.ndarray,
    log_E: np.ndarray | None,
    gamma: float,
    rng: np.random.Generator,
    mode: str = "sample",
) -> tuple[int, np.ndarray]:
    """The chosen candidate index and q(π); 'argmax' picks the most probable (ties: lowest index)."""
    if mode not in CHOICE_MODES:
        raise ValueError(f"choice mode must be one of {CHOICE_MODES}, got {mode!r}")
    p = policy_posterior(G, log_E, gamma)
    if mode == "argmax":
        return int(np.argmax(p)), p
    return int(min(np.searchsorted(np.cumsum(p), rng.random() * p.sum(), side="right"), p.size - 1)), p
