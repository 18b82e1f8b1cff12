"""Within-subject group tests: Wilcoxon signed-rank with effect size r = Z / sqrt(N) for two conditions; Friedman
with Kendall's W and Holm-corrected pairwise Wilcoxon for three or more."""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests


@dataclass(frozen=True)
class WilcoxonResult:
    """Signed-rank test of a vs b: W+ (sum of positive ranks), normal-approximation Z, p, r = Z/sqrt(N), N pairs."""

    a: str
    b: str
    n: int
    w_plus: float
    z: float
    p: float
    r: float
    median_diff: float
    p_holm: float = float("nan")


@dataclass(frozen=True)
class FriedmanResult:
    """Friedman chi-square over k conditions for N complete participants, p, and Kendall's W."""

    n: int
    k: int
    chi2: float
    p: float
    kendall_w: float


def _pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def signed_rank_z(d: np.ndarray) -> tuple[float, float, int]:
    """(W+, Z, n) for differences d, zeros dropped (Wilcoxon 1945): scipy's normal approximation without continuity
    correction, mean n(n+1)/4, tie-corrected variance n(n+1)(2n+1)/24 - sum(t^3 - t)/48 (Lehmann 1975, eq. 3.13).
    One-sided "greater" keeps Z's sign (W+ above its mean: a > b); two-sided scipy would return -|Z|."""
    d = np.asarray(d, dtype=float)
    n = int(np.count_nonzero(d))
    if n == 0:
        return 0.0, 0.0, 0
    res = stats.wilcoxon(d, zero_method="wilcox", correction=False, alternative="greater", method="asymptotic")
    return float(res.statistic), float(res.zstatistic), n


def wilcoxon_r(a: np.ndarray, b: np.ndarray, name_a: str = "a", name_b: str = "b") -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired a vs b; r = Z / sqrt(N) (Rosenthal 1991, eq. 2.18), N = pairs
    with a non-zero difference. p from scipy (exact for small untied samples, normal approximation otherwise)."""
    a, b = _pairs(a, b)
    d = a - b
    w_plus, z, n = signed_rank_z(d)
    if n == 0:
        nan = float("nan")  # no non-zero pair: no test (not "p = 1")
        return WilcoxonResult(name_a, name_b, 0, 0.0, nan, nan, nan, 0.0)
    p = float(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)
    return WilcoxonResult(name_a, name_b, n, w_plus, z, p, float(z / np.sqrt(n)), float(np.median(d)))


def holm(pvalues: list[float]) -> list[float]:
    """Holm (1979, Scand. J. Statist. 6:65) step-down adjusted p-values, monotone and capped at 1 (statsmodels); a NaN
    p (a pair with no test) stays NaN and is not counted in the family."""
    p = np.asarray(pvalues, dtype=float)
    adj = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        adj[ok] = multipletests(p[ok], method="holm")[1]
    return adj.tolist()


def friedman_w(matrix: np.ndarray) -> FriedmanResult:
    """Friedman test on [participants, conditions] (rows with NaN dropped); Kendall's W = chi2 / (N (k - 1))
    (Tomczak & Tomczak 2014, eq. 3)."""
    m = np.asarray(matrix, dtype=float)
    m = m[np.all(np.isfinite(m), axis=1)]
    n, k = m.shape
    if n < 2 or k < 3:
        return FriedmanResult(n, k, float("nan"), float("nan"), float("nan"))
    if np.all(m == m[:, :1]):  # every participant tied across conditions: no evidence of a difference
        return FriedmanResult(n, k, 0.0, 1.0, 0.0)
    chi2, p = stats.friedmanchisquare(*m.T)
    return FriedmanResult(n, k, float(chi2), float(p), float(chi2) / (n * (k - 1)))


def pairwise_holm(matrix: np.ndarray, names: list[str]) -> list[WilcoxonResult]:
    """Wilcoxon signed-rank for every pair of conditions, p-values Holm-corrected over the pairs."""
    m = np.asarray(matrix, dtype=float)
    res = [wilcoxon_r(m[:, i], m[:, j], names[i], names[j]) for i, j in combinations(range(m.shape[1]), 2)]
    adj = holm([r.p for r in res])
    return [WilcoxonResult(r.a, r.b, r.n, r.w_plus, r.z, r.p, r.r, r.median_diff, pa) for r, pa in zip(res, adj)]
