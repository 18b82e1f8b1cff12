"""Synthetic landmark streams with known nods, head shakes and hand gestures (ground truth for the detectors).

A small kinematic model of a seated person (hip-centred skeleton, head rotating about the atlas joint, arms moving
the wrist along minimum-jerk paths) seen by a pinhole camera, plus MediaPipe-like noise: a shared, slowly drifting
offset and small independent per-landmark jitter. Calibration: MediaPipe on messi5.jpg / basketball1.png with
per-frame sensor noise and sub-pixel shifts gave head landmarks jittering ~0.5-1 px each, mostly together, and raw
head angles with sd 0.005-0.012 rad; the defaults here give ~0.013 rad (a little noisier). Also: rare outliers, uneven frame intervals, skipped frames and
drop-outs (frames with no person). Nods follow Mori, Den & Jokinen 2025 (PLoS One): 1-4 down-up cycles whose
magnitude declines with position and whose final cycle is smaller still ("final lowering").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from perception.types import LM, NUM_LANDMARKS, HumanEvent, PoseFrame

# Neutral skeleton in MediaPipe world axes (metres, origin between the hips, x to the image right, y down, z away
# from the camera); the person faces the camera, so their left side is on the image right.
_BODY = np.zeros((NUM_LANDMARKS, 3))
for _name, _xyz in {
    "left_shoulder": (0.18, -0.50, 0.0), "right_shoulder": (-0.18, -0.50, 0.0),
    "left_elbow": (0.22, -0.24, -0.02), "right_elbow": (-0.22, -0.24, -0.02),
    "left_wrist": (0.16, -0.06, -0.20), "right_wrist": (-0.16, -0.06, -0.20),
    "left_hip": (0.10, 0.0, 0.0), "right_hip": (-0.10, 0.0, 0.0),
    "left_knee": (0.11, 0.02, -0.42), "right_knee": (-0.11, 0.02, -0.42),
    "left_ankle": (0.11, 0.45, -0.45), "right_ankle": (-0.11, 0.45, -0.45),
    "left_heel": (0.11, 0.50, -0.42), "right_heel": (-0.11, 0.50, -0.42),
    "left_foot_index": (0.11, 0.50, -0.58), "right_foot_index": (-0.11, 0.50, -0.58),
}.items():
    _BODY[LM[_name]] = _xyz
_HAND_OFFSETS = {"pinky": (0.03, 0.05, -0.02), "index": (0.0, 0.06, -0.04), "thumb": (-0.02, 0.03, -0.04)}
_HEAD_PIVOT = np.array([0.0, -0.62, 0.0])
_HEAD = {  # relative to the head pivot, head looking at the camera
    "nose": (0.0, -0.07, -0.11),
    "left_eye_inner": (0.015, -0.10, -0.09), "left_eye": (0.032, -0.10, -0.085), "left_eye_outer": (0.045, -0.10, -0.075),
    "right_eye_inner": (-0.015, -0.10, -0.09), "right_eye": (-0.032, -0.10, -0.085),
    "right_eye_outer": (-0.045, -0.10, -0.075),
    "left_ear": (0.075, -0.08, 0.0), "right_ear": (-0.075, -0.08, 0.0),
    "mouth_left": (0.025, -0.02, -0.09), "mouth_right": (-0.025, -0.02, -0.09),
}
_HEAD_IDX = np.array([LM[n] for n in _HEAD])
_HEAD_REL = np.array(list(_HEAD.values()))
_LEGS = np.arange(LM["left_knee"], NUM_LANDMARKS)


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate: duration, which event kinds to script, noise and drop-out levels."""

    duration_s: float = 60.0
    fps: float = 30.0
    kinds: tuple[str, ...] = ("nod", "shake", "gesture")  # empty: a still (idle) stream with the same noise
    mean_gap_s: float = 2.0  # mean still time between scripted events (plus a 1 s minimum)
    image_size: tuple[int, int] = (640, 480)
    focal_px: float = 600.0
    hip_depth_m: float = 1.4
    common_jitter_px: float = 1.5  # shared drift of all landmarks (AR(1), ~0.3 s correlation)
    landmark_jitter_px: float = 0.5  # independent per landmark and frame: raw head-angle sd ~0.013 rad
    depth_jitter_px: float = 6.0  # image z is far noisier than x, y
    world_jitter_m: float = 0.005
    outlier_prob: float = 0.002  # per landmark and frame: a jump of 6 x landmark_jitter_px
    frame_drop_prob: float = 0.03  # frames the camera skipped (timestamp gap)
    dropout_rate_hz: float = 1.0 / 15.0  # bursts of frames without a person, placed between scripted events
    dropout_s: tuple[float, float] = (0.1, 0.6)
    idle_motion: bool = True  # breathing, sway and slow head drift

    def __post_init__(self) -> None:
        if not self.duration_s > 0 or not self.fps > 0:
            raise ValueError("SyntheticSpec.duration_s and fps must be > 0")
        unknown = set(self.kinds) - {"nod", "shake", "gesture"}
        if unknown:
            raise ValueError(f"SyntheticSpec.kinds has unknown kinds {sorted(unknown)}; use nod, shake, gesture")


