"""Group-level elicitation and peri-event histograms; the per-trial statistic lives in fep_motion.elicitation (the
session summary uses the same one)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fep_motion.elicitation import (
    DEFAULT_SURROGATES,
    DEFAULT_WINDOW,
    ElicitationResult,
    elicitation,
    hit_proportion,
    mc_p,
    shuffled_onsets,
)

__all__ = [
    "DEFAULT_SURROGATES", "DEFAULT_WINDOW", "ElicitationResult", "GroupElicitation", "elicitation",
    "group_elicitation", "hit_proportion", "peri_event_histogram", "shuffled_onsets",
]


@dataclass(frozen=True)
class GroupElicitation:
    """Group test for one condition: mean observed proportion against the mean of matched surrogates."""

    n: int
    mean_proportion: float
    mean_surrogate: float
    mean_z: float
    p: float


def group_elicitation(results: list[ElicitationResult]) -> GroupElicitation:
    """Mean over participants of P against the K means of their k-th surrogates (exact under independence, because
    each participant's observed value is exchangeable with its own surrogates)."""
    ok = [r for r in results if r.n_agent > 0 and r.surrogates.size > 0]
    if not ok:
        return GroupElicitation(0, float("nan"), float("nan"), float("nan"), float("nan"))
    k = min(r.surrogates.size for r in ok)
    obs = float(np.mean([r.proportion for r in ok]))
    sur = np.mean(np.stack([r.surrogates[:k] for r in ok]), axis=0)
    p = mc_p(obs, sur, np.random.default_rng(k + len(ok)))
    return GroupElicitation(len(ok), obs, float(sur.mean()), float(np.mean([r.z for r in ok])), p)


def peri_event_histogram(agent: np.ndarray, human: np.ndarray, span: tuple[float, float] = (-5.0, 5.0),
                         bin_s: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    """Counts of human onsets relative to each agent onset (bin edges, counts per agent onset per second)."""
    edges = np.arange(span[0], span[1] + bin_s / 2, bin_s)
    a = np.asarray(agent, dtype=float)
    h = np.asarray(human, dtype=float)
    if a.size == 0 or h.size == 0:
        return edges, np.zeros(edges.size - 1)
    rel = (h[None, :] - a[:, None]).ravel()
    counts, _ = np.histogram(rel, bins=edges)
    return edges, counts / (a.size * bin_s)
