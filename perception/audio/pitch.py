"""Streaming F0 with YIN (de Cheveigne & Kawahara 2002, J. Acoust. Soc. Am. 111(4)): one estimate per 20 ms frame.

Written in numpy/scipy because the light pitch libraries work on whole signals (pyworld, librosa.yin) or pay a
per-call Praat overhead (parselmouth); one YIN step on a 42 ms window costs ~0.1 ms here.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import fftconvolve

from perception.audio.types import SAMPLE_RATE


@dataclass(frozen=True)
class PitchConfig:
    """YIN search range, integration window and the aperiodicity threshold (paper step 4 uses 0.1-0.15)."""

    f0_min_hz: float = 60.0
    f0_max_hz: float = 400.0
    window_s: float = 0.025
    threshold: float = 0.15
    min_energy_db: float = -50.0


@dataclass(frozen=True)
class PitchEstimate:
    """F0 in Hz (0.0 when unvoiced), voicing decision and periodicity 1 - d'(tau) in 0..1."""

    f0_hz: float
    voiced: bool
    periodicity: float


def yin(x: np.ndarray, config: PitchConfig = PitchConfig(), rate: int = SAMPLE_RATE) -> PitchEstimate:
    """YIN on one window x of at least W + tau_max samples (float, any scale)."""
    w = round(config.window_s * rate)
    tau_min = max(2, int(rate / config.f0_max_hz))
    tau_max = int(np.ceil(rate / config.f0_min_hz))
    x = np.asarray(x, dtype=np.float64)[-(w + tau_max):]
    if len(x) < w + tau_max:
        return PitchEstimate(0.0, False, 0.0)
    # Eq. 7: d(tau) = r_t(0) + r_{t+tau}(0) - 2 r_t(tau), the difference function of eq. 6 via correlation.
    sq = np.concatenate([[0.0], np.cumsum(x * x)])
    energy = sq[w:w + tau_max + 1] - sq[:tau_max + 1]          # r_{t+tau}(0) for tau = 0..tau_max
    cross = fftconvolve(x, x[:w][::-1], mode="valid")[:tau_max + 1]
    d = np.maximum(energy[0] + energy - 2.0 * cross, 0.0)
    # Eq. 8: cumulative mean normalised difference d'(tau) = d(tau) / ((1/tau) sum_{j=1..tau} d(j)), d'(0) = 1.
    cum = np.cumsum(d[1:])
    dn = np.ones_like(d)
    dn[1:] = d[1:] * np.arange(1, tau_max + 1) / np.maximum(cum, 1e-12)
    # Step 4: the first lag in range whose d' dips below the threshold, followed to its local minimum;
    # the global minimum when none does (then the frame is unvoiced).
    search = dn[tau_min:tau_max]
    below = np.flatnonzero(search < config.threshold)
    if len(below):
        tau = tau_min + int(below[0])
        while tau + 1 < tau_max and dn[tau + 1] < dn[tau]:
            tau += 1
    else:
        tau = tau_min + int(np.argmin(search))
    # Step 5: parabolic interpolation of d' around the chosen lag.
    shift = 0.0
    if 1 <= tau < tau_max:
        a, b, c = dn[tau - 1], dn[tau], dn[tau + 1]
        den = a - 2.0 * b + c
        if den > 0:
            shift = float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    period = tau + shift
    aperiodicity = float(dn[tau])
    rms_db = 10.0 * np.log10(np.mean((x[-w:] / 32768.0) ** 2) + 1e-12)
    voiced = aperiodicity < config.threshold and rms_db > config.min_energy_db
    return PitchEstimate(rate / period if voiced else 0.0, bool(voiced), float(np.clip(1.0 - aperiodicity, 0, 1)))


class PitchTracker:
    """Keeps the last W + tau_max samples so each 20 ms frame gets a YIN estimate over a full window."""

    def __init__(self, config: PitchConfig = PitchConfig()) -> None:
        self.config = config
        self.span = round(config.window_s * SAMPLE_RATE) + int(np.ceil(SAMPLE_RATE / config.f0_min_hz))
        self._buf = np.zeros(self.span, dtype=np.float64)

    def reset(self) -> None:
        """Forget the history (after a drop-out the window would straddle the gap)."""
        self._buf[:] = 0.0

    def update(self, samples: np.ndarray) -> PitchEstimate:
        """Append one frame of samples and estimate F0 over the window ending with it."""
        s = np.asarray(samples, dtype=np.float64)
        self._buf = np.concatenate([self._buf, s])[-self.span:]
        return yin(self._buf, self.config)
