"""Synthetic landmark streams with known nods, head shakes and hand gestures (ground truth for the detectors).

A small kinematic model of a seated person (hip-centred skeleton, head rotating about the atlas joint, arms moving
the wrist along minimum-jerk paths) seen by a pinhole camera, plus MediaPipe-like noise: a shared, slowly drifting
offset and small independent per-landmark jitter. Calibration: MediaPipe on messi5.jpg / basketball1.png with
per-frame sensor noise and sub-pixel shifts gave head landmarks jittering ~0.5-1 px each, mostly together, and raw
head angles with sd 0.005-0.012 rad; the defaults here give ~0.013 rad (a little noisier). Also: rare outliers,
uneven frame intervals, skipped frames and drop-outs (frames with no person). Nods follow Mori, Den & Jokinen 2025
(PLoS One): 1-4 down-up cycles (single nods included, at a configurable share) whose first-cycle magnitude grows
with the nod's length ("anticipatory rising"), declines with position ("declination") and whose final cycle is
smaller still ("final lowering"); each movement is a minimum-jerk stroke with an uneven down/up split, cycle
durations vary per nod and per cycle, and the head may settle a little off its starting pitch. Negatives: "lookdown"
scripts a slow look down, a hold and a return (a posture change, which must not be read as a nod).
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
    "left_eye_inner": (0.015, -0.10, -0.09), "left_eye": (0.032, -0.10, -0.085),
    "left_eye_outer": (0.045, -0.10, -0.075),
    "right_eye_inner": (-0.015, -0.10, -0.09), "right_eye": (-0.032, -0.10, -0.085),
    "right_eye_outer": (-0.045, -0.10, -0.075),
    "left_ear": (0.075, -0.08, 0.0), "right_ear": (-0.075, -0.08, 0.0),
    "mouth_left": (0.025, -0.02, -0.09), "mouth_right": (-0.025, -0.02, -0.09),
}
_HEAD_IDX = np.array([LM[n] for n in _HEAD])
_HEAD_REL = np.array(list(_HEAD.values()))
_LEGS = np.arange(LM["left_knee"], NUM_LANDMARKS)
SCRIPTED_KINDS: tuple[str, ...] = ("nod", "shake", "gesture", "lookdown")


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate: duration, which event kinds to script, noise and drop-out levels."""

    duration_s: float = 60.0
    fps: float = 30.0
    kinds: tuple[str, ...] = ("nod", "shake", "gesture")  # empty: a still (idle) stream with the same noise
    mean_gap_s: float = 2.0  # mean still time between scripted events (plus a 1 s minimum)
    # Nods. Share of 1, 2, 3, 4-cycle nods: single nods first, as the most common backchannel.
    nod_cycle_weights: tuple[float, float, float, float] = (0.4, 0.3, 0.2, 0.1)
    # Duration of one down-up cycle, drawn per nod (then +-15 % per cycle).
    nod_cycle_s: tuple[float, float] = (0.2, 1.0)
    nod_magnitude: tuple[float, float] = (0.08, 0.30)  # rad, first-cycle magnitude (~4.6-17 degrees)
    nod_min_magnitude: float = 0.06  # rad: later cycles shrink (declination) but not below this
    nod_settle: float = 0.15  # the head comes to rest within this fraction of the magnitude of its starting pitch
    # Look-downs (negatives for the nod detector): pitch lowered by this much, over ramp_s, held, then raised again.
    lookdown_depth: tuple[float, float] = (0.12, 0.45)
    lookdown_ramp_s: tuple[float, float] = (0.5, 1.5)
    lookdown_hold_s: tuple[float, float] = (1.5, 5.0)
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
        unknown = set(self.kinds) - set(SCRIPTED_KINDS)
        if unknown:
            raise ValueError(
                f"SyntheticSpec.kinds has unknown kinds {sorted(unknown)}; use {', '.join(SCRIPTED_KINDS)}")
        w = self.nod_cycle_weights
        if len(w) != 4 or min(w) < 0 or not sum(w) > 0:
            raise ValueError("SyntheticSpec.nod_cycle_weights needs 4 weights >= 0 (1-4 cycles) with a positive sum")
        for name in ("nod_cycle_s", "nod_magnitude", "lookdown_depth", "lookdown_ramp_s", "lookdown_hold_s"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"SyntheticSpec.{name} must be (low, high) with 0 < low <= high, got {(lo, hi)!r}")
        if not self.nod_min_magnitude > 0:
            raise ValueError(f"SyntheticSpec.nod_min_magnitude must be > 0, got {self.nod_min_magnitude!r}")
        if not 0 <= self.nod_settle < 1:
            raise ValueError(f"SyntheticSpec.nod_settle must be in [0, 1), got {self.nod_settle!r}")


