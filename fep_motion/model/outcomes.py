"""Observation → soft outcomes per modality, each with a precision weight from perception confidence.

Each modality gets a categorical distribution from smooth (logistic) thresholds on features, and a weight in [0, 1]:
the confidence of the features it reads (0 when any is missing). Inference raises that modality's likelihood to this
power (a precision-weighted likelihood), so a missing modality contributes nothing and the agent only predicts.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fep_motion.model.spaces import MODALITIES, MODALITY_NAMES, PAUSE_CUES
from perception.types import FEATURE_INDEX, Observation

# Soft thresholds (centre, width) of the logistic discretization.
HEAD_VEL = (0.5, 0.12)  # rad/s of head pitch/yaw velocity
WRIST_SPEED = (0.8, 0.2)  # shoulder widths per second
MOTION_ENERGY = (0.35, 0.1)  # shoulder widths per second
FACING = (0.5, 0.1)  # facing score
# Precision of the speech modality per frame: the voice says little about engagement in one 33 ms frame (the speaker
# talks or not for seconds), so a frame counts 1/20 (about 1.5 frames' worth of evidence per second at 30 fps).
SPEECH_PRECISION = 0.05
SPEECH = MODALITY_NAMES.index("speech")


@dataclass
class SoftOutcomes:
    """Per modality: a distribution over its outcomes and a weight (0 = unobserved, 1 = fully trusted)."""

    dists: list[np.ndarray]
    weights: np.ndarray  # (num_modalities,)

    def observed(self) -> bool:
        return bool(np.any(self.weights > 0))


def _sig(x: float, centre_width: tuple[float, float]) -> float:
    c, w = centre_width
    return float(1.0 / (1.0 + np.exp(-(x - c) / w)))


def _conf(obs: Observation, names: tuple[str, ...]) -> float:
    idx = [FEATURE_INDEX[n] for n in names]
    if not all(bool(obs.mask[i]) and np.isfinite(obs.features[i]) for i in idx):
        return 0.0
    c = float(np.min(obs.confidence[idx]))
    return c if np.isfinite(c) else 0.0


def discretize(obs: Observation) -> SoftOutcomes:
    """Soft outcomes for every modality in MODALITY_NAMES order; NaN/missing features give weight 0."""
    f = obs.features
    w = np.zeros(len(MODALITY_NAMES))
    dists = [np.full(len(MODALITIES[m]), 1.0 / len(MODALITIES[m])) for m in MODALITY_NAMES]

    c = _conf(obs, ("head_pitch_vel", "head_yaw_vel"))
    if c > 0:
        pp = _sig(abs(f[FEATURE_INDEX["head_pitch_vel"]]), HEAD_VEL)
        py = _sig(abs(f[FEATURE_INDEX["head_yaw_vel"]]), HEAD_VEL)
        moving = max(pp, py)
        share = pp / (pp + py) if pp + py > 0 else 0.5
        dists[0] = np.array([1.0 - moving, moving * share, moving * (1.0 - share)])
        w[0] = c
    names = ("wrist_speed_left", "wrist_speed_right")
    idx = [FEATURE_INDEX[n] for n in names]
    ok = [i for i in idx if obs.mask[i] and np.isfinite(f[i])]
    if ok:  # one visible wrist is enough
        p = _sig(max(f[i] for i in ok), WRIST_SPEED)
        dists[1] = np.array([1.0 - p, p])
        w[1] = float(max(obs.confidence[i] for i in ok))
    c = _conf(obs, ("motion_energy",))
    if c > 0:
        p = _sig(f[FEATURE_INDEX["motion_energy"]], MOTION_ENERGY)
        dists[2] = np.array([1.0 - p, p])
        w[2] = c
    c = _conf(obs, ("facing",))
    if c > 0:
        p = _sig(f[FEATURE_INDEX["facing"]], FACING)
        dists[3] = np.array([1.0 - p, p])
        w[3] = c
    # Events: an outcome whenever the person is tracked ("none" is an outcome too). Perception reports each event
    # twice (detected, then complete); only the detection counts, so one nod is one outcome.
    detected = {e.kind for e in obs.events if not getattr(e, "complete", False)}
    tracked = bool(np.any(obs.mask))
    if tracked or detected:
        ev = np.array([0.0] + [1.0 if k in detected else 0.0 for k in ("nod", "shake", "gesture")])
        if ev.sum() == 0:
            ev[0] = 1.0
        dists[4] = ev / ev.sum()
        conf = obs.confidence[obs.mask] if tracked else np.zeros(0)
        w[4] = 1.0 if detected else (float(np.max(conf)) if conf.size else 0.0)
    # Speech: only in sessions with audio (obs.speaking None = no ears); a pause cue this frame, else the VAD gate.
    if obs.speaking is not None:
        k = 2 if any(e in PAUSE_CUES for e in obs.speech_events) else (1 if obs.speaking else 0)
        dists[SPEECH] = np.eye(3)[k]
        w[SPEECH] = SPEECH_PRECISION
    w = np.where(np.isfinite(w), np.clip(w, 0.0, 1.0), 0.0)
    return SoftOutcomes(dists=dists, weights=w)
