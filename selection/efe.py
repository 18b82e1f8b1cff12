"""Expected free energy of candidate policies (the motion-selection module's score).

Two paths with one meaning: `expected_free_energy` is the pure, readable reference in pymdp's array conventions;
`EfeKernel` is the vectorized path the agent uses for K candidates at once. Tests hold them equal.

G(π) = Σ_τ Σ_m [ KL(q(o_m,τ|π) ‖ p(o_m|C)) + E_q(s_τ|π) H[p(o_m|s_τ)] ]   (risk + ambiguity: docs/architecture.md §3,
the form reviewed in Da Costa et al. 2020, "Active inference on discrete state-spaces: a synthesis", J Math Psych 99;
per modality exactly as pymdp 1.0.4 `control.compute_neg_efe_policy` sums `compute_info_gain` and
`compute_expected_utility`), with p(o_m|C) = softmax(C_m). pymdp uses C_m unnormalized: its −neg_efe equals
our G − Σ_τ Σ_m logsumexp(C_m), which is identical for normalized C and never changes the ranking of policies.
Entropies, x ln x and log-softmax are scipy.special's (entr, xlogy, log_softmax).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import entr, log_softmax, xlogy

_TINY = 1e-300


def _contract(tensor: np.ndarray, qs: Sequence[np.ndarray]) -> np.ndarray:
    """Contract the trailing len(qs) factor axes of `tensor` with the factor marginals qs (last axis first)."""
    out = tensor
    for q in reversed(qs):
        out = out @ q
    return np.asarray(out)


def expected_free_energy(
    qs: Sequence[np.ndarray],
    A: Sequence[np.ndarray],
    B: Sequence[np.ndarray],
    C: Sequence[np.ndarray],
    policy: np.ndarray,
) -> tuple[float, float, float]:
    """G, risk, ambiguity of one policy (pymdp conventions; the readable reference).

    qs[f]: (ns_f,) current belief; A[m]: (no_m, *ns); B[f]: (ns_f, ns_f, nu_f) with B[f][s', s, u] = p(s'|s, u);
    C[m]: (no_m,) log-preferences, or (horizon, no_m) time-indexed as in pymdp; policy: int (horizon, num_factors).
    """
    policy = np.asarray(policy, dtype=np.int64)
    if policy.ndim != 2 or policy.shape[1] != len(B):
        raise ValueError(f"policy must be (horizon, {len(B)}) ints, got shape {policy.shape}")
    q = [np.asarray(x, dtype=np.float64) for x in qs]
    risk = 0.0
    ambiguity = 0.0
    for t in range(policy.shape[0]):
        # predicted states: q(s_f,τ|π) = B_f[:, :, u_f,τ] q(s_f,τ−1|π)   (pymdp compute_expected_state)
        q = [np.asarray(B[f], dtype=np.float64)[:, :, policy[t, f]] @ q[f] for f in range(len(q))]
        for m, A_m in enumerate(A):
            A_m = np.asarray(A_m, dtype=np.float64)
            qo = _contract(A_m, q)  # q(o_m,τ|π) = Σ_s p(o_m|s) Π_f q(s_f)
            C_m = np.asarray(C[m], dtype=np.float64)
            lnC = log_softmax(C_m[t] if C_m.ndim > 1 else C_m)
            risk += float(np.sum(xlogy(qo, qo)) - np.dot(qo, lnC))  # KL(q(o)‖p(o|C))
            H_A = np.sum(entr(A_m), axis=0)  # H[p(o_m|s)] per joint state
            ambiguity += float(_contract(H_A, q))
    return risk + ambiguity, risk, ambiguity


def dirichlet_novelty_weights(pB: np.ndarray) -> np.ndarray:
    """W = ½(1/α − 1/α₀) ≥ 0 per Dirichlet column (Da Costa et al. 2020, eq. D.17, second line; pymdp's legacy
    `maths.spm_wnorm` returns −2·W)."""
    a = np.asarray(pB, dtype=np.float64)
    a0 = np.sum(a, axis=0, keepdims=True)
    return 0.5 * (1.0 / np.maximum(a, _TINY) - 1.0 / np.maximum(a0, _TINY))


@dataclass
class EfeTerms:
    """Per-candidate terms of G (arrays of shape (K,)); G already includes −novelty when novelty was asked for."""

    G: np.ndarray
    risk: np.ndarray
    ambiguity: np.ndarray
    novelty: np.ndarray


class EfeKernel:
    """Vectorized G for K policies at once over a fixed (A, C); B may change between calls (it is learned).

    Precomputes the stacked likelihood over the joint state space and its entropy, so one decision costs a few small
    matrix products per horizon step regardless of K's Python overhead.
    """

    def __init__(self, A: Sequence[np.ndarray], C: Sequence[np.ndarray], num_states: Sequence[int]) -> None:
        self.num_states = tuple(int(n) for n in num_states)
        S = int(np.prod(self.num_states))
        flat = [np.asarray(a, dtype=np.float64).reshape(a.shape[0], S) for a in A]
        self.A_stack_T = np.ascontiguousarray(np.concatenate(flat, axis=0).T)  # (S, Σ no_m)
        self.H_A = sum(np.sum(entr(f), axis=0) for f in flat)  # Σ_m H[p(o_m|s)], (S,)
        self.lnC = np.concatenate([log_softmax(np.asarray(c, dtype=np.float64)) for c in C])  # static C only

    def evaluate(
        self,
        qs: Sequence[np.ndarray],
        B: Sequence[np.ndarray],
        policies: np.ndarray,
        pB: Sequence[np.ndarray | None] | None = None,
    ) -> EfeTerms:
        """policies: int (K, horizon, num_factors). pB: per-factor Dirichlet counts (or None) for novelty.

        Candidates that share a control sequence share every term, so each distinct sequence is evaluated once
        (K sampled candidates typically reduce to a few dozen sequences) and the results are scattered back."""
        policies = np.asarray(policies, dtype=np.int64)
        K, H, F = policies.shape
        flat = policies.reshape(K, H * F)
        radix = int(flat.max()) + 1 if flat.size else 1
        if K > 1 and radix ** (H * F) < 2 ** 62:
            key = flat @ (radix ** np.arange(H * F, dtype=np.int64))
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            if first.size < K:
                t = self._evaluate(qs, B, policies[first], pB)
                return EfeTerms(G=t.G[inverse], risk=t.risk[inverse], ambiguity=t.ambiguity[inverse],
                                novelty=t.novelty[inverse])
        return self._evaluate(qs, B, policies, pB)

    def _evaluate(
        self,
        qs: Sequence[np.ndarray],
        B: Sequence[np.ndarray],
        policies: np.ndarray,
        pB: Sequence[np.ndarray | None] | None,
    ) -> EfeTerms:
        K, H, F = policies.shape
        q = [np.broadcast_to(np.asarray(x, dtype=np.float64), (K, len(x))) for x in qs]
        # Per factor: all next-state predictions for every control at once, (K, ns, nu) = q @ B^T.
        B_T = [np.ascontiguousarray(np.asarray(b, dtype=np.float64).transpose(1, 0, 2).reshape(b.shape[1], -1))
               for b in B]
        W = None
        if pB is not None:
            W = [None if p is None else dirichlet_novelty_weights(p) for p in pB]
        risk = np.zeros(K)
        amb = np.zeros(K)
        nov = np.zeros(K)
        rows = np.arange(K)
        for t in range(H):
            q_next = []
            for f in range(F):
                ns, nu = B[f].shape[0], B[f].shape[2]
                allu = (q[f] @ B_T[f]).reshape(K, ns, nu)
                qn = allu[rows, :, policies[:, t, f]]  # (K, ns)
                if W is not None and W[f] is not None:
                    # parameter information gain: q(s_τ)ᵀ W[:, :, u] q(s_τ−1)   (pymdp calc_negative_pB_info_gain)
                    Wu = W[f][:, :, policies[:, t, f]].transpose(2, 0, 1)  # (K, ns, ns)
                    nov += np.einsum("ki,kij,kj->k", qn, Wu, q[f])
                q_next.append(qn)
            q = q_next
            joint = q[0]
            for f in range(1, F):
                joint = (joint[:, :, None] * q[f][:, None, :]).reshape(K, -1)
            qo = joint @ self.A_stack_T  # (K, Σ no_m)
            risk += np.sum(xlogy(qo, qo), axis=1) - qo @ self.lnC
            amb += joint @ self.H_A
        G = risk + amb - (nov if W is not None else 0.0)
        return EfeTerms(G=G, risk=risk, ambiguity=amb, novelty=nov)