@dataclass
class SyntheticStream:
    """Generated PoseFrames and the ground-truth events (onset = movement start, offset = movement end)."""

    frames: list[PoseFrame]
    truth: list[HumanEvent]
    spec: SyntheticSpec = field(default_factory=SyntheticSpec)


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """R = Ry(yaw) Rx(pitch) Rz(roll) in camera axes: + pitch = chin down, + yaw = to the person's left."""
    cy, sy, cp, sp, cr, sr = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch), math.cos(roll), math.sin(roll)
    ry = np.array([[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]])
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    rz = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    return ry @ rx @ rz


def min_jerk(s: np.ndarray) -> np.ndarray:
    """Minimum-jerk position profile 10s^3 - 15s^4 + 6s^5 on s in [0, 1] (Flash & Hogan 1985, Eq. 2)."""
    s = np.clip(s, 0.0, 1.0)
    return s**3 * (10.0 - 15.0 * s + 6.0 * s**2)


@dataclass
class _Script:
    pitch: np.ndarray
    yaw: np.ndarray
    roll: np.ndarray
    wrist: np.ndarray  # [T, 2, 3] offsets of left/right wrist (m)
    truth: list[HumanEvent]
    busy: list[tuple[float, float]]


def _smooth_noise(rng: np.random.Generator, n: int, dt: float, sd: float, tau: float) -> np.ndarray:
    """Stationary AR(1) noise with standard deviation sd and correlation time tau."""
    a = math.exp(-dt / tau)
    out = np.empty(n)
    x = rng.normal(0.0, sd)
    e = rng.normal(0.0, sd * math.sqrt(1.0 - a * a), n)
    for i in range(n):
        x = a * x + e[i]
        out[i] = x
    return out


