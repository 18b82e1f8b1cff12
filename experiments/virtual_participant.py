"""A stochastic virtual participant: nods and hand gestures at base rates, answers agent gestures with configured
probabilities and latencies, engagement that drifts with how contingent the agent is, MediaPipe-like landmarks.

It talks when its config says so (experiments.vp_speech: turns of phrases and pauses, sustained by an agent's nods
or tilts placed in its pauses when the cohort's backchannel contingency is on); `speech_source()` gives the session
loop its voice and `new_speech_truth()` what it said when.

Deterministic under a seed for a given sequence of `pose(t)` / `notify_agent` calls. Behaviour evolves on a fixed
60 Hz grid (so dropped loop frames do not change it); landmarks are evaluated exactly at the requested time. Every
nod / gesture it makes is kept as ground truth (`truth`), so analysis can score perception's detectors.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from experiments.vp_body import BodyState, landmarks, rest_wrist, shoulder
from experiments.vp_config import VirtualParticipantConfig
from experiments.vp_speech import ListenerResponse, Phrase, TalkModel, VirtualSpeechSource
from perception.types import NUM_LANDMARKS, PoseFrame
from sampling.primitives.base import GESTURE_CLASSES, MotionCommand

GRID_DT = 1.0 / 60.0
JITTER_RHO = 0.7  # frame-to-frame correlation of landmark noise
# Relative noise per landmark: face points are small, high-contrast and tracked most stably by pose networks;
# hands the least (MediaPipe's own visibility pattern).
JITTER_SCALE = np.ones(NUM_LANDMARKS)
JITTER_SCALE[:11] = 0.5
JITTER_SCALE[15:23] = 1.5
RAISE_S = 0.35  # seconds to lift / lower the hand around a gesture's beats
# An agent gesture this long after mine counts as an answer (cf. docs/architecture.md §5's 0.5-3 s).
CONTINGENT_LAG = (0.3, 3.0)


@dataclass
class VPEvent:
    """A ground-truth nod or hand gesture the virtual participant made."""

    kind: str  # nod | gesture
    t_onset: float
    t_offset: float
    cycles: int
    tempo: float  # Hz
    amplitude: float  # rad (nod) or metres (gesture)
    cause: str  # spontaneous | response
    responds_to: str | None = None  # agent gesture class answered
    latency: float | None = None  # seconds after that agent gesture's onset
    side: str = ""  # gesture hand


def _min_jerk(x: float) -> float:
    """Minimum-jerk position profile s(x) = 10x^3 - 15x^4 + 6x^5 on [0, 1] (Flash & Hogan 1985, eq. 2)."""
    x = min(max(x, 0.0), 1.0)
    return x * x * x * (10 - 15 * x + 6 * x * x)


def gesture_class_of(cmd: MotionCommand) -> str:
    """The agent gesture class of a command: the primitive registry's gesture_class, else the name if it is a class."""
    try:
        from sampling.primitives import get_primitive  # the body engineer's registry

        return str(get_primitive(cmd.primitive).gesture_class)
    except Exception:  # noqa: BLE001 - registry missing or unknown name: fall back on the name itself
        for cls in GESTURE_CLASSES:
            if cmd.primitive == cls or cmd.primitive.startswith(cls):
                return cls
        return "none"


