"""Human gesture events from the Observation stream: nods (pitch cycles), head shakes (yaw cycles), hand gestures.

A nod is a run of up-down pitch cycles; a cycle is one consecutive upward and downward movement, its magnitude the
difference between the lowest and highest head position within it, its length the number of cycles (Mori, Den &
Jokinen 2025, "Structure of nods in conversation", PLoS One 20(5):e0323448). Shakes are the same structure on yaw.
Hand gestures are bursts of wrist speed found with two thresholds (hysteresis).

Each event is reported when detected (complete=False; its onset may lie in the past) and again when it ends
(complete=True, with offset, cycle count and magnitude).
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from perception.gate import AttentionGate, GateParams, GateState
from perception.types import FEATURE_INDEX, HumanEvent, Observation, PoseFrame

ONSET_MODELS: tuple[str, ...] = ("threshold", "min_jerk")


def min_jerk_fraction_time(fraction: float) -> float:
    """s in (0, 0.5] at which a minimum-jerk stroke 10s^3 - 15s^4 + 6s^5 has covered `fraction` of its amplitude
    (Flash & Hogan 1985, Eq. 2; the profile is monotone on [0, 1], so bisection is exact to float precision)."""
    lo, hi = 0.0, 0.5
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if mid**3 * (10.0 - 15.0 * mid + 6.0 * mid * mid) < fraction:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class OscillationParams:
    """Thresholds for a run of back-and-forth head swings (angles in rad, times in s)."""

    min_amplitude: float  # the first swing of a run must be at least this large
    hysteresis: float  # reversal that confirms a turning point; above filtered jitter, below min_amplitude
    min_swing_s: float  # shorter swings are tracking glitches
    max_swing_s: float  # longer swings are posture changes (looking down at notes), not nods/shakes
    max_pause_s: float  # a still pause longer than this ends the run
    min_swings: int  # swings needed before the event is reported
    onset_fraction: float = 0.15  # onset = last time the angle was within this fraction of the first swing of rest
    return_fraction: float = 0.5  # the last, unconfirmed swing counts once it has come back this fraction
    # A later confirmed swing must cover this fraction of the swing before it (and at least the hysteresis). The
    # cycles of a nod shrink by only ~15-35 % each (declination, final lowering: Mori et al. 2025), while jitter on
    # a posture held after a look-down is a small fraction of the look-down. 0: the hysteresis alone.
    continue_fraction: float = 0.0
    max_missing_s: float = 0.3  # a longer tracking gap ends the run
    first_direction: int = 0  # +1 / -1: a run must begin with the angle rising / falling; 0: either way
    # The first swing must also exceed noise_factor x the local jitter: the median |frame-to-frame change| / sqrt(dt)
    # (rad/sqrt(s)) over the noise_window_s before it. Head-angle jitter grows when the head is turned away (a held
    # look-down at ~0.4 rad measured ~2x the frontal level on synthetic MediaPipe-like landmarks). 0: off.
    noise_factor: float = 0.0
    noise_window_s: float = 1.0
    # The first swing's mean speed (amplitude / time from onset to peak, rad/s) must reach this: a nod is a quick
    # stroke, a wobble of a held posture drifts. 0: off.
    min_speed: float = 0.0
    # A swing that follows a long rest is measured over the last max_swing_s; it counts only if the angle rested near
    # its start level for edge_rest_s before that window (else it is the tail of a slow posture change). 0: only the
    # window's first sample is checked.
    edge_rest_s: float = 0.0
    onset_model: str = "threshold"  # "min_jerk": extrapolate the onset back along a minimum-jerk stroke

    def __post_init__(self) -> None:
        positive = ("min_amplitude", "hysteresis", "min_swing_s", "max_swing_s", "max_pause_s", "max_missing_s",
                    "noise_window_s")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"OscillationParams.{name} must be > 0, got {getattr(self, name)!r}")
        if self.hysteresis > self.min_amplitude:
            raise ValueError("OscillationParams.hysteresis must not exceed min_amplitude")
        if self.min_swing_s >= self.max_swing_s:
            raise ValueError("OscillationParams.min_swing_s must be below max_swing_s")
        if self.min_swings < 1:
            raise ValueError(f"OscillationParams.min_swings must be >= 1, got {self.min_swings!r}")
        if not self.edge_rest_s >= 0:
            raise ValueError(f"OscillationParams.edge_rest_s must be >= 0, got {self.edge_rest_s!r}")
        if not self.min_speed >= 0:
            raise ValueError(f"OscillationParams.min_speed must be >= 0, got {self.min_speed!r}")
        if not self.noise_factor >= 0:
            raise ValueError(f"OscillationParams.noise_factor must be >= 0, got {self.noise_factor!r}")
        if not 0.0 <= self.continue_fraction < 1.0:
            raise ValueError(f"OscillationParams.continue_fraction must be in [0, 1), got {self.continue_fraction!r}")
        for name in ("onset_fraction", "return_fraction"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ValueError(f"OscillationParams.{name} must be in (0, 1), got {getattr(self, name)!r}")
        if self.first_direction not in (-1, 0, 1):
            raise ValueError(f"OscillationParams.first_direction must be -1, 0 or 1, got {self.first_direction!r}")
        if self.onset_model not in ONSET_MODELS:
            raise ValueError(f"OscillationParams.onset_model must be one of {', '.join(ONSET_MODELS)}, "
                             f"got {self.onset_model!r}")


# Nods: a nod is >= 1 down-up cycle (Mori et al. 2025), so one cycle = two swings is reported: min_swings=2, and a
# run must begin with the chin going down (first_direction=+1, pitch + = chin down), so a look up and back is no nod.
# Amplitudes are of the pitch the detector sees, i.e. after the One-Euro filter (min_cutoff 0.1 Hz, beta 40):
# measured on synthetic streams, a fast single nod (0.2-0.3 s, 0.08-0.1 rad) reaches only ~0.04 rad there, while
# filtered still streams with MediaPipe-like jitter and idle drift never showed a down-up pair with both swings
# above 0.03 rad; hence min_amplitude 0.035 and hysteresis 0.018. noise_factor 10 (frontal jitter ~0.01 rad/sqrt(s))
# removed every false nod on 18 min of held look-downs (0.83/min without it; 6 still let 4 in 12 min through), at
# the cost of 1 of 95 single nods. min_speed 0.1 rad/s: the slowest scripted nod (0.08 rad down in 0.6 s) moves at
# 0.13 rad/s; the one held-look-down wobble that still passed the jitter test (seeds 400-405) drifted at 0.08 rad/s.
# continue_fraction 0.2: the filter shrinks a later, faster cycle to ~0.4 of the swing before it, so 0.4 split
# 2-4-cycle nods in two. Swings of 0.07-0.6 s cover cycles of ~0.2-1.0 s with an uneven down/up split. The onset
# is extrapolated along a minimum-jerk stroke (onset_model): a threshold crossing alone came ~0.2 x the cycle
# late (mean +165 ms, up to 250 ms on 0.85-1.0-s nods).
NOD_DEFAULTS = OscillationParams(
    min_amplitude=0.035, hysteresis=0.018, min_swing_s=0.07, max_swing_s=0.6, max_pause_s=0.4, min_swings=2,
    return_fraction=0.4, continue_fraction=0.2, first_direction=1, onset_model="min_jerk", noise_factor=10.0,
    min_speed=0.1, edge_rest_s=0.2,
)
# Shakes: yaw is measured less precisely than pitch (the nose moves across the ears), hence a larger threshold;
# a turn-away-and-back is a glance, so a shake needs a second reversal (three swings: e.g. left, right, centre).
# Either direction may come first. Threshold onsets are kept: they measured within ~20 ms of the scripted onsets.
SHAKE_DEFAULTS = OscillationParams(
    min_amplitude=0.08, hysteresis=0.04, min_swing_s=0.07, max_swing_s=0.7, max_pause_s=0.4, min_swings=3
)


@dataclass(frozen=True)
class GestureParams:
    """Wrist-speed burst detection with hysteresis (speeds in shoulder widths per second, times in s)."""

    on_speed: float = 1.0  # a hand moving a shoulder width per second is gesturing, well above resting tremor
    off_speed: float = 0.4  # the burst ends below this; the gap to on_speed keeps one stroke from splitting
    min_on_s: float = 0.08  # the speed must stay above on_speed this long (2-3 frames) so one spike is no gesture
    # the speed must stay below off_speed this long to end it, so a post-stroke hold (up to ~0.5 s) stays one gesture
    min_off_s: float = 0.6
    max_missing_s: float = 0.4  # wrists out of view longer than this end the burst
    lookback_s: float = 1.0  # how far back the onset (last time below off_speed) is searched

    def __post_init__(self) -> None:
        if not 0 < self.off_speed < self.on_speed:
            raise ValueError("GestureParams needs 0 < off_speed < on_speed")
        for name in ("min_on_s", "min_off_s", "max_missing_s", "lookback_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"GestureParams.{name} must be > 0, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class EventParams:
    """All event-detector parameters; the defaults are documented where they are defined."""

    nod: OscillationParams = NOD_DEFAULTS
    shake: OscillationParams = SHAKE_DEFAULTS
    gesture: GestureParams = field(default_factory=GestureParams)
    gate: GateParams = field(default_factory=GateParams)  # who head and hand events are read from


def _crossing(seg: np.ndarray, progress: np.ndarray, i: int, level: float) -> float:
    """Time at which progress crosses `level` between samples i and i + 1 (linear interpolation)."""
    if i + 1 >= len(seg) or progress[i + 1] == progress[i]:
        return float(seg[i, 0])
    w = float(np.clip((level - progress[i]) / (progress[i + 1] - progress[i]), 0.0, 1.0))
    return float(seg[i, 0] + w * (seg[i + 1, 0] - seg[i, 0]))


@dataclass
class _Point:
    t: float
    x: float


class OscillationDetector:
    """Zig-zag turning-point tracker on one angle; reports runs of valid swings as events of one kind."""

    def __init__(self, kind: str, params: OscillationParams) -> None:
        self.kind = kind
        self.p = params
        self.reset()

    def reset(self) -> None:
        self._buf: deque[tuple[float, float]] = deque()
        self._anchor: _Point | None = None  # last confirmed turning point
        self._cand: _Point | None = None  # running extreme since the anchor
        self._dir = 0  # +1 looking for a maximum, -1 for a minimum
        self._hi: _Point | None = None
        self._lo: _Point | None = None
        self._run: list[tuple[float, float, float]] = []  # swings: (t_start, t_end, amplitude)
        self._reported = False
        self._consumed_until = -math.inf
        self._last_t: float | None = None
        self._gap_since: float | None = None
        self._last_prov: tuple[float, float] | None = None  # the last swing counted provisionally
        self._recent: deque[tuple[float, float]] = deque(maxlen=3)

    def _refine_start(self, start: _Point, peak: _Point) -> float:
        """Last sample before the peak still within onset_fraction of the swing from its start level."""
        tol = self.p.onset_fraction * abs(peak.x - start.x)
        for t, x in reversed(self._buf):
            if t <= peak.t and abs(x - start.x) <= tol:
                return max(t, start.t)
        return start.t

    def _jitter(self, t: float) -> float:
        """Median |frame-to-frame change| / sqrt(dt) over noise_window_s before t (rad/sqrt(s)); 0 if too few."""
        arr = np.asarray(self._buf)
        seg = arr[(arr[:, 0] >= t - self.p.noise_window_s) & (arr[:, 0] <= t)]
        if len(seg) < 6:
            return 0.0
        dt = np.diff(seg[:, 0])
        return float(np.median(np.abs(np.diff(seg[:, 1])) / np.sqrt(np.maximum(dt, 1e-3))))

    def _onset(self, start: _Point, peak: _Point) -> tuple[float, float]:
        """(threshold crossing, onset) of the first swing of a run, start -> peak.

        The crossing is the last sample within onset_fraction of the swing from its start level (_refine_start).
        With onset_model "min_jerk" the onset is moved back along a minimum-jerk stroke: such a stroke covers the
        fraction f at s_f of its duration D and 1 - f at 1 - s_f (Flash & Hogan 1985, Eq. 2), so with the crossing
        times t_f and t_(1-f) measured on the swing, D = (t_(1-f) - t_f) / (1 - 2 s_f) and the movement began at
        t_f - s_f D. A plain threshold onset comes ~s_f D late (> 200 ms on a slow 1-s nod).
        """
        t_cross = self._refine_start(start, peak)
        if self.p.onset_model != "min_jerk" or peak.x == start.x:
            return t_cross, t_cross
        f = self.p.onset_fraction
        arr = np.asarray(self._buf)
        seg = arr[(arr[:, 0] >= start.t) & (arr[:, 0] <= peak.t)]
        if len(seg) < 2:
            return t_cross, t_cross
        progress = (seg[:, 1] - start.x) / (peak.x - start.x)  # 0 at the start level, 1 at the peak
        lo = np.flatnonzero(progress <= f)
        i = int(lo[-1]) if lo.size else 0
        hi = np.flatnonzero(progress[i:] >= 1.0 - f)
        if not hi.size or i + int(hi[0]) == 0:
            return t_cross, t_cross
        j = i + int(hi[0])
        t_f = _crossing(seg, progress, i, f)
        t_1f = _crossing(seg, progress, j - 1, 1.0 - f)
        s_f = min_jerk_fraction_time(f)
        onset = t_f - s_f * (t_1f - t_f) / (1.0 - 2.0 * s_f)
        return t_cross, max(start.t, min(onset, t_cross))

    def _refine_end(self, start: _Point, end: _Point) -> float:
        """First sample after start that came within onset_fraction of the swing's end level."""
        tol = self.p.onset_fraction * abs(end.x - start.x)
        for t, x in self._buf:
            if start.t < t <= end.t and abs(x - end.x) <= tol:
                return t
        return end.t

    def _provisional(self, t: float) -> tuple[float, float] | None:
        """The unconfirmed swing anchor -> running extreme, if it already counts: (t_end, amplitude)."""
        if not self._run or self._anchor is None or self._cand is None:
            return None
        amp = abs(self._cand.x - self._anchor.x)
        last_amp = self._run[-1][2]
        if amp >= self.p.return_fraction * last_amp and self._cand.t - self._anchor.t <= self.p.max_swing_s:
            return self._refine_end(self._anchor, self._cand), amp
        return None

    def _event(self, complete: bool, t_offset: float | None, n_swings: int, magnitude: float) -> HumanEvent:
        return HumanEvent(
            kind=self.kind,
            t_onset=self._run[0][0],
            t_offset=t_offset,
            cycles=max(1, (n_swings + 1) // 2),
            magnitude=magnitude,
            complete=complete,
        )

    def _end_run(self, t: float) -> list[HumanEvent]:
        out: list[HumanEvent] = []
        if self._run:
            prov = self._provisional(t) or self._last_prov
            n = len(self._run) + (1 if prov else 0)
            end = prov[0] if prov else self._run[-1][1]
            magnitude = max([s[2] for s in self._run] + ([prov[1]] if prov else []))
            if n >= self.p.min_swings:
                if not self._reported:  # detected and finished at once: still report the onset first
                    out.append(self._event(False, None, n, magnitude))
                out.append(self._event(True, end, n, magnitude))
            self._consumed_until = end if prov else self._run[-1][1]
        self._run = []
        self._reported = False
        self._last_prov = None
        return out

    def _confirm(self, start: _Point, peak: _Point) -> list[HumanEvent]:
        """A turning point was confirmed: judge the swing start -> peak (continue the run, or end it / start one)."""
        out: list[HumanEvent] = []
        if peak.t <= self._consumed_until:
            return out  # already counted as the last swing of the previous run
        p = self.p
        valid = True
        if peak.t - start.t > p.max_swing_s:
            # The turning point before this swing is old (the person rested): the swing began at the opposite
            # extreme within max_swing_s before the peak, unless the signal was still moving at the window's edge
            # (a slow look-down seen through a max_swing_s window): the angle must have rested near the start level
            # there, from edge_rest_s before the window to its first sample.
            edge = peak.t - p.max_swing_s
            window = [(t, x) for t, x in self._buf if edge <= t <= peak.t]
            if len(window) < 2:
                valid = False
            else:
                sign = 1.0 if peak.x > start.x else -1.0
                k = int(np.argmin([sign * x for _, x in window]))
                start = _Point(*window[k])
                tol = p.onset_fraction * abs(peak.x - start.x)
                rest = [x for t, x in self._buf if edge - p.edge_rest_s <= t < edge] + [window[0][1]]
                valid = all(abs(x - start.x) <= tol for x in rest)
        amp = abs(peak.x - start.x)
        if self._run:
            # Continuing needs the hysteresis and continue_fraction of the previous swing: later cycles of a nod
            # shrink (declination and final lowering, Mori et al. 2025) but not to jitter.
            needed = max(p.hysteresis, p.continue_fraction * self._run[-1][2])
            fits = valid and amp >= needed and p.min_swing_s <= peak.t - start.t <= p.max_swing_s
            if fits and start.t - self._run[-1][1] <= p.max_pause_s:
                self._run.append((start.t, peak.t, amp))
                self._last_prov = None
                return out
            out += self._end_run(peak.t)
        # A new run begins with a swing of min_amplitude, in first_direction when one is set.
        direction = 1 if peak.x > start.x else -1
        if not valid or amp < p.min_amplitude or (p.first_direction and direction != p.first_direction):
            return out
        if p.noise_factor and amp < p.noise_factor * self._jitter(start.t):
            return out
        t_cross, onset = self._onset(start, peak)
        # too short: from the (extrapolated) onset; too long: from the crossing, which slow onsets do not stretch
        fast = amp >= p.min_speed * (peak.t - onset)
        if fast and peak.t - onset >= p.min_swing_s and peak.t - t_cross <= p.max_swing_s:
            self._run.append((onset, peak.t, amp))
            self._last_prov = None
        return out

    def update(self, t: float, x: float) -> list[HumanEvent]:
        """Feed one sample (NaN = unseen); returns events detected or completed at this sample."""
        out: list[HumanEvent] = []
        if not math.isfinite(x):
            if self._gap_since is None:
                self._gap_since = t
            if self._run and self._last_t is not None and t - self._last_t > self.p.max_missing_s:
                out += self._end_run(t)
            return out
        if self._gap_since is not None:  # back after a tracking gap: no swing may span it
            out += self._end_run(self._gap_since)
            self._anchor = self._cand = self._hi = self._lo = None
            self._dir = 0
            self._buf.clear()
            self._recent.clear()
            self._gap_since = None
        self._last_t = t
        # Median of the last three samples, timed at the middle one: one-frame tracking glitches (which the One-Euro
        # filter lets through at high beta) cannot make a swing; costs one frame of latency, no timing bias.
        self._recent.append((t, x))
        if len(self._recent) == 3:
            t = self._recent[1][0]
            x = sorted(v for _, v in self._recent)[1]
        self._buf.append((t, x))
        horizon = 2.0 * self.p.max_swing_s + max(self.p.max_pause_s, self.p.noise_window_s)
        while self._buf and self._buf[0][0] < t - horizon:
            self._buf.popleft()
        point = _Point(t, x)
        h = self.p.hysteresis
        if self._dir == 0:  # no direction yet: wait until the signal has moved by the hysteresis
            if self._hi is None or self._lo is None:
                self._hi = self._lo = point
                return out
            if x > self._hi.x:
                self._hi = point
            if x < self._lo.x:
                self._lo = point
            if self._hi.x - self._lo.x >= h:
                rising = self._hi.t > self._lo.t
                self._anchor, self._cand = (self._lo, self._hi) if rising else (self._hi, self._lo)
                self._dir = 1 if rising else -1
            return out
        assert self._anchor is not None and self._cand is not None
        if (x - self._cand.x) * self._dir > 0:
            self._cand = point
        elif (self._cand.x - x) * self._dir >= h:
            out += self._confirm(self._anchor, self._cand)
            self._anchor, self._cand, self._dir = self._cand, point, -self._dir
        if self._run:
            prov = self._provisional(t) or self._last_prov  # once counted, the returning swing stays counted
            self._last_prov = prov
            n = len(self._run) + (1 if prov else 0)
            if not self._reported and n >= self.p.min_swings:
                magnitude = max([s[2] for s in self._run] + ([prov[1]] if prov else []))
                out.append(self._event(False, None, n, magnitude))
                self._reported = True
            still_for = t - max(self._cand.t, self._run[-1][1])
            if still_for > self.p.max_pause_s or t - self._anchor.t > self.p.max_swing_s + self.p.max_pause_s:
                out += self._end_run(t)
        return out

    def flush(self, t: float) -> list[HumanEvent]:
        """End of stream: finish a run in progress."""
        return self._end_run(t)


class GestureDetector:
    """Hand-gesture bursts: max wrist speed above on_speed for min_on_s starts one, below off_speed ends it."""

    def __init__(self, params: GestureParams = GestureParams()) -> None:
        self.p = params
        self.reset()

    def reset(self) -> None:
        self._buf: deque[tuple[float, float]] = deque()
        self._above_since: float | None = None
        self._below_since: float | None = None
        self._active: HumanEvent | None = None
        self._last_seen: float | None = None
        self._dipped = False

    def _finish(self, t_offset: float) -> list[HumanEvent]:
        if self._active is None:
            return []
        ev = self._active
        self._active = None
        self._below_since = None
        return [HumanEvent("gesture", ev.t_onset, t_offset, ev.cycles, ev.magnitude, complete=True)]

    def update(self, t: float, speed: float) -> list[HumanEvent]:
        """Feed the larger wrist speed of this frame (NaN = no wrist seen)."""
        p = self.p
        if not math.isfinite(speed):
            self._above_since = None
            if self._last_seen is not None and t - self._last_seen > p.max_missing_s:
                return self._finish(self._last_seen)
            return []
        self._last_seen = t
        self._buf.append((t, speed))
        while self._buf and self._buf[0][0] < t - p.lookback_s - p.min_on_s:
            self._buf.popleft()
        if self._active is None:
            if speed < p.on_speed:
                self._above_since = None
                return []
            if self._above_since is None:
                self._above_since = t
            if t - self._above_since < p.min_on_s:
                return []
            # Onset: walk back from the on_speed crossing to the last sample slower than off_speed.
            onset = self._above_since
            for bt, bs in reversed(self._buf):
                if bt >= self._above_since:
                    continue
                onset = bt
                if bs < p.off_speed:
                    break
            self._dipped = False
            self._active = HumanEvent("gesture", onset, None, 1, speed)
            self._above_since = None
            return [HumanEvent("gesture", onset, None, 1, speed)]
        self._active.magnitude = max(self._active.magnitude, speed)
        if speed < p.off_speed:
            self._dipped = True
            if self._below_since is None:
                self._below_since = t
            if t - self._below_since >= p.min_off_s:
                return self._finish(self._below_since)
            return []
        self._below_since = None
        if self._dipped and speed >= p.on_speed:
            self._active.cycles += 1  # slowed down and sped up again: a new stroke within the same gesture
            self._dipped = False
        return []

    def flush(self, t: float) -> list[HumanEvent]:
        return self._finish(self._last_seen if self._last_seen is not None else t)


class EventDetector:
    """Nod, shake and gesture detectors over the Observation stream, behind the attention gate (perception.gate)."""

    def __init__(self, params: EventParams = EventParams()) -> None:
        self.params = params
        self.nod = OscillationDetector("nod", params.nod)
        self.shake = OscillationDetector("shake", params.shake)
        self.gesture = GestureDetector(params.gesture)
        self.gate = AttentionGate(params.gate)
        self.last_gate: GateState | None = None

    def reset(self) -> None:
        self.nod.reset()
        self.shake.reset()
        self.gesture.reset()
        self.gate.reset()
        self.last_gate = None

    def update(self, obs: Observation, pose: PoseFrame | None = None) -> list[HumanEvent]:
        """Events detected or completed at this observation (also appended to obs.events).

        With the observation's (filtered) `pose`, head angles reach the nod/shake detectors only while the gate is
        open and wrist speeds the gesture detector only while the shoulders are wide enough; a closed gate reads as
        unseen (a run in progress ends). Without `pose` nothing is gated.
        """
        f = obs.features
        head_ok = body_ok = True
        if pose is not None:
            self.last_gate = self.gate.update(pose)
            head_ok, body_ok = self.last_gate.head_open, self.last_gate.body_ok
        wrists = f[[FEATURE_INDEX["wrist_speed_left"], FEATURE_INDEX["wrist_speed_right"]]]
        speed = float(np.nanmax(wrists)) if body_ok and np.isfinite(wrists).any() else math.nan
        pitch = float(f[FEATURE_INDEX["head_pitch"]]) if head_ok else math.nan
        yaw = float(f[FEATURE_INDEX["head_yaw"]]) if head_ok else math.nan
        events = self.nod.update(obs.t, pitch) + self.shake.update(obs.t, yaw) + self.gesture.update(obs.t, speed)
        obs.events.extend(events)
        return events

    def flush(self, t: float) -> list[HumanEvent]:
        """End of stream: complete the events still in progress."""
        return self.nod.flush(t) + self.shake.flush(t) + self.gesture.flush(t)
