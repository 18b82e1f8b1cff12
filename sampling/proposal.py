"""The sampling module (Horibe et al. 2022): propose K candidate gestures at a decision point.

A candidate = a primitive drawn from the habit prior E mixed with uniform exploration, plus parameters drawn from the
primitive's ranges around the human's estimated rhythm: onset aligned to the human's predicted next phase zero,
tempo matched or leading. Vectorized per primitive and seeded through the caller's Generator. Knows nothing of the
agent (primitives are duck-typed: `name`, `gesture_class`, `ranges`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from scipy.special import softmax

from sampling.primitives.base import GESTURE_CLASSES, ParamRange

TEMPO_KEYS = ("tempo", "freq", "rate")  # parameters in Hz that follow the human's tempo
PERIOD_KEYS = ("period",)  # parameters in seconds that follow 1 / tempo


class PrimitiveLike(Protocol):
    name: str
    gesture_class: str
    ranges: tuple[ParamRange, ...]


@dataclass(frozen=True)
class RhythmEstimate:
    """The human's rhythm as the agent believes it: phase (rad, 0 = onset of a cycle), tempo (Hz), confidence [0,1]."""

    phase: float = 0.0
    tempo_hz: float = 1.0
    confidence: float = 0.0

    def time_to_phase_zero(self) -> float:
        """Seconds until the predicted next cycle onset (phase ≡ 0 mod 2π)."""
        if self.tempo_hz <= 0 or not math.isfinite(self.tempo_hz) or not math.isfinite(self.phase):
            return 0.0
        return ((2 * math.pi - self.phase) % (2 * math.pi)) / (2 * math.pi * self.tempo_hz)


@dataclass(frozen=True)
class ProposalSettings:
    """How candidates spread: exploration mix, onset window, tempo lead, onset jitter (fraction of a period)."""

    exploration: float = 0.2  # fraction of draws from the uniform instead of the habit prior E
    max_onset_s: float = 1.5
    max_tempo_lead: float = 0.25  # a leading candidate's tempo is up to (1 + this) × the human's
    lead_fraction: float = 0.5  # fraction of rhythm-following candidates that lead instead of match
    onset_jitter: float = 0.08
    cover_all: bool = True  # when K ≥ number of primitives, every primitive appears at least once


@dataclass
class CandidateSet:
    """K proposed gestures as arrays; `params_of(i)` gives one candidate's parameters as a dict."""

    primitive_names: tuple[str, ...]
    param_names: tuple[str, ...]
    primitive_index: np.ndarray  # (K,) int into primitive_names
    gesture_index: np.ndarray  # (K,) int into GESTURE_CLASSES
    onset_delay: np.ndarray  # (K,) seconds from now
    params: np.ndarray  # (K, len(param_names)); NaN where a primitive lacks the parameter
    aligned: np.ndarray  # (K,) bool: onset aligned to the human's predicted phase
    explore: np.ndarray  # (K,) bool: primitive drawn from the exploration (uniform) mixture

    def __len__(self) -> int:
        return int(self.primitive_index.shape[0])

    def primitive(self, i: int) -> str:
        return self.primitive_names[int(self.primitive_index[i])]

    def params_of(self, i: int) -> dict[str, float]:
        row = self.params[i]
        return {n: float(v) for n, v in zip(self.param_names, row) if np.isfinite(v)}