def _script(spec: SyntheticSpec, t: np.ndarray, rng: np.random.Generator) -> _Script:
    n = len(t)
    dt = 1.0 / spec.fps
    pitch, yaw, roll = np.zeros(n), np.zeros(n), np.zeros(n)
    wrist = np.zeros((n, 2, 3))
    if spec.idle_motion:
        pitch += _smooth_noise(rng, n, dt, 0.015, 2.0)
        yaw += _smooth_noise(rng, n, dt, 0.02, 2.0)
        roll += _smooth_noise(rng, n, dt, 0.01, 2.0)
    truth: list[HumanEvent] = []
    busy: list[tuple[float, float]] = []
    clock = 1.0 + rng.exponential(spec.mean_gap_s)
    while spec.kinds:
        kind = str(rng.choice(spec.kinds))
        start = clock
        if kind == "nod":
            cycles = int(rng.choice([1, 2, 3, 4], p=[0.35, 0.3, 0.2, 0.15]))
            mag = rng.uniform(0.10, 0.30)
            mags = [mag * (0.85**k) for k in range(cycles)]  # declination
            if cycles > 1:
                mags[-1] *= 0.75  # final lowering
            mags = [max(m, 0.08) for m in mags]
            period = rng.uniform(0.3, 0.8)
            s = start
            for m in mags:
                per = period * rng.uniform(0.85, 1.15)
                sel = (t >= s) & (t < s + per)
                pitch[sel] += m * 0.5 * (1.0 - np.cos(2.0 * math.pi * (t[sel] - s) / per))  # down then up
                s += per
            end = s
            truth.append(HumanEvent("nod", start, end, cycles, max(mags), complete=True))
        elif kind == "shake":
            half = int(rng.integers(3, 7))  # 1.5-3 cycles
            amp = rng.uniform(0.12, 0.35)
            sign = 1.0 if rng.random() < 0.5 else -1.0
            period = rng.uniform(0.35, 0.8)
            s = start
            for k in range(half):
                per2 = 0.5 * period * rng.uniform(0.85, 1.15)
                sel = (t >= s) & (t < s + per2)
                a = amp * (0.9**k) * sign * (-1.0) ** k
                yaw[sel] += a * np.sin(math.pi * (t[sel] - s) / per2)
                s += per2
            end = s
            truth.append(HumanEvent("shake", start, end, (half + 1) // 2, 2 * amp, complete=True))
        else:
            arms = [[0], [1], [0, 1]][int(rng.choice(3, p=[0.4, 0.4, 0.2]))]
            reach = rng.uniform(0.2, 0.45)
            direction = np.array([rng.uniform(-0.2, 0.5), rng.uniform(-1.0, -0.4), rng.uniform(-0.8, -0.2)])
            direction /= np.linalg.norm(direction)
            t_out, t_hold, t_back = rng.uniform(0.3, 0.6), rng.uniform(0.0, 0.4), rng.uniform(0.35, 0.7)
            beats = int(rng.integers(0, 3))
            beat_f, beat_a = rng.uniform(2.0, 3.0), rng.uniform(0.04, 0.08)
            t_beats = beats / beat_f
            end = start + t_out + t_beats + t_hold + t_back
            path = np.zeros(n)
            path += min_jerk((t - start) / t_out)
            path -= min_jerk((t - (start + t_out + t_beats + t_hold)) / t_back)
            beat = np.where(
                (t >= start + t_out) & (t < start + t_out + t_beats),
                beat_a * np.sin(2.0 * math.pi * beat_f * (t - start - t_out)),
                0.0,
            )
            for arm in arms:
                mirror = np.array([1.0 if arm == 0 else -1.0, 1.0, 1.0])
                wrist[:, arm, :] += (reach * path + beat)[:, None] * (direction * mirror)[None, :]
            truth.append(HumanEvent("gesture", start, end, 1 + beats, reach, complete=True))
        busy.append((start, end))
        clock = end + 1.0 + rng.exponential(spec.mean_gap_s)
        if clock > spec.duration_s - 2.5:
            break
    return _Script(pitch, yaw, roll, wrist, truth, busy)


def _skeleton(pitch: float, yaw: float, roll: float, wrist: np.ndarray, sway: np.ndarray) -> np.ndarray:
    """World landmarks [33, 3] of the posed skeleton."""
    pts = _BODY.copy()
    pts[_HEAD_IDX] = _HEAD_PIVOT + _HEAD_REL @ _rotation(pitch, yaw, roll).T
    for arm, side in enumerate(("left", "right")):
        w = pts[LM[f"{side}_wrist"]] + wrist[arm]
        pts[LM[f"{side}_wrist"]] = w
        sh = pts[LM[f"{side}_shoulder"]]
        bend = np.array([0.08 if side == "left" else -0.08, 0.04, 0.02])
        pts[LM[f"{side}_elbow"]] = (sh + w) / 2.0 + bend
        sign = 1.0 if side == "left" else -1.0
        for part, off in _HAND_OFFSETS.items():
            pts[LM[f"{side}_{part}"]] = w + np.array(off) * np.array([sign, 1.0, 1.0])
    pts[: LM["left_hip"]] += sway  # upper body sways over the hips
    return pts


def generate(spec: SyntheticSpec = SyntheticSpec(), seed: int = 0) -> SyntheticStream:
    """A deterministic synthetic stream for `seed`: PoseFrames (with noise and drop-outs) plus ground-truth events."""
    rng = np.random.default_rng(seed)
    dt = 1.0 / spec.fps
    t = np.arange(0.0, spec.duration_s, dt)
    n = len(t)
    script = _script(spec, t, rng)
    w, h = spec.image_size
    f = spec.focal_px
    hip_cam = np.array([0.0, 0.45, spec.hip_depth_m])
    sway = np.zeros((n, 3))
    if spec.idle_motion:
        sway[:, 0] = _smooth_noise(rng, n, dt, 0.008, 3.0)
        sway[:, 1] = 0.003 * np.sin(2.0 * math.pi * 0.25 * t)  # breathing
    common = np.stack([_smooth_noise(rng, n, dt, spec.common_jitter_px, 0.3) for _ in range(3)], axis=1)
    common[:, 2] *= spec.depth_jitter_px / max(spec.common_jitter_px, 1e-9)

    # Drop-outs: bursts without a person, between scripted events.
    no_person = np.zeros(n, bool)
    n_drop = rng.poisson(spec.dropout_rate_hz * spec.duration_s)
    for _ in range(n_drop):
        length = rng.uniform(*spec.dropout_s)
        for _try in range(20):
            s0 = rng.uniform(0.0, max(spec.duration_s - length, 0.0))
            if all(s0 + length < a - 0.5 or s0 > b + 0.5 for a, b in script.busy):
                no_person[(t >= s0) & (t < s0 + length)] = True
                break
    skipped = rng.random(n) < spec.frame_drop_prob

    frames: list[PoseFrame] = []
    vis_base = np.full(NUM_LANDMARKS, 0.98)
    vis_base[_LEGS] = 0.15  # out of frame below the desk
    for i in range(n):
        if skipped[i]:
            continue
        ti = float(t[i] + rng.uniform(-0.003, 0.003))
        if no_person[i]:
            frames.append(PoseFrame.empty(ti, (w, h), frame_index=i))
            continue
        world = _skeleton(script.pitch[i], script.yaw[i], script.roll[i], script.wrist[i], sway[i])
        cam = world + hip_cam
        x = f * cam[:, 0] / cam[:, 2] + w / 2.0
        y = f * cam[:, 1] / cam[:, 2] + h / 2.0
        z = f * (cam[:, 2] - hip_cam[2]) / hip_cam[2]
        px = np.stack([x, y, z], axis=1)
        noise = rng.normal(0.0, spec.landmark_jitter_px, (NUM_LANDMARKS, 3))
        noise[:, 2] *= spec.depth_jitter_px / max(spec.landmark_jitter_px, 1e-9) * 0.3
        out = rng.random(NUM_LANDMARKS) < spec.outlier_prob
        angle = rng.uniform(0.0, 2.0 * math.pi, NUM_LANDMARKS)
        jump = 6.0 * spec.landmark_jitter_px * np.stack([np.cos(angle), np.sin(angle)], axis=1)
        noise[out, :2] += jump[out]
        px = px + noise + common[i]
        lm = np.empty((NUM_LANDMARKS, 4), np.float32)
        lm[:, 0] = px[:, 0] / w
        lm[:, 1] = px[:, 1] / h
        lm[:, 2] = px[:, 2] / w
        lm[:, 3] = np.clip(vis_base + rng.normal(0.0, 0.02, NUM_LANDMARKS), 0.0, 1.0)
        world_noisy = (world + rng.normal(0.0, spec.world_jitter_m, world.shape)).astype(np.float32)
        frames.append(PoseFrame(t=ti, landmarks=lm, world=world_noisy, image_size=(w, h), valid=True, frame_index=i))
    return SyntheticStream(frames=frames, truth=script.truth, spec=spec)
