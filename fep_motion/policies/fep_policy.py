"""The paper's agent: free-energy perception each frame, sampling + expected-free-energy selection at decision points.

Per frame: predict the discrete factors through B (the control = the agent's own current gesture), minimize F against
the precision-weighted observation, track the human's rhythm (EKF), and every `step_s` learn the response model
(Dirichlet). At a decision point (start, own gesture end, human event, hazard, end of a chosen wait) the sampling
module proposes K candidates around the rhythm, the selection module scores each with G and chooses from
q(π) = softmax(−γG + ln E − ln Q), where Q is the proposal's own mixture (an importance correction: candidates are
already drawn from ≈E, so the sampled choice converges to softmax(−γG + ln E) over gestures).
The brain's intent may shift E and C within bounds (`steer`, llm/brain/steering.py); each decision's belief summary
records the deltas in force.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import entr, log_softmax

from fep_motion.inference.vfe import log_likelihood, minimize_free_energy
from fep_motion.model.config import AgentConfig, load_agent_config
from fep_motion.model.generative import (
    ACTIVITY_FACTOR,
    ENGAGEMENT_FACTOR,
    build_generative_model,
    engagement_after_pause,
    engagement_after_trial,
    frame_transition,
    pooled_speech_B,
    update_transitions,
)
from fep_motion.model.outcomes import discretize
from fep_motion.model.rhythm import RhythmTracker
from fep_motion.model.spaces import (
    ACTIVITY,
    ANSWER_LAG_S,
    BACKCHANNEL_CLASSES,
    CONTROLS,
    ENGAGEMENT,
    ENGAGEMENT_CONTROLS,
    LARGE_CLASSES,
    MODALITIES,
    MODALITY_NAMES,
    NUM_STATES,
    PAUSE_CUES,
    PAUSE_WINDOW_S,
)
from fep_motion.policies.base import BeliefSummary, CandidateTable, DecisionRecord, MotionPolicy
from perception.types import Observation
from sampling.primitives.base import MotionCommand
from sampling.proposal import CandidateProposer, PrimitiveLike, ProposalSettings
from selection.choice import choose
from selection.efe import EfeKernel

# What a detected human event within a gesture's response window says the human's activity became.
ANSWER_STATE: dict[str, int] = {"nod": ACTIVITY.index("nodding"), "gesture": ACTIVITY.index("gesturing"),
                                "shake": ACTIVITY.index("moving")}
STILL = ACTIVITY.index("still")
IDLE, UNPROMPTED, ANSWER, BACKCHANNEL, LET_PASS = (ENGAGEMENT_CONTROLS.index(u) for u in ENGAGEMENT_CONTROLS)
BACKCHANNEL_IDX = np.array([CONTROLS.index(c) for c in BACKCHANNEL_CLASSES])
LARGE_IDX = np.array([CONTROLS.index(c) for c in LARGE_CLASSES])
SPEECH = MODALITY_NAMES.index("speech")
DETECTION_LAG_S = 1.0  # perception confirms an event after it began (README: events are confirmed after they begin)
# At a decision in the human's pause the pause trial is a choice of two (a backchannel starting in the window, or the
# pause let pass): each gets half of the candidates' onsets, a uniform habit over the trial's two controls, so the
# learned backchannel gain decides between them. Uniform onsets over max_onset_s gave the ≤ 0.1 s window ~13 % of the
# prior mass, and a gain of 0.1-0.15 nats left most nods chosen at cues starting after the window
# (docs/architecture.md §3, "Hearing").
PAUSE_TRIAL_SHARE = 0.5


def _activity_only(q: np.ndarray) -> list[np.ndarray | None]:
    """Per-factor marginals with only the activity factor given (the response model's update reads no other)."""
    out: list[np.ndarray | None] = [None] * len(NUM_STATES)
    out[ACTIVITY_FACTOR] = q
    return out


@dataclasses.dataclass
class PauseTrial:
    """One pause of the human's speech as a trial of the engagement model (eq. 3.12): the cue's time, q(engagement)
    then, the agent's part (backchannel / let_pass) and whether the human has started a new speech segment since."""

    t_cue: float
    q_engagement: np.ndarray
    control: int = LET_PASS
    resumed: bool = False

    def in_window(self, onset: np.ndarray | float) -> np.ndarray:
        """Does a gesture starting at `onset` start in this pause (PAUSE_WINDOW_S after the cue)?"""
        lag = np.asarray(onset, dtype=float) - self.t_cue
        return (lag >= 0.0) & (lag <= PAUSE_WINDOW_S)


def _without_speech(xs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """A or C without the speech modality: an agent with no audio in its session has no ears to predict with."""
    return [x for m, x in enumerate(xs) if m != SPEECH]


def new_events(obs: Observation) -> list:
    """Events reported at detection (perception reports each twice: detected, then complete)."""
    return [e for e in obs.events if not getattr(e, "complete", False)]


class FepPolicy(MotionPolicy):
    """Free-energy agent (Horibe et al. 2022): learns which gestures elicit the human's, chooses by expected free
    energy."""

    name = "fep"

    def __init__(self, config: AgentConfig | None = None, config_path: str | Path | None = None,
                 primitives: Sequence[PrimitiveLike] | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            config = load_agent_config(config_path, overrides=overrides or None)
        elif overrides:
            raise TypeError("give either config or keyword overrides, not both")
        self.cfg = config
        if primitives is None:
            from sampling.primitives import all_primitives

            primitives = all_primitives()
        self.primitives = list(primitives)
        cls_index = {g: i for i, g in enumerate(CONTROLS)}
        self._prim_class = np.array([cls_index[p.gesture_class] for p in self.primitives])
        eps = config.exploration
        self.proposer = CandidateProposer(self.primitives, ProposalSettings(exploration=eps,
                                                                           max_onset_s=config.max_onset_s))
        self.reset(0)

    def _habit_priors(self, delta: Mapping[str, float]) -> tuple[np.ndarray, np.ndarray]:
        """(ln E, ln Q) over primitives: the model's E over gesture classes (+ the brain's `delta`) shared by the
        primitives of a class, normalized; Q = (1 − ε)E + ε/N, the proposal's own mixture."""
        lnE_class = self.model.E + np.array([float(delta.get(g, 0.0)) for g in CONTROLS])
        lnE = log_softmax(lnE_class[self._prim_class])
        eps = self.cfg.exploration
        return lnE, np.log((1 - eps) * np.exp(lnE) + eps / len(self.primitives))

    def steer(self, intent: str, habits: Mapping[str, float], preferences: Mapping[tuple[str, str], float]) -> None:
        """Shift E and C for the next decisions by the brain's (already bounded) deltas; the config and the
        model's base C/E stay untouched. Unknown gesture classes / outcomes are ignored (the brain may err; the
        agent must not). Zero deltas restore the unsteered agent exactly."""
        h = {g: float(v) for g, v in habits.items() if g in CONTROLS and math.isfinite(v) and v != 0.0}
        c = {(m, o): float(v) for (m, o), v in preferences.items()
             if m in MODALITIES and o in MODALITIES[m] and math.isfinite(v) and v != 0.0}
        self._steering = (intent, h, c) if (h or c) else None

    def _steered(self) -> tuple[np.ndarray, np.ndarray, EfeKernel, dict[str, Any]]:
        """(ln E, ln Q, G kernel, deltas in force) for this decision: the base ones when nothing steers."""
        if self._steering is None:
            return self._log_E_prims, self._log_Q_prims, self.kernel if self._hears else self._kernel_mute, {}
        intent, h, c = self._steering
        lnE, lnQ = self._habit_priors(h)
        C = [cm.copy() for cm in self.model.C]
        for (m, o), v in c.items():  # C is a log-preference: p(o|C) = softmax(C_m) (selection/efe.py)
            C[MODALITY_NAMES.index(m)][MODALITIES[m].index(o)] += v
        kernel = self._kernel(C)
        return lnE, lnQ, kernel, {"intent": intent, "habits": dict(h),
                                  "preferences": {f"{m}.{o}": v for (m, o), v in c.items()}}

    def _kernel(self, C: Sequence[np.ndarray]) -> EfeKernel:
        """The G kernel over every modality when the session has audio, else over all but speech."""
        A = self.model.A if self._hears else _without_speech(self.model.A)
        return EfeKernel(A, C if self._hears else _without_speech(C), self.model.num_states)

    # -- state -------------------------------------------------------------------------------------------------
    def reset(self, seed: int = 0) -> None:
        super().reset(seed)
        cfg = self.cfg
        self.model = build_generative_model(cfg)
        self.kernel = EfeKernel(self.model.A, self.model.C, self.model.num_states)
        self._kernel_mute = EfeKernel(_without_speech(self.model.A), _without_speech(self.model.C),
                                      self.model.num_states)
        self._hears = False  # the session has audio (an Observation with speaking not None was seen)
        self._speaking = False
        self._pause: PauseTrial | None = None
        self._cue_now = False
        self._held_for_pause = False
        self._log_E_prims, self._log_Q_prims = self._habit_priors({})
        self.qs = [d.copy() for d in self.model.D]
        self.rhythm = RhythmTracker(cfg.rhythm)
        self._t: float | None = None
        self._tick_t: float | None = None
        self._tick_qs = [d.copy() for d in self.model.D]
        self._tick_observed = False
        self._gesture: tuple[int, float, float, int] | None = None  # (class index, onset, end, engagement control)
        self._history: list[tuple[int, float, float, int]] = []
        # own gestures awaiting their answer window: (class, onset, engagement control, q(activity), q(engagement))
        self._trials: list[tuple[int, float, int, np.ndarray | None, np.ndarray | None]] = []
        self._human_events: list[tuple[float, str]] = []  # detected human event onsets (s) and kinds
        self._free_since: float | None = None
        self._wait_until = -math.inf
        self._decided_once = False
        self._was_busy = False
        self._pending_end = False
        self._deferred: tuple[str, float] | None = None
        self._frame_dt = 0.0
        self.belief: BeliefSummary | None = None
        self._steering: tuple[str, dict[str, float], dict[tuple[str, str], float]] | None = None

    def _control_over(self, a: float, b: float) -> tuple[int, int]:
        """The agent's (engagement, activity) controls during (a, b]: those of the latest gesture whose onset lies in
        [a − response_window_s, b − response_latency_s] (the human answers a gesture's onset, after a latency)."""
        w, lat = self.cfg.response_window_s, self.cfg.response_latency_s
        for cls, onset, _end, u_eng in reversed(self._history[-3:]):
            if a - w <= onset <= b - lat:
                return u_eng, cls
        return IDLE, 0

    def answers_human(self, onsets: np.ndarray) -> np.ndarray:
        """Whether a gesture begun at each of `onsets` (s) answers a human event: it starts ANSWER_LAG_S after the
        onset of one the agent has detected (the contingency engagement follows, docs/architecture.md §5)."""
        h = np.array([t for t, _kind in self._human_events])
        if h.size == 0:
            return np.zeros(np.shape(onsets), bool)
        lag = np.asarray(onsets, dtype=float)[..., None] - h
        return np.any((lag >= ANSWER_LAG_S[0]) & (lag <= ANSWER_LAG_S[1]), axis=-1)

    # -- per frame ----------------------------------------------------------------------------------------------
    def _perceive(self, obs: Observation, now: float) -> None:
        cfg, model = self.cfg, self.model
        dt = 0.0 if self._t is None else max(now - self._t, 0.0)
        u = self._control_over(now - dt, now)
        prior = [frame_transition(model.B[f][:, :, u[f]], dt, cfg.step_s) @ self.qs[f] for f in range(len(self.qs))]
        so = discretize(obs)
        logL = log_likelihood(model.A, so.dists, so.weights)
        upd = minimize_free_energy(prior, logL, cfg.inference_iterations)
        self.qs = upd.qs
        self.rhythm.update(obs)
        self._tick_observed |= so.observed()
        self._t = now
        self._learn_from_trials(obs, now)
        self._listen(obs, now)
        if self._tick_t is None:
            self._tick_t = now
        elif now - self._tick_t >= cfg.step_s:
            u_tick = self._control_over(self._tick_t, now)
            if self._tick_observed and u_tick[ACTIVITY_FACTOR] == 0:  # the human's own dynamics, from intervals with
                # evidence; the gestures' columns of both factors learn once per gesture (_learn_from_trials)
                update_transitions(model, _activity_only(self.qs[ACTIVITY_FACTOR]),
                                   _activity_only(self._tick_qs[ACTIVITY_FACTOR]), list(u_tick), cfg.learning_rate)
            self._tick_t = now
            self._tick_qs = [q.copy() for q in self.qs]
            self._tick_observed = False
        est = self.rhythm.estimate()
        self.free_energy = upd.F
        self.belief = BeliefSummary(
            t=now,
            engagement={k: float(v) for k, v in zip(ENGAGEMENT, self.qs[ENGAGEMENT_FACTOR])},
            activity={k: float(v) for k, v in zip(ACTIVITY, self.qs[ACTIVITY_FACTOR])},
            rhythm_phase=est.phase, rhythm_tempo_hz=est.tempo_hz, rhythm_confidence=est.confidence,
            entropy=float(sum(np.sum(entr(q)) for q in self.qs)), rhythm_entropy=self.rhythm.state.entropy(),
            F=upd.F, complexity=upd.complexity, accuracy=upd.accuracy,
        )

    def _learn_from_trials(self, obs: Observation, now: float) -> None:
        """Each own gesture is one trial of the response and the engagement models: the human's activity and
        engagement at its onset (beliefs) and what the human did within [onset + response_latency_s, onset +
        response_window_s] (detected events: a nod -> nodding, a hand gesture -> gesturing, a shake -> moving; none ->
        still). Once the window has passed (plus DETECTION_LAG_S, perception confirms an event after its onset),
        pB[:, :, u] += lr · q(s') ⊗ q(s) per factor: the Dirichlet update of pymdp 1.0.4
        `learning.update_state_transition_dirichlet`, with the transition taken over the gesture's response window
        (one count per gesture). For engagement, q(e') is the posterior given whether the human answered
        (generative.engagement_after_trial), under the gesture's engagement control (answer / unprompted)."""
        cfg = self.cfg
        for e in new_events(obs):
            self._human_events.append((float(e.t_onset), e.kind))
        self._human_events = [ev for ev in self._human_events if ev[0] >= now - 3 * cfg.response_window_s - 10.0]
        keep = []
        for cls, onset, u_eng, q_from, qe_from in self._trials:
            if q_from is None and now >= onset:
                q_from, qe_from = self.qs[ACTIVITY_FACTOR].copy(), self.qs[ENGAGEMENT_FACTOR].copy()
            if q_from is not None and qe_from is not None and now >= onset + cfg.response_window_s + DETECTION_LAG_S:
                q_to = np.zeros(len(ACTIVITY))
                for t, kind in self._human_events:
                    if onset + cfg.response_latency_s <= t <= onset + cfg.response_window_s and kind in ANSWER_STATE:
                        q_to[ANSWER_STATE[kind]] += 1.0
                answered = bool(q_to.sum() > 0)
                if not answered:
                    q_to[STILL] = 1.0  # no answer: the human stayed still (as far as this gesture is concerned)
                controls = [0] * len(NUM_STATES)
                controls[ACTIVITY_FACTOR], controls[ENGAGEMENT_FACTOR] = cls, u_eng
                qs_to: list[np.ndarray | None] = [None] * len(NUM_STATES)
                qs_from: list[np.ndarray | None] = [None] * len(NUM_STATES)
                qs_from[ACTIVITY_FACTOR], qs_from[ENGAGEMENT_FACTOR] = q_from, qe_from
                if u_eng != BACKCHANNEL:  # a backchannel's engagement count is its pause trial's (_listen)
                    qs_to[ENGAGEMENT_FACTOR] = engagement_after_trial(self.model, qs_from, controls, answered)
                qs_to[ACTIVITY_FACTOR] = q_to / q_to.sum()
                update_transitions(self.model, qs_to, qs_from, controls, cfg.learning_rate)
            else:
                keep.append((cls, onset, u_eng, q_from, qe_from))
        self._trials = keep

    def _listen(self, obs: Observation, now: float) -> None:
        """The human's speech: a pause cue opens a pause trial; `pause_outcome_s` later, whether the human went on
        talking (speaking then, or a new segment began) updates the engagement model under the agent's part in that
        pause: pB_eng[:, :, u] += lr · q(e′) ⊗ q(e) with q(e′) from generative.engagement_after_pause (eq. 3.12)."""
        self._cue_now = False
        if obs.speaking is None:
            return
        if not self._hears:
            self._hears = True
        self._speaking = bool(obs.speaking)
        trial = self._pause
        if trial is not None:
            trial.resumed |= "onset" in obs.speech_events
            if now >= trial.t_cue + self.cfg.pause_outcome_s:
                kept = self._speaking or trial.resumed
                q_to = engagement_after_pause(self.model, trial.q_engagement, kept)
                qs_to: list[np.ndarray | None] = [None] * len(NUM_STATES)
                qs_from: list[np.ndarray | None] = [None] * len(NUM_STATES)
                qs_to[ENGAGEMENT_FACTOR], qs_from[ENGAGEMENT_FACTOR] = q_to, trial.q_engagement
                controls = [0] * len(NUM_STATES)
                controls[ENGAGEMENT_FACTOR] = trial.control
                update_transitions(self.model, qs_to, qs_from, controls, self.cfg.learning_rate)
                self._pause = trial = None
        if trial is None and any(e in PAUSE_CUES for e in obs.speech_events):
            self._pause = PauseTrial(now, self.qs[ENGAGEMENT_FACTOR].copy())
            self._cue_now = True

    def _engagement_controls(self, onsets: np.ndarray, gesture_index: np.ndarray) -> np.ndarray:
        """The engagement control of each gesture starting at `onsets` (session s): backchannel for a nod or tilt in
        the human's open pause window, else its own control (`_own_controls`). One rule for what G scores and for
        what the agent learns from the gesture it performs."""
        return np.where(self._backchannels(onsets, gesture_index), BACKCHANNEL, self._own_controls(onsets))

    def _own_controls(self, onsets: np.ndarray) -> np.ndarray:
        """Answer when a gesture starting at `onsets` follows the human's event by 0.3-3 s, else unprompted."""
        return np.where(self.answers_human(onsets), ANSWER, UNPROMPTED)

    def _backchannels(self, onsets: np.ndarray, gesture_index: np.ndarray) -> np.ndarray:
        """Which gestures starting at `onsets` are backchannels: a nod or tilt in the open pause window."""
        if self._pause is None:
            return np.zeros(np.shape(onsets), bool)
        return self._pause.in_window(onsets) & np.isin(gesture_index, BACKCHANNEL_IDX)

    def _decision_reason(self, obs: Observation, now: float) -> str | None:
        """Why to decide now (None: not now). With `decision.yield_to_human`, a due decision waits while the human
        is believed mid-action (q(still) < 0.5), for at most `decision.max_yield_s`: the agent takes turns."""
        reason = self._due_reason(obs, now)
        if reason is not None and self._deferred is None:
            self._deferred = (reason, now)
        if self._deferred is None:
            return None
        reason, since = self._deferred
        d = self.cfg.decision
        mid_action = self.qs[ACTIVITY_FACTOR][STILL] < 0.5
        if d.yield_to_human and mid_action and now - since < d.max_yield_s and reason != "start":
            return None
        if reason != "start" and now - since < d.max_await_s and self._awaits_pause():
            self._held_for_pause = True
            return None
        self._deferred = None
        if self._held_for_pause and self._pause is not None and bool(self._pause.in_window(now)):
            reason = "speech_cue"  # held for this pause, which came
        self._held_for_pause = False
        return reason

    def _awaits_pause(self) -> bool:
        """Hold decisions for the human's next pause (for at most decision.max_await_s): the session hears, the human
        is speaking outside a pause, and G of a nod given as a backchannel beats the same nod with the pause let pass
        by decision.backchannel_margin."""
        d = self.cfg.decision
        in_pause = self._pause is not None and bool(self._pause.in_window(self._t or 0.0))
        if not (d.await_pause and self._hears and self._speaking and not in_pause):
            return False
        return self.backchannel_gain() > d.backchannel_margin

    def backchannel_gain(self) -> float:
        """G(a nod now, the pause let pass) − G(a nod now as a backchannel): what the learned engagement model says a
        backchannel in this speaker's pause is worth (0 until pause trials tell the two apart: they start equal)."""
        pols = np.zeros((2, self.cfg.horizon, 2), dtype=np.int64)
        pols[:, 0, ACTIVITY_FACTOR] = CONTROLS.index("nod")
        pols[:, 0, ENGAGEMENT_FACTOR] = (BACKCHANNEL, LET_PASS)
        pB = self.model.pB if self.cfg.novelty else None  # an untried backchannel is worth trying (novelty)
        G = self.kernel.evaluate(self.qs, self._decision_B(), pols, pB).G
        return float(G[1] - G[0])

    def _decision_B(self) -> list[np.ndarray]:
        """The B that G reads: the model's, with the speech controls under their pooled prior when the session hears
        (generative.pooled_speech_B)."""
        if not self._hears:
            return self.model.B
        B = list(self.model.B)
        B[ENGAGEMENT_FACTOR] = pooled_speech_B(self.model)
        return B

    def _due_reason(self, obs: Observation, now: float) -> str | None:
        """A decision point (None: none now). Never while the body is busy, nor within min_pause_s of it ending."""
        if self.body_busy:
            self._was_busy = True
            self._deferred = None
            self._held_for_pause = False  # the held decision is dropped with it
            return None
        if self._was_busy or self._free_since is None:
            self._free_since = now
            self._pending_end |= self._was_busy
            self._was_busy = False
        if self._decided_once and now < self._free_since + self.cfg.decision.min_pause_s:
            return None
        if self._pending_end:
            self._pending_end = False
            return "gesture_end"
        if not self._decided_once:
            return "start"
        if now >= self._wait_until > -math.inf:
            self._wait_until = -math.inf
            return "wait_end"
        if self.cfg.decision.on_human_event and new_events(obs):
            return "human_event"
        if self.cfg.decision.on_speech_cue and self._cue_now:
            return "speech_cue"
        h = self.cfg.decision.hazard_rate_hz
        if h > 0 and self.rng.random() < 1.0 - math.exp(-h * self._frame_dt):
            return "hazard"
        return None

    def _act(self, observation: Observation, now: float) -> MotionCommand | None:
        if not math.isfinite(now):
            return None  # a frame without a usable clock carries no evidence the agent can place in time
        self._frame_dt = 0.0 if self._t is None else max(now - self._t, 0.0)
        self._perceive(observation, now)
        reason = self._decision_reason(observation, now)
        if reason is None:
            return None
        return self.decide(now, reason)

    # -- decision -----------------------------------------------------------------------------------------------
    def candidate_policies(self, onset_delay: np.ndarray, gesture_index: np.ndarray,
                           now: float | None = None) -> np.ndarray:
        """(K, horizon, 2) control sequences: in the steps the candidate's response window [onset, onset +
        response_window_s] overlaps, the activity control is its gesture class and the engagement control 'answer'
        (its onset answers a human event, `answers_human`) or 'unprompted', 'backchannel' for a nod or tilt in the
        human's pause window; 'none' / 'idle' elsewhere. Timing enters B through the steps at which the gesture acts
        and through whether it answers."""
        H, step = self.cfg.horizon, self.cfg.step_s
        ends = step * np.arange(1, H + 1)
        on = onset_delay[:, None]
        active = (on < ends[None, :]) & (on + self.cfg.response_window_s > ends[None, :] - step)  # (K, H)
        active &= gesture_index[:, None] != 0
        now = self._t if now is None else now
        if now is not None:
            own = self._own_controls(now + onset_delay)
            bc = self._backchannels(now + onset_delay, gesture_index)
        else:
            own, bc = np.full(len(onset_delay), UNPROMPTED), np.zeros(len(onset_delay), bool)
        # deciding in the human's pause, the first step is the pause trial, backchannel for a nod or tilt that starts
        # in it and let_pass for every other candidate (a wait, or any gesture starting later); the rest is the
        # gesture's own part. A nod in the pause and the same nod later then differ in G by exactly what pause
        # trials taught (the backchannel gain), not by two controls learned from different evidence.
        in_pause = now is not None and self._pause is not None and bool(self._pause.in_window(now))
        eng = own if in_pause else np.where(bc, BACKCHANNEL, own)
        u = np.empty(active.shape + (2,), dtype=np.int64)
        u[:, :, ACTIVITY_FACTOR] = np.where(active, gesture_index[:, None], 0)
        u[:, :, ENGAGEMENT_FACTOR] = np.where(active, eng[:, None], IDLE)
        if in_pause:
            u[:, 0, ENGAGEMENT_FACTOR] = np.where(bc, BACKCHANNEL, LET_PASS)
        return u

    def _pause_focus(self, now: float) -> tuple[float, float, float] | None:
        """The onset window of the open pause trial (s from now) with its share of candidates, None outside one."""
        if self._pause is None or not bool(self._pause.in_window(now)):
            return None
        return 0.0, max(0.0, self._pause.t_cue + PAUSE_WINDOW_S - now), PAUSE_TRIAL_SHARE

    def decide(self, now: float, reason: str = "manual") -> MotionCommand | None:
        """Propose K candidates, score G, choose; returns the command (None when the choice is to wait)."""
        cfg = self.cfg
        log_E, log_Q, kernel, steering = self._steered()
        cands = self.proposer.propose(cfg.num_candidates, self.rng, log_E, self.rhythm.estimate(),
                                      self._pause_focus(now))
        pols = self.candidate_policies(cands.onset_delay, cands.gesture_index, now)
        terms = kernel.evaluate(self.qs, self._decision_B(), pols, self.model.pB if cfg.novelty else None)
        log_w = (log_E - log_Q)[cands.primitive_index]
        over_speech = self._turn_taking(terms.G, cands.gesture_index)
        log_w = np.where(over_speech, -np.inf, log_w)
        idx, prob = choose(terms.G, log_w, cfg.gamma, self.rng, cfg.choice)
        trigger = reason
        if self._holds_floor() and bool(np.isin(cands.gesture_index[idx], LARGE_IDX)):
            reason = "over_speech"  # chosen in the human's turn: its G beat every small gesture's by the margin
        self._decided_once = True
        table = CandidateTable(
            primitive_names=cands.primitive_names, primitive_index=cands.primitive_index,
            gesture_classes=CONTROLS, gesture_index=cands.gesture_index, onset_delay=cands.onset_delay,
            param_names=cands.param_names, params=cands.params, G=terms.G, risk=terms.risk,
            ambiguity=terms.ambiguity, novelty=terms.novelty, prob=prob,
        )
        prim = self.primitives[int(cands.primitive_index[idx])]
        params = prim.resolve(cands.params_of(idx))
        duration = float(prim.duration(params))
        onset = now + float(cands.onset_delay[idx])
        cmd: MotionCommand | None = None
        cls = int(self._prim_class[int(cands.primitive_index[idx])])
        if cls == 0:  # a pause: decide again when it is over
            self._wait_until = onset + duration
        else:
            cmd = MotionCommand(primitive=prim.name, params=params, issued_at=now,
                                onset_delay=float(cands.onset_delay[idx]), source=self.name,
                                meta={"G": float(terms.G[idx]), "gesture_class": CONTROLS[cls]})
            u_eng = int(self._engagement_controls(np.array([onset]), np.array([cls]))[0])
            if u_eng == BACKCHANNEL:
                self._pause.control = BACKCHANNEL
            self._gesture = (cls, onset, onset + duration, u_eng)
            self._history.append(self._gesture)
            self._trials.append((cls, onset, u_eng, None, None))
            self._history = self._history[-8:]
        belief = self.belief if self.belief is None or not steering else dataclasses.replace(self.belief,
                                                                                             steering=steering)
        self._record(DecisionRecord(t=now, policy=self.name, reason=reason, candidates=table, chosen=idx,
                                    gamma=cfg.gamma, belief=belief, free_energy=self.free_energy, command=cmd,
                                    extra={**({"steering": steering} if steering else {}),
                                           **({"trigger": trigger} if reason != trigger else {})}))
        return cmd

    def _holds_floor(self) -> bool:
        """The human has the turn: speaking, or in a pause of theirs not yet long enough to end it (a pause trial
        is open until pause_outcome_s after the cue)."""
        return self._speaking or self._pause is not None

    def _turn_taking(self, G: np.ndarray, gesture_index: np.ndarray) -> np.ndarray:
        """Candidates to leave out while the human has the turn: the large gestures whose G is not at least
        decision.over_speech_margin below every small candidate's (a gesture that takes the floor needs a reason)."""
        large = np.isin(gesture_index, LARGE_IDX)
        if not self._holds_floor() or not large.any() or large.all():
            return np.zeros(len(G), bool)
        best_small = float(np.min(G[~large]))
        return large & (G > best_small - self.cfg.decision.over_speech_margin)

    def response_model(self) -> dict[str, np.ndarray]:
        """The learned p(activity' | activity, gesture class) per gesture class (columns = from-state)."""
        B = self.model.B[ACTIVITY_FACTOR]
        return {g: B[:, :, u].copy() for u, g in enumerate(CONTROLS)}