class VirtualParticipant:
    """Emits PoseFrames for increasing times; `notify_agent(cmd)` tells it of each agent gesture."""

    def __init__(self, config: VirtualParticipantConfig | None = None, seed: int = 0) -> None:
        self.config = config or VirtualParticipantConfig()
        self.config.validate()
        self.seed = seed
        self._rng = np.random.default_rng(seed)  # behaviour (grid steps, answers)
        self._noise = np.random.default_rng([seed, 1])  # sensor jitter (per pose call)
        self._grid_t = 0.0
        c = self.config
        self.engagement = c.engagement_initial
        self._contingency = (
            float(np.clip((c.engagement_initial - c.engagement_baseline) / c.engagement_gain, 0, 1))
            if c.engagement_gain > 0 else 0.0
        )
        self._sway = np.zeros(4)  # OU state: pitch, yaw, roll, sway_x
        self._dropout_until = -1.0
        self._nod: VPEvent | None = None
        self._gesture: VPEvent | None = None
        self._pending: list[tuple[float, str, str, float]] = []  # (due, kind, agent class, latency)
        self._agent_onsets: list[float] = []  # sorted (commands arrive in time order)
        self._steps = 0
        self.truth: list[VPEvent] = []
        self._reported = 0
        self.frame_index = 0
        self._jit = np.zeros((NUM_LANDMARKS, 3))
        self.talk = TalkModel(c.speech, seed) if c.speech.enabled else None  # own RNG streams: gestures unchanged

    # ---- the agent ------------------------------------------------------------------------------------------------
    def notify_agent(self, cmd: MotionCommand, gesture_class: str | None = None) -> bool:
        """Tell the participant of an agent gesture; returns True when it decides to answer it."""
        cls = gesture_class or gesture_class_of(cmd)
        self._agent_onsets.append(cmd.onset)
        if self.talk is not None:
            self.talk.notify(cmd.onset, cls)
        spec = self.config.contingencies.get(cls)
        if spec is None or spec.probability <= 0:
            return False
        p = spec.probability * self.engagement
        if self._rng.random() >= p:
            return False
        # lognormal latency with the configured mean and sd
        m, sd = spec.latency_mean, spec.latency_sd
        sigma2 = math.log(1 + (sd / m) ** 2)
        lat = float(self._rng.lognormal(math.log(m) - sigma2 / 2, math.sqrt(sigma2)))
        self._pending.append((cmd.onset + lat, spec.response, cls, lat))
        return True

    # ---- behaviour on the 60 Hz grid --------------------------------------------------------------------------------
    def _start(self, kind: str, t: float, cause: str, cls: str | None = None, lat: float | None = None) -> None:
        c, r = self.config, self._rng
        if kind == "nod":
            cycles = int(r.integers(c.nod_cycles_min, c.nod_cycles_max + 1))
            tempo = c.nod_tempo * float(np.exp(c.tempo_jitter * r.standard_normal()))
            amp = c.nod_amplitude * float(np.exp(0.15 * r.standard_normal()))
            ev = VPEvent("nod", t, t + cycles / tempo, cycles, tempo, amp, cause, cls, lat)
            self._nod = ev
        else:
            cycles = int(r.integers(c.gesture_cycles_min, c.gesture_cycles_max + 1))
            tempo = c.gesture_tempo * float(np.exp(c.tempo_jitter * r.standard_normal()))
            amp = c.gesture_amplitude * float(np.exp(0.15 * r.standard_normal()))
            side = "right" if r.random() < 0.7 else "left"
            ev = VPEvent("gesture", t, t + 2 * RAISE_S + cycles / tempo, cycles, tempo, amp, cause, cls, lat, side)
            self._gesture = ev
        self.truth.append(ev)

    def _free(self, kind: str, t: float) -> bool:
        ev = self._nod if kind == "nod" else self._gesture
        return ev is None or t >= ev.t_offset + self.config.refractory

    def _update_engagement(self, t: float) -> None:
        c = self.config
        self._steps += 1
        if self._steps % 15 == 0:  # re-judge the agent's contingency every 0.25 s over the last window
            lo = t - c.contingency_window
            while self._agent_onsets and self._agent_onsets[0] < lo:
                self._agent_onsets.pop(0)
            mine = [e.t_onset for e in self.truth[-64:] if lo <= e.t_onset <= t - CONTINGENT_LAG[1]]
            if mine:
                ag = np.asarray(self._agent_onsets)
                answered = sum(bool(np.any((ag >= s + CONTINGENT_LAG[0]) & (ag <= s + CONTINGENT_LAG[1])))
                               for s in mine)
                self._contingency = answered / len(mine)
        target = float(np.clip(c.engagement_baseline + c.engagement_gain * self._contingency, 0.0, 1.0))
        self.engagement += (target - self.engagement) * GRID_DT / c.engagement_tau  # first-order drift

    def _step(self, t: float) -> None:
        c, r = self.config, self._rng
        self._update_engagement(t)
        # idle sway: Ornstein-Uhlenbeck, tau 2 s, stationary sd (pitch, yaw, roll rad; x metres)
        sd = np.array([0.015, 0.02, 0.01, 0.008])
        theta = GRID_DT / 2.0
        self._sway = self._sway * (1 - theta) + sd * math.sqrt(2 * theta) * r.standard_normal(4)
        if t >= self._dropout_until and r.random() < c.dropout_rate / 60.0 * GRID_DT:
            self._dropout_until = t + float(r.exponential(c.dropout_mean))
        # answers that are due (postponed while the channel is busy, dropped if > 1.5 s late)
        keep = []
        for due, kind, cls, lat in self._pending:
            if t < due:
                keep.append((due, kind, cls, lat))
            elif self._free(kind, t):
                self._start(kind, t, "response", cls, lat + (t - due))
            elif t - due <= 1.5:
                keep.append((due, kind, cls, lat))
        self._pending = keep
        for kind, rate in (("nod", c.nod_rate), ("gesture", c.gesture_rate)):
            if self._free(kind, t) and r.random() < rate / 60.0 * GRID_DT * self.engagement:
                self._start(kind, t, "spontaneous")
        if self.talk is not None:
            self.talk.step(t)

    def advance(self, t: float) -> None:
        """Run the behaviour grid up to time t (seconds)."""
        while self._grid_t + GRID_DT <= t + 1e-12:
            self._grid_t += GRID_DT
            self._step(self._grid_t)

    # ---- kinematics -------------------------------------------------------------------------------------------------
    def state(self, t: float) -> BodyState:
        """The body state at time t (call after advance(t))."""
        sw = self._sway
        s = BodyState(
            head_pitch=float(sw[0]),
            head_yaw=float(sw[1]) + (1.0 - self.engagement) * 0.35,  # disengaged: looks away
            head_roll=float(sw[2]),
            sway_x=float(sw[3]),
            lean=0.04 * (self.engagement - 0.5),
            breath=0.004 * math.sin(2 * math.pi * 0.25 * t),
        )
        nod = self._nod
        if nod is not None and nod.t_onset <= t < nod.t_offset:
            # each cycle: pitch 0 -> A -> 0 (chin down and back), later cycles 20 % smaller
            ph = (t - nod.t_onset) * nod.tempo
            k = int(ph)
            s.head_pitch += nod.amplitude * (0.8**k) * math.sin(math.pi * (ph - k)) ** 2
        g = self._gesture
        if g is not None and g.t_onset <= t < g.t_offset:
            sign = 1.0 if g.side == "left" else -1.0
            sh = shoulder(g.side, s)
            rest = rest_wrist(g.side, s)
            up = sh + np.array([-sign * 0.04, 0.14, -0.34])
            dt = t - g.t_onset
            beats_end = RAISE_S + g.cycles / g.tempo
            if dt < RAISE_S:
                w = rest + _min_jerk(dt / RAISE_S) * (up - rest)
            elif dt < beats_end:
                w = up + np.array([0.0, g.amplitude * math.sin(2 * math.pi * g.tempo * (dt - RAISE_S)), 0.0])
            else:
                w = up + _min_jerk((dt - beats_end) / RAISE_S) * (rest - up)
            setattr(s, f"{g.side}_wrist", tuple(w))
        return s

    def pose(self, t: float) -> PoseFrame:
        """The landmark frame a pose estimator would report at time t (invalid during a drop-out)."""
        self.advance(t)
        idx = self.frame_index
        self.frame_index += 1
        size = self.config.image_size
        if t < self._dropout_until:
            return PoseFrame.empty(t, size, idx)
        img, world = landmarks(self.state(t))
        n = self._noise
        # temporally correlated jitter, AR(1) per landmark coordinate (a pose network's error persists across frames)
        self._jit = JITTER_RHO * self._jit + math.sqrt(1 - JITTER_RHO**2) * n.standard_normal((NUM_LANDMARKS, 3))
        noise = self.config.jitter * JITTER_SCALE[:, None] * self._jit
        img[:, :2] += noise[:, :2].astype(np.float32)
        img[:, 2] += (2 * noise[:, 2]).astype(np.float32)
        img[:, 3] = np.clip(img[:, 3] + 0.02 * n.standard_normal(NUM_LANDMARKS), 0, 1).astype(np.float32)
        world += (FIELD_SCALE * noise).astype(np.float32)
        return PoseFrame(t=t, landmarks=img, world=world, image_size=size, valid=True, frame_index=idx)

    # ---- speech -----------------------------------------------------------------------------------------------------
    def speech_source(self) -> VirtualSpeechSource | None:
        """My voice as a live audio source for the session loop's audio stage (None when I do not talk). Call it
        before the session starts: from then on each phrase is espeak-ng speech and its audible extent is its truth."""
        if self.talk is None:
            return None
        if self.talk.phrases:
            raise RuntimeError("speech_source(): call it before the participant has started talking (t = 0)")
        self.talk.audio = True
        return VirtualSpeechSource(self.advance, self.talk, self.seed)

    def speaking(self, t: float) -> bool | None:
        """Am I saying a phrase at time t (ground truth; None when I do not talk)? Call after advance(t)."""
        return None if self.talk is None else self.talk.speaking(t)

    def new_speech_truth(self, final: bool = False) -> tuple[list[Phrase], list[ListenerResponse]]:
        """Phrases said (once their pause is over; `final`: all, at the session's end) and agent responses to my pauses
        judged since the last call (for the session store)."""
        if self.talk is None:
            return [], []
        phrases, responses = self.talk.new_truth()
        return (phrases + self.talk.flush_truth(), responses) if final else (phrases, responses)

    def new_truth(self) -> list[VPEvent]:
        """Ground-truth events started since the last call (for the session store)."""
        out = self.truth[self._reported:]
        self._reported = len(self.truth)
        return out


FIELD_SCALE = 1.2  # metres per normalized image unit (experiments.vp_body.FIELD_W), for world-landmark jitter
