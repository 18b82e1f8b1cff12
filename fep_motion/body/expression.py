"""The face's behaviour over time (pure numpy, seeded): blinks, gaze with aversions, the speaking mouth, brow flashes.

- Blinks: a renewal process, gamma-distributed intervals (shape 3) at 16 per minute at rest and 24 while speaking
  (resting and conversational blink rates of Bentivoglio et al. 1997, "Analysis of blink rate patterns in normal
  subjects", Mov. Disord. 12(6)), plus one blink at the onset of each of the agent's nods. A blink closes in 90 ms,
  stays shut 40 ms and reopens in 200 ms: the down phase is faster than the up phase (VanderWerf et al. 2003,
  "Eyelid movements: behavioral studies of blinking in humans", J. Neurophysiol. 89).
- Gaze: mutual gaze at the participant's face (from perception), with small fixational saccades; a head share of
  25 % of the angle. Aversions as in Andrist et al. 2014 ("Conversational gaze aversion for humanlike robots",
  HRI '14): cognitive (up and to the side while the agent is thinking of a reply, held ~1 s into its speech), and
  intimacy-regulating (brief, down or sideways, after several seconds of mutual gaze); speakers look back at the
  listener as their turn ends (Kendon 1967, "Some functions of gaze-direction in social interaction", Acta Psychol.).
- Mouth: while an utterance plays, the jaw follows its loudness envelope (fep_motion/voice/envelope.py).
- Brows: a short raise when the agent starts to speak (the eyebrow flash of greeting and emphasis; Ekman 1979,
  "About brows", in Human Ethology).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fep_motion.body.face import FaceState
from sampling.primitives.base import DOF, NUM_DOF

HEAD_REST_WORLD = np.array([0.0, 0.0, 1.535])  # the head centre at rest (fep_motion/body/character.py)


@dataclass(frozen=True)
class ExpressionParams:
    """Rates and timings of the face's behaviour (defaults from the sources in the module docstring)."""

    blink_rate: float = 16.0  # per minute at rest
    blink_rate_speaking: float = 24.0  # per minute while speaking
    blink_shape: float = 3.0  # gamma shape of the intervals (more regular than Poisson)
    blink_close_s: float = 0.09
    blink_hold_s: float = 0.04
    blink_open_s: float = 0.20
    head_share: float = 0.25  # of the gaze angle taken by the head
    head_speed: float = 1.5  # rad/s, the head's share is rate limited
    saccade_interval_s: tuple[float, float] = (0.6, 2.0)
    saccade_amplitude: float = 0.025  # rad
    intimacy_after_s: tuple[float, float] = (4.0, 8.0)  # mutual gaze before a brief look away
    intimacy_duration_s: tuple[float, float] = (0.5, 1.1)
    intimacy_amplitude: float = 0.22
    cognitive_amplitude: float = 0.32
    cognitive_into_speech_s: float = 0.9
    brow_flash_s: float = 0.45


@dataclass(frozen=True)
class Utterance:
    """Something the agent says: when it starts, the jaw envelope (0..1 at `rate` Hz) and the text."""

    t0: float
    envelope: np.ndarray
    rate: float
    text: str = ""

    @property
    def duration(self) -> float:
        return len(self.envelope) / self.rate

    def jaw(self, t: float) -> float:
        i = int((t - self.t0) * self.rate)
        return float(self.envelope[i]) if 0 <= i < len(self.envelope) else 0.0


def blink_lid(dt: float, p: ExpressionParams) -> float:
    """Lid closure (0 open .. 1 shut) dt seconds after a blink's onset (0 outside the blink)."""
    if dt < 0.0:
        return 0.0
    if dt < p.blink_close_s:
        s = dt / p.blink_close_s
        return float(s * s * (3.0 - 2.0 * s))
    dt -= p.blink_close_s
    if dt < p.blink_hold_s:
        return 1.0
    dt -= p.blink_hold_s
    if dt < p.blink_open_s:
        s = dt / p.blink_open_s
        return float(1.0 - s * s * (3.0 - 2.0 * s))
    return 0.0


@dataclass
class _Aversion:
    t0: float
    t1: float
    offset: tuple[float, float]
    kind: str  # cognitive | intimacy


