"""The human's rhythm: an extended Kalman filter over a phase oscillator (phase φ, angular tempo ω).

Dynamics φ' = φ + ω dt, ω' = ω (+ process noise). Measurement: the instantaneous phase of the detrended head-pitch
oscillation, atan2(−v/ω̂, y) for y = pitch − running mean, v = pitch velocity (y = r cos φ, v = −rω sin φ), with an
innovation wrapped to (−π, π]; nod-onset events measure φ ≡ 0. Linearizing the measurement around the prediction gives
H = [1, 0]; predict and update are the standard extended Kalman filter (Särkkä 2013, "Bayesian Filtering and
Smoothing", ch. 5).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fep_motion.model.config import RhythmConfig
from perception.types import FEATURE_INDEX, Observation
from sampling.proposal import RhythmEstimate

TWO_PI = 2.0 * math.pi


def _wrap(a: float) -> float:
    return (a + math.pi) % TWO_PI - math.pi


@dataclass
class RhythmState:
    """Gaussian belief over (phase, angular tempo): mean x (2,), covariance P (2, 2)."""

    x: np.ndarray
    P: np.ndarray

    @property
    def tempo_hz(self) -> float:
        return float(self.x[1] / TWO_PI)

    def entropy(self) -> float:
        """Differential entropy of the Gaussian, ½ ln det(2πe P)."""
        sign, logdet = np.linalg.slogdet(2 * math.pi * math.e * self.P)
        return 0.5 * float(logdet) if sign > 0 else float("inf")


class RhythmTracker:
    """EKF over a phase oscillator fed by head pitch features and nod events; predicts through gaps."""

    def __init__(self, cfg: RhythmConfig | None = None) -> None:
        self.cfg = cfg or RhythmConfig()
        self.reset()

    def reset(self) -> None:
        c = self.cfg
        self.state = RhythmState(x=np.array([0.0, TWO_PI * c.tempo_init_hz]),
                                 P=np.diag([math.pi ** 2, (TWO_PI * 0.5) ** 2]))
        self.mean_pitch = float("nan")
        self.t: float | None = None

    def predict(self, dt: float) -> None:
        """Time update: F = [[1, dt], [0, 1]], Q = diag(q_φ, q_ω)·dt."""
        if dt <= 0:
            return
        F = np.array([[1.0, dt], [0.0, 1.0]])
        Q = np.diag([self.cfg.phase_noise, self.cfg.tempo_noise]) * dt
        x = F @ self.state.x
        x[0] = x[0] % TWO_PI
        P = F @ self.state.P @ F.T + Q
        if P[0, 0] > math.pi ** 2:  # a phase is never less known than uniform: shrink its row/column, keep P ⪰ 0
            k = math.sqrt(math.pi ** 2 / P[0, 0])
            P[0, :] *= k
            P[:, 0] *= k
        self.state = RhythmState(x=x, P=P)

    def _update_phase(self, z: float, R: float) -> None:
        x, P = self.state.x, self.state.P
        innov = _wrap(z - x[0])
        S = P[0, 0] + R
        Kg = P[:, 0] / S
        x = x + Kg * innov
        x[0] = x[0] % TWO_PI
        lo, hi = TWO_PI * self.cfg.tempo_min_hz, TWO_PI * self.cfg.tempo_max_hz
        x[1] = min(max(x[1], lo), hi)
        P = P - np.outer(Kg, P[0, :])
        self.state = RhythmState(x=x, P=0.5 * (P + P.T))

    def update(self, obs: Observation) -> None:
        """Predict to obs.t, then correct with the head-pitch phase (if oscillating and observed) and nod onsets."""
        if self.t is not None:
            self.predict(obs.t - self.t)
        self.t = obs.t
        ip, iv = FEATURE_INDEX["head_pitch"], FEATURE_INDEX["head_pitch_vel"]
        if obs.mask[ip] and obs.mask[iv] and np.isfinite(obs.features[ip]) and np.isfinite(obs.features[iv]):
            pitch, vel = float(obs.features[ip]), float(obs.features[iv])
            self.mean_pitch = pitch if not math.isfinite(self.mean_pitch) else 0.97 * self.mean_pitch + 0.03 * pitch
            y = pitch - self.mean_pitch
            w = max(self.state.x[1], 1e-3)
            r = math.hypot(y, vel / w)
            conf = float(min(obs.confidence[ip], obs.confidence[iv]))
            if r >= self.cfg.min_amplitude and conf > 0:
                z = math.atan2(-vel / w, y)
                R = (self.cfg.measurement_noise ** 2) / (conf * min(r / self.cfg.min_amplitude, 4.0) ** 2)
                self._update_phase(z % TWO_PI, R)
        for e in obs.events:
            if e.kind == "nod" and not getattr(e, "complete", False):  # the detection report, not the completion
                # the onset happened at e.t_onset: the phase now should be ω̂ (t − t_onset) mod 2π
                z = (self.state.x[1] * max(obs.t - e.t_onset, 0.0)) % TWO_PI
                self._update_phase(z, self.cfg.measurement_noise ** 2)

    def estimate(self) -> RhythmEstimate:
        """Mean phase/tempo with confidence = exp(−var_φ / 2) (the circular concentration of a wrapped Gaussian)."""
        var = float(self.state.P[0, 0])
        return RhythmEstimate(phase=float(self.state.x[0]), tempo_hz=self.state.tempo_hz,
                              confidence=float(math.exp(-0.5 * var)))
