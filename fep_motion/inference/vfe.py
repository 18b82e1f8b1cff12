"""Variational free energy and its minimization by fixed-point iteration over mean-field factors.

F[q] = E_q[ln q(s) − ln p(õ, s)] = Σ_f KL(q_f ‖ p_f) − E_q[ln p(õ|s)]  (complexity − accuracy; Da Costa et al. 2020,
"Active inference on discrete state-spaces: a synthesis", §4.1), with the precision-weighted likelihood
ln p(õ|s) = Σ_m w_m ln Σ_o õ_m(o) A_m(o, s). The update q_f ∝ p_f exp(E_{q_\\f}[ln p(õ|s)]) is the coordinate-descent
fixed point (pymdp `algos.run_vanilla_fpi`); each sweep can only lower F.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import rel_entr, softmax

_EPS = 1e-16


@dataclass
class BeliefUpdate:
    """Posterior marginals and F = complexity − accuracy at that posterior."""

    qs: list[np.ndarray]
    F: float
    complexity: float
    accuracy: float
    iterations: int


def log_likelihood(A: Sequence[np.ndarray], dists: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """ln p(õ|s) over the joint state space (shape = A[m].shape[1:]): Σ_m w_m ln(õ_m · A_m)."""
    shape = A[0].shape[1:]
    out = np.zeros(int(np.prod(shape)))
    for a, o, w in zip(A, dists, weights):
        if w > 0:
            out += w * np.log(o @ a.reshape(a.shape[0], -1) + _EPS)
    return out.reshape(shape)


def _marginal_expectations(logL: np.ndarray, qs: Sequence[np.ndarray], f: int) -> np.ndarray:
    """E over every factor but f of logL: a vector over factor f's states."""
    if len(qs) == 1:
        return logL
    if len(qs) == 2:  # the agent's case, without einsum's parsing overhead
        return logL @ qs[1] if f == 0 else qs[0] @ logL
    letters = "abcdefghij"[: logL.ndim]
    operands = [logL] + [qs[g] for g in range(len(qs)) if g != f]
    spec = letters + "," + ",".join(letters[g] for g in range(len(qs)) if g != f) + "->" + letters[f]
    return np.einsum(spec, *operands)


def free_energy(qs: Sequence[np.ndarray], prior: Sequence[np.ndarray], logL: np.ndarray) -> tuple[float, float, float]:
    """(F, complexity, accuracy) for mean-field q against prior and joint log-likelihood."""
    complexity = float(sum(np.sum(rel_entr(q, p + _EPS)) for q, p in zip(qs, prior)))  # Σ_f KL(q_f ‖ p_f)
    acc = logL
    for q in reversed(qs):
        acc = acc @ q
    accuracy = float(acc)
    return complexity - accuracy, complexity, accuracy


def minimize_free_energy(prior: Sequence[np.ndarray], logL: np.ndarray, iterations: int = 8,
                         tol: float = 1e-10) -> BeliefUpdate:
    """Fixed-point coordinate descent on F from q = prior; an all-zero logL returns the prior with F = 0."""
    prior = [np.asarray(p, dtype=np.float64) for p in prior]
    if not np.any(logL):
        return BeliefUpdate(qs=[p.copy() for p in prior], F=0.0, complexity=0.0, accuracy=0.0, iterations=0)
    qs = [p.copy() for p in prior]
    lnp = [np.log(p + _EPS) for p in prior]
    F_prev = np.inf
    it = 0
    for it in range(1, iterations + 1):
        for f in range(len(qs)):
            qs[f] = softmax(lnp[f] + _marginal_expectations(logL, qs, f))
        if len(qs) == 1:
            break
        F, _, _ = free_energy(qs, prior, logL)
        if F_prev - F < tol:
            break
        F_prev = F
    F, cx, acc = free_energy(qs, prior, logL)
    return BeliefUpdate(qs=qs, F=F, complexity=cx, accuracy=acc, iterations=it)