class Expression:
    """Per tick: `step(t)` -> (head offsets over DOF_NAMES, FaceState). Inputs arrive through the other methods."""

    def __init__(self, seed: int = 0, params: ExpressionParams | None = None,
                 default_target: tuple[float, float, float] | None = None) -> None:
        self.p = params or ExpressionParams()
        self.rng = np.random.default_rng(seed)
        self.target: np.ndarray | None = None if default_target is None else np.asarray(default_target, float)
        self.default_target = self.target
        self.blinks: list[float] = []  # onsets
        self._next_blink: float | None = None
        self.utterances: list[Utterance] = []
        self.aversions: list[_Aversion] = []
        self._thinking_since: float | None = None
        self._mutual_since: float | None = None
        self._next_intimacy: float | None = None
        self._saccade = np.zeros(2)
        self._next_saccade = 0.0
        self._head = np.zeros(2)  # (yaw, pitch) the head currently adds
        self._last_t: float | None = None
        self._nod_onsets: set[float] = set()

    # -- inputs ---------------------------------------------------------------------------------------------------
    def look_at(self, point: tuple[float, float, float] | np.ndarray | None) -> None:
        """Where the participant's face is (world, m); None = not seen (the eyes keep the last known place)."""
        if point is not None and np.all(np.isfinite(point)):
            self.target = np.asarray(point, dtype=np.float64)

    def thinking(self, t: float) -> None:
        """The participant's turn ended (an utterance went to the brain): look away while 'thinking'."""
        if self._thinking_since is None:
            self._thinking_since = t
            side = 1.0 if self.rng.random() < 0.5 else -1.0
            a = self.p.cognitive_amplitude
            self.aversions.append(_Aversion(t, float("inf"), (side * a * 0.8, a * 0.6), "cognitive"))

    def speak(self, utterance: Utterance) -> None:
        """The agent starts saying something: mouth, brow flash, faster blinks; the thinking aversion ends soon."""
        self.utterances.append(utterance)
        self._thinking_since = None
        for av in self.aversions:
            if av.kind == "cognitive" and av.t1 == float("inf"):
                av.t1 = utterance.t0 + self.p.cognitive_into_speech_s

    def nod(self, t: float) -> None:
        """The agent's nod starts at t: one blink goes with it."""
        if t in self._nod_onsets:
            return
        self._nod_onsets.add(t)
        if not self.blinks or t - self.blinks[-1] > 0.4:
            self.blinks.append(t)

    # -- state ----------------------------------------------------------------------------------------------------
    def speaking(self, t: float) -> bool:
        return any(u.t0 <= t < u.t0 + u.duration for u in self.utterances[-3:])

    def speech_end(self) -> float:
        """When the last utterance ends (-inf if none)."""
        return max((u.t0 + u.duration for u in self.utterances), default=float("-inf"))

    def _schedule_blink(self, t: float) -> None:
        rate = self.p.blink_rate_speaking if self.speaking(t) else self.p.blink_rate
        mean = 60.0 / rate
        self._next_blink = t + float(self.rng.gamma(self.p.blink_shape, mean / self.p.blink_shape))

    def _aversion(self, t: float) -> np.ndarray:
        speaking = self.speaking(t)
        if self._mutual_since is None:
            self._mutual_since = t
        active = [a for a in self.aversions if a.t0 <= t < a.t1]
        if not active and self._thinking_since is None:
            if self._next_intimacy is None:
                self._next_intimacy = t + float(self.rng.uniform(*self.p.intimacy_after_s))
            # no look-away in the last second of a turn: the speaker looks back at the listener as it ends
            ending = speaking and self.speech_end() - t < 1.0
            if t >= self._next_intimacy and not ending:
                dur = float(self.rng.uniform(*self.p.intimacy_duration_s))
                ang = float(self.rng.uniform(0.0, np.pi))  # sideways or down, never up
                a = self.p.intimacy_amplitude
                av = _Aversion(t, t + dur, (a * np.cos(ang), -0.5 * a * np.sin(ang)), "intimacy")
                self.aversions.append(av)
                active = [av]
                self._next_intimacy = t + dur + float(self.rng.uniform(*self.p.intimacy_after_s))
        self.aversions = [a for a in self.aversions if a.t1 > t - 1.0][-8:]
        if not active:
            return np.zeros(2)
        av = active[-1]
        ramp = min(1.0, (t - av.t0) / 0.08, max(0.0, (av.t1 - t) / 0.08))  # a saccade takes tens of ms
        return ramp * np.asarray(av.offset)

    def step(self, t: float) -> tuple[np.ndarray, FaceState]:
        """Advance to t: head offsets [NUM_DOF] (neck yaw/pitch share of the gaze) and the face for this frame."""
        p = self.p
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        if self._next_blink is None:
            self._schedule_blink(t)
        while self._next_blink is not None and t >= self._next_blink:
            if not self.blinks or self._next_blink - self.blinks[-1] > 0.4:
                self.blinks.append(self._next_blink)
            self._schedule_blink(self._next_blink)
        lid = max((blink_lid(t - b, p) for b in self.blinks[-3:]), default=0.0)
        if t >= self._next_saccade:
            self._saccade = self.rng.normal(0.0, p.saccade_amplitude, size=2)
            self._next_saccade = t + float(self.rng.uniform(*p.saccade_interval_s))
        offset = self._aversion(t) + self._saccade
        jaw = max((u.jaw(t) for u in self.utterances[-3:]), default=0.0)
        brow = 0.0
        for u in self.utterances[-3:]:
            if u.t0 <= t < u.t0 + p.brow_flash_s:
                brow = float(np.sin(np.pi * (t - u.t0) / p.brow_flash_s))
        head = np.zeros(NUM_DOF)
        if self.target is not None:
            d = self.target - HEAD_REST_WORLD
            want = np.array([np.arctan2(d[1], d[0]), np.arctan2(-d[2], np.hypot(d[0], d[1]))]) * p.head_share
            want += p.head_share * np.array([offset[0], -offset[1]])
            step = p.head_speed * dt
            self._head += np.clip(want - self._head, -step, step)
            head[DOF["neck_yaw"]], head[DOF["neck_pitch"]] = self._head
        gaze = None if self.target is None else tuple(float(v) for v in self.target)
        face = FaceState(gaze=gaze, gaze_offset=(float(offset[0]), float(offset[1])), lid=lid, jaw=jaw, brow=brow)
        return head, face