@dataclass
class SyntheticStream:
    """Generated PoseFrames and the ground-truth events (onset = movement start, offset = movement end)."""

    frames: list[PoseFrame]
    truth: list[HumanEvent]
    spec: SyntheticSpec = field(default_factory=SyntheticSpec)
    lookdowns: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of scripted look-downs: no event


def _rotation(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """R = Ry(yaw) Rx(pitch) Rz(roll) in camera axes: + pitch = chin down, + yaw = to the person's left."""
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
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
    lookdowns: list[tuple[float, float]]


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


def _script_nod(
    spec: SyntheticSpec, t: np.ndarray, pitch: np.ndarray, start: float, rng: np.random.Generator
) -> tuple[float, int, float]:
    """Add one nod starting at `start` to `pitch` (in place); returns (end time, cycles, largest cycle magnitude).

    Structure after Mori, Den & Jokinen 2025 (PLoS One 20(5):e0323448): a cycle is one down and one up movement;
    the first cycle is larger in longer nods (anticipatory rising), magnitudes fall with position (declination),
    and the last cycle of a multi-cycle nod is smaller again (final lowering). Each movement is a minimum-jerk
    stroke (Flash & Hogan 1985, Eq. 2) with an uneven down/up split of the cycle.
    """
    w = np.asarray(spec.nod_cycle_weights, float)
    cycles = int(rng.choice([1, 2, 3, 4], p=w / w.sum()))
    first = rng.uniform(*spec.nod_magnitude) * (1.0 + 0.08 * (cycles - 1))  # anticipatory rising
    mags = [first * (0.85**k) for k in range(cycles)]  # declination
    if cycles > 1:
        mags[-1] *= 0.75  # final lowering
    mags = [max(m, spec.nod_min_magnitude) for m in mags]
    lo, hi = spec.nod_cycle_s
    period = rng.uniform(lo, hi)
    s = start
    for k, m in enumerate(mags):
        per = float(np.clip(period * rng.uniform(0.85, 1.15), lo, hi))
        down = per * rng.uniform(0.35, 0.6)  # the down stroke takes 35-60 % of the cycle
        # the last up stroke may stop short of, or overshoot, the starting pitch; the offset then relaxes (tau 3 s)
        rest = m * rng.uniform(-spec.nod_settle, spec.nod_settle) if k == cycles - 1 else 0.0
        sel = (t >= s) & (t < s + per)
        tt = t[sel] - s
        up = m - (m - rest) * min_jerk((tt - down) / (per - down))
        pitch[sel] += np.where(tt < down, m * min_jerk(tt / down), up)
        if rest:
            after = t >= s + per
            pitch[after] += rest * np.exp(-(t[after] - (s + per)) / 3.0)
        s += per
    return s, cycles, max(mags)


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
    lookdowns: list[tuple[float, float]] = []
    clock = 1.0 + rng.exponential(spec.mean_gap_s)
    while spec.kinds:
        kind = str(rng.choice(spec.kinds))
        start = clock
        if kind == "nod":
            end, cycles, magnitude = _script_nod(spec, t, pitch, start, rng)
            truth.append(HumanEvent("nod", start, end, cycles, magnitude, complete=True))
        elif kind == "lookdown":
            depth = rng.uniform(*spec.lookdown_depth)
            down, hold, up = rng.uniform(*spec.lookdown_ramp_s), rng.uniform(*spec.lookdown_hold_s), rng.uniform(
                *spec.lookdown_ramp_s)
            end = start + down + hold + up
            pitch += depth * (min_jerk((t - start) / down) - min_jerk((t - (start + down + hold)) / up))
            lookdowns.append((start, end))
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
    return _Script(pitch, yaw, roll, wrist, truth, busy, lookdowns)


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
    return SyntheticStream(frames=frames, truth=script.truth, spec=spec, lookdowns=script.lookdowns)