def _draw_primitives(
    K: int, log_E: np.ndarray, settings: ProposalSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Primitive indices from (1 − ε)·E + ε·uniform (inverse-CDF sampling); optionally one of each first."""
    n = log_E.shape[0]
    cdf = np.cumsum(softmax(log_E))
    explore = rng.random(K) < settings.exploration
    from_E = np.minimum(np.searchsorted(cdf, rng.random(K) * cdf[-1], side="right"), n - 1)
    idx = np.where(explore, rng.integers(0, n, size=K), from_E)
    if settings.cover_all and K >= n:
        idx[:n] = rng.permutation(n)
        explore[:n] = True
    return idx.astype(np.int64), explore


class CandidateProposer:
    """The sampling module for a fixed primitive library: per-parameter range tables built once, so each proposal
    is a handful of vectorized draws over all K candidates."""

    def __init__(self, primitives: Sequence[PrimitiveLike], settings: ProposalSettings | None = None) -> None:
        if not primitives:
            raise ValueError("no primitives to propose from")
        self.primitives = list(primitives)
        self.settings = settings or ProposalSettings()
        names: list[str] = []
        for p in self.primitives:
            for r in p.ranges:
                if r.name not in names:
                    names.append(r.name)
        self.param_names = tuple(names)
        n, P = len(self.primitives), len(names)
        self.low = np.full((n, P), np.nan)
        self.high = np.full((n, P), np.nan)
        self.integer = np.zeros((n, P), bool)
        for i, p in enumerate(self.primitives):
            for r in p.ranges:
                j = names.index(r.name)
                self.low[i, j], self.high[i, j], self.integer[i, j] = float(r.low), float(r.high), bool(r.integer)
        lname = [nm.lower() for nm in names]
        self.is_tempo = np.array([any(k in nm for k in TEMPO_KEYS) for nm in lname], bool)
        self.is_period = np.array([any(k in nm for k in PERIOD_KEYS) for nm in lname], bool) & ~self.is_tempo
        cls = {g: i for i, g in enumerate(GESTURE_CLASSES)}
        self.gesture_of = np.array([cls.get(getattr(p, "gesture_class", "none"), 0) for p in self.primitives],
                                   dtype=np.int64)
        self.primitive_names = tuple(p.name for p in self.primitives)

    def propose(self, K: int, rng: np.random.Generator, log_E: np.ndarray | None = None,
                rhythm: RhythmEstimate | None = None, onset_focus: tuple[float, float, float] | None = None
                ) -> CandidateSet:
        """K candidates: primitive ~ (1−ε)E + ε·uniform, parameters around `rhythm` (uniform in range without one).
        `onset_focus` = (start, end, share): that share of the candidates start uniformly in [start, end] s instead
        (a window where starting matters to the caller gets that prior mass, whatever its width)."""
        if K < 1:
            raise ValueError(f"K must be >= 1, got {K}")
        st = self.settings
        rhythm = rhythm or RhythmEstimate()
        n = len(self.primitives)
        log_E = np.zeros(n) if log_E is None else np.asarray(log_E, dtype=np.float64)
        if log_E.shape != (n,):
            raise ValueError(f"log_E must have one entry per primitive ({n}), got shape {log_E.shape}")
        prim_idx, explore = _draw_primitives(K, log_E, st, rng)

        # Onsets: with probability = rhythm confidence, aligned to the human's next phase zero (or the one after),
        # otherwise uniform over the onset window.
        c = float(np.clip(rhythm.confidence, 0.0, 1.0)) if math.isfinite(rhythm.confidence) else 0.0
        tempo = rhythm.tempo_hz if (math.isfinite(rhythm.tempo_hz) and rhythm.tempo_hz > 0) else 1.0
        period = 1.0 / tempo
        aligned = rng.random(K) < c
        t0 = rhythm.time_to_phase_zero()
        onset_aligned = t0 + rng.integers(0, 2, size=K) * period + rng.normal(0.0, st.onset_jitter * period, size=K)
        onset_aligned = np.where(onset_aligned > st.max_onset_s, onset_aligned - period, onset_aligned)
        onset = np.clip(np.where(aligned, onset_aligned, rng.uniform(0.0, st.max_onset_s, size=K)), 0.0,
                        st.max_onset_s)
        if onset_focus is not None:
            a, b, share = onset_focus
            if not (0.0 <= a <= b and 0.0 <= share <= 1.0):
                raise ValueError(f"onset_focus must be (start <= end, share in [0, 1]), got {onset_focus}")
            focus = rng.random(K) < share
            onset = np.where(focus, rng.uniform(a, b, size=K), onset)
            aligned = aligned & ~focus

        # Parameters: uniform in range; tempo-like ones follow the human (matched ×N(1, 0.05) or leading
        # ×U[1, 1 + lead]) for rhythm-aligned candidates, period-like ones follow 1 / tempo likewise.
        lead = rng.random(K) < st.lead_fraction
        factor = np.where(lead, rng.uniform(1.0, 1.0 + st.max_tempo_lead, size=K), rng.normal(1.0, 0.05, size=K))
        lo, hi = self.low[prim_idx], self.high[prim_idx]  # (K, P), NaN where the primitive lacks the parameter
        v = lo + rng.random(lo.shape) * (hi - lo)
        follow = aligned[:, None]
        v = np.where(follow & self.is_tempo[None, :], (tempo * factor)[:, None], v)
        v = np.where(follow & self.is_period[None, :], (period / factor)[:, None], v)
        v = np.clip(v, lo, hi)
        integer = self.integer[prim_idx]
        v = np.where(integer, np.clip(np.round(v), np.ceil(lo), np.floor(hi)), v)
        return CandidateSet(
            primitive_names=self.primitive_names,
            param_names=self.param_names,
            primitive_index=prim_idx,
            gesture_index=self.gesture_of[prim_idx],
            onset_delay=onset,
            params=v,
            aligned=aligned,
            explore=explore,
        )


def propose(
    primitives: Sequence[PrimitiveLike],
    K: int,
    rng: np.random.Generator,
    log_E: np.ndarray | None = None,
    rhythm: RhythmEstimate | None = None,
    settings: ProposalSettings | None = None,
    onset_focus: tuple[float, float, float] | None = None,
) -> CandidateSet:
    """One-off proposal (builds a CandidateProposer; agents keep one and call its `propose`)."""
    return CandidateProposer(primitives, settings).propose(K, rng, log_E, rhythm, onset_focus)
