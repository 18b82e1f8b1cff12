"""The generative model as arrays in pymdp conventions: A (likelihood), B (transitions per agent gesture), C, D, E.

A[m]: (num_obs_m, 3 engagement, 4 activity) per-frame outcome probabilities. B[f]: (ns_f, ns_f, num_controls_f) over
one planning step (step_s seconds). The activity factor's control is the agent's gesture class and its B is the
*response model* (how this human answers each agent gesture); the engagement factor's control is idle / unprompted
gesture / gesture answering the human's own event / backchannel in the human's pause / pause let pass, its B a prior
that answering engages most (the speech controls start flat). Both are learned online
from Dirichlet counts pB. C[m]: log-preferences; D: initial beliefs; E: habit log-weights over gesture classes.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fep_motion.model.config import AgentConfig
from fep_motion.model.spaces import (
    ACTIVITY,
    CONTROLS,
    ENGAGEMENT,
    ENGAGEMENT_CONTROLS,
    FACTOR_NAMES,
    MODALITIES,
    MODALITY_NAMES,
    NUM_CONTROLS,
    NUM_STATES,
)

ACTIVITY_FACTOR = FACTOR_NAMES.index("activity")  # the learned factor (the response model)
ENGAGEMENT_FACTOR = FACTOR_NAMES.index("engagement")

# p(o | activity) rows per activity state (columns = outcomes of the modality), per frame. Calibrated against the
# outcome frequencies outcomes.discretize gives in the full loop (virtual participant -> perception; per frame over
# ground-truth nods, gestures and quiet stretches of default-cohort participants 0-3): quiet frames read head
# still/pitching/yawing 0.96/0.01/0.02, arms still/moving 0.97/0.03, body calm/active 0.95/0.05; a nod crosses zero
# pitch velocity twice a cycle, so only ~40 % of its frames read "pitching" (head 0.60/0.38/0.03, body 0.88/0.12); a
# gesture's arms rest around its raise and beats in ~45 % of its frames (arms 0.43/0.57, head 0.93/0.05/0.02, body
# 0.62/0.38). These rows give a real nod an expected log-likelihood ratio nodding:still of +0.47 nats per frame (+1.45
# gesturing:still for a gesture), so the activity belief, and the response model learned from it, follow the human's
# answers. "nodding" keeps more pitching mass (0.57) than measured so that the value of eliciting a
# nod stays visible to G for people who nod more steadily (tests/test_agent_contingency.py's human: ~80 % of frames).
_HEAD = {"still": (0.90, 0.05, 0.05), "nodding": (0.40, 0.57, 0.03),
         "gesturing": (0.85, 0.10, 0.05), "moving": (0.35, 0.30, 0.35)}
_ARMS = {"still": (0.95, 0.05), "nodding": (0.90, 0.10), "gesturing": (0.35, 0.65), "moving": (0.40, 0.60)}
_BODY = {"still": (0.94, 0.06), "nodding": (0.85, 0.15), "gesturing": (0.55, 0.45), "moving": (0.10, 0.90)}
_EVENT = {"still": (0.994, 0.002, 0.002, 0.002), "nodding": (0.94, 0.05, 0.005, 0.005),
          "gesturing": (0.95, 0.005, 0.005, 0.04), "moving": (0.97, 0.01, 0.01, 0.01)}
_FACING = {"disengaged": (0.75, 0.25), "attending": (0.2, 0.8), "engaged": (0.1, 0.9)}

# Spontaneous activity transitions over one step (columns = from-state), before any learning: p(s'|s).
_ACTIVITY_PRIOR = np.array([
    # from: still nodding gesturing moving
    [0.80, 0.50, 0.50, 0.50],  # to still
    [0.07, 0.35, 0.05, 0.05],  # to nodding
    [0.07, 0.05, 0.35, 0.05],  # to gesturing
    [0.06, 0.10, 0.10, 0.40],  # to moving
])
# Engagement over one step per engagement control (columns = from-state): without an agent gesture; with an unprompted
# one (a gesture draws attention); with one that answers the human's own event (contingency engages most: Bavelas et
# al. 2000, JPSP 79:941). The prior of pB_eng; the facing likelihood lets the agent learn each person's version.
_ENGAGEMENT_B = {
    "idle": np.array([[0.85, 0.15, 0.05], [0.12, 0.70, 0.20], [0.03, 0.15, 0.75]]),
    "unprompted": np.array([[0.70, 0.08, 0.03], [0.25, 0.67, 0.12], [0.05, 0.25, 0.85]]),
    "answer": np.array([[0.55, 0.04, 0.02], [0.33, 0.56, 0.06], [0.12, 0.40, 0.92]]),
}
# In the human's speech nothing is built in: a nod or tilt in their pause and a pause let pass start equal (as any
# unprompted gesture); whether this speaker's backchannels engage them is learned from pause trials (eq. 3.12).
_ENGAGEMENT_B["backchannel"] = _ENGAGEMENT_B["unprompted"]
_ENGAGEMENT_B["let_pass"] = _ENGAGEMENT_B["unprompted"]

# p(speech outcome | engagement) per frame: silent / speaking / pause cue. An engaged speaker keeps talking
# (KEEPS_TALKING, the chance that the speaker goes on after a pause of theirs; the likelihood of a pause trial's
# outcome, eq. 3.12); a pause cue is a small share of a speaker's frames (a 20-40 ms event every few seconds).
KEEPS_TALKING_GIVEN_ENGAGEMENT = np.array([0.35, 0.6, 0.85])
_SPEECH = {e: (1.0 - k, 0.97 * k, 0.03 * k) for e, k in zip(ENGAGEMENT, KEEPS_TALKING_GIVEN_ENGAGEMENT)}

# ρ_e: how much of the response model's answer probability a person realizes per engagement state (engaged: all of
# it); an engaged person answers more (the evidence the engagement model learns from, once per own gesture).
ANSWERED_GIVEN_ENGAGEMENT = np.array([0.1, 0.5, 1.0])


@dataclass
class GenerativeModel:
    """A, B, C, D, E (+ Dirichlet counts pB of the learned response factor) in pymdp array conventions."""

    A: list[np.ndarray]
    B: list[np.ndarray]
    C: list[np.ndarray]
    D: list[np.ndarray]
    E: np.ndarray  # (NUM_CONTROLS,) log habit weights over gesture classes; the fep policy's habit prior reads it
    pB: list[np.ndarray | None]
    pB_prior: list[np.ndarray | None] | None = None  # the counts pB started from (what learning added: pB − pB_prior)

    @property
    def num_states(self) -> tuple[int, ...]:
        return NUM_STATES

    def refresh_B(self) -> None:
        """B = E[Dirichlet(pB)] for learned factors (column-normalized counts)."""
        for f, p in enumerate(self.pB):
            if p is not None:
                self.B[f] = p / p.sum(axis=0, keepdims=True)


def _likelihood() -> list[np.ndarray]:
    A = []
    for m in MODALITY_NAMES:
        no = len(MODALITIES[m])
        a = np.zeros((no, len(ENGAGEMENT), len(ACTIVITY)))
        for i, e in enumerate(ENGAGEMENT):
            for j, s in enumerate(ACTIVITY):
                if m == "head":
                    a[:, i, j] = _HEAD[s]
                elif m == "arms":
                    a[:, i, j] = _ARMS[s]
                elif m == "body":
                    a[:, i, j] = _BODY[s]
                elif m == "event":
                    a[:, i, j] = _EVENT[s]
                elif m == "facing":
                    a[:, i, j] = _FACING[e]
                elif m == "speech":
                    a[:, i, j] = _SPEECH[e]
        A.append(a / a.sum(axis=0, keepdims=True))
    return A


def build_generative_model(cfg: AgentConfig) -> GenerativeModel:
    """The default model for `cfg`: fixed A; pB = concentration × prior for the engagement and response models."""
    A = _likelihood()
    B_eng = np.stack([_ENGAGEMENT_B[u] for u in ENGAGEMENT_CONTROLS], axis=2)
    B_eng /= B_eng.sum(axis=0, keepdims=True)
    pB_eng = B_eng * cfg.prior_concentration
    prior = _ACTIVITY_PRIOR / _ACTIVITY_PRIOR.sum(axis=0, keepdims=True)
    pB_act = np.repeat(prior[:, :, None] * cfg.prior_concentration, NUM_CONTROLS, axis=2)
    C = []
    for m in MODALITY_NAMES:
        prefs = cfg.preferences.get(m, {})
        C.append(np.array([float(prefs.get(o, 0.0)) for o in MODALITIES[m]]))
    D = [np.array([0.3, 0.5, 0.2]), np.array([0.7, 0.1, 0.1, 0.1])]
    E = np.array([float(cfg.habits.get(g, 0.0)) for g in CONTROLS])
    model = GenerativeModel(A=A, B=[B_eng.copy(), pB_act.copy()], C=C, D=D, E=E, pB=[pB_eng, pB_act],
                            pB_prior=[pB_eng.copy(), pB_act.copy()])
    model.refresh_B()
    return model


def update_transitions(model: GenerativeModel, qs_now: list[np.ndarray | None], qs_prev: list[np.ndarray | None],
                       controls: list[int], lr: float) -> None:
    """Dirichlet learning of B: pB_f[:, :, u_f] += lr · q(s_f,t) ⊗ q(s_f,t−1) for each learned factor f given in
    qs_now (None: that factor is not updated), the conjugate count update of pymdp 1.0.4
    `learning.update_state_transition_dirichlet` for the action taken."""
    for f, p in enumerate(model.pB):
        if p is not None and qs_now[f] is not None and qs_prev[f] is not None:
            p[:, :, controls[f]] += lr * np.outer(qs_now[f], qs_prev[f])
    model.refresh_B()


def answer_likelihood(model: GenerativeModel, q_activity: np.ndarray, control: int) -> np.ndarray:
    """p(the human answers gesture u within its window | engagement e) = ρ_e · p(leave 'still' | u), the second
    factor from the response model and the activity belief q (ANSWERED_GIVEN_ENGAGEMENT)."""
    still = ACTIVITY.index("still")
    leave = 1.0 - float((model.B[ACTIVITY_FACTOR][:, :, control] @ q_activity)[still])
    return ANSWERED_GIVEN_ENGAGEMENT * leave


def engagement_after_trial(model: GenerativeModel, q_onset: list[np.ndarray], controls: list[int],
                           answered: bool) -> np.ndarray:
    """q(engagement) at the end of a gesture's answer window given whether the human answered it: Bayes' rule with
    the prediction B_eng[:, :, u] q(e) as prior and p(answered | e, gesture) (answer_likelihood) as likelihood (a
    class this person rarely answers says little about their engagement when unanswered). q_onset, controls: per
    factor, at the gesture's onset."""
    f_e, f_a = ENGAGEMENT_FACTOR, ACTIVITY_FACTOR
    prior = model.B[f_e][:, :, controls[f_e]] @ q_onset[f_e]
    p_answer = answer_likelihood(model, q_onset[f_a], controls[f_a])
    post = prior * (p_answer if answered else 1.0 - p_answer)
    return post / post.sum()


SPEECH_CONTROLS = tuple(ENGAGEMENT_CONTROLS.index(u) for u in ("backchannel", "let_pass"))


def engagement_after_pause(model: GenerativeModel, q_cue: np.ndarray, kept_talking: bool) -> np.ndarray:
    """q(engagement) after a pause trial (eq. 3.12): the prediction B̄ q(e) at the pause cue under the speech
    controls' shared prior B̄ (shared_speech_B, eq. 3.13), times p(the speaker goes on | e)
    (KEEPS_TALKING_GIVEN_ENGAGEMENT) or its complement. The same prediction for backchannel and let_pass, so the two
    controls' counts differ only by how often the speaker went on after each (each control's own prediction would
    feed its counts back into its posteriors, and a single kept / stopped outcome cannot pin down a 3 × 3 column:
    the columns drifted apart along directions the outcome never tests)."""
    prior = shared_speech_B(model) @ q_cue
    k = KEEPS_TALKING_GIVEN_ENGAGEMENT
    post = prior * (k if kept_talking else 1.0 - k)
    return post / post.sum()


def _speech_counts(model: GenerativeModel) -> tuple[dict[int, np.ndarray], np.ndarray] | None:
    """(each speech control's learned counts ΔpB_u, the shared prior's column-normalized B̄) or None without a
    learned engagement factor."""
    pB, p0 = model.pB[ENGAGEMENT_FACTOR], model.pB_prior[ENGAGEMENT_FACTOR] if model.pB_prior else None
    if pB is None or p0 is None:
        return None
    learned = {u: pB[:, :, u] - p0[:, :, u] for u in SPEECH_CONTROLS}
    pooled = sum(learned.values())
    mass = pooled.sum(axis=0, keepdims=True)
    shared = np.where(mass > 0, pooled / np.maximum(mass, 1e-12), p0[:, :, SPEECH_CONTROLS[0]]
                      / p0[:, :, SPEECH_CONTROLS[0]].sum(axis=0, keepdims=True))
    return learned, shared


def shared_speech_B(model: GenerativeModel) -> np.ndarray:
    """B̄ of eq. 3.13: what both speech controls learned from pause trials, pooled and column-normalized (the
    initial prior before any trial)."""
    sc = _speech_counts(model)
    return model.B[ENGAGEMENT_FACTOR][:, :, SPEECH_CONTROLS[0]] if sc is None else sc[1]


def pooled_speech_B(model: GenerativeModel) -> np.ndarray:
    """B_eng with the speech controls (backchannel, let_pass) estimated under one shared prior (eq. 3.13): B̄ scaled
    to the prior's concentration, plus each control's own counts. An empirical-Bayes prior: a control tried less is
    judged by what this speaker's pauses do in general, so neither looks better only because the initial prior
    outweighs its few trials."""
    B = model.B[ENGAGEMENT_FACTOR]
    sc = _speech_counts(model)
    if sc is None:
        return B
    learned, shared = sc
    shared = shared * model.pB_prior[ENGAGEMENT_FACTOR][:, :, SPEECH_CONTROLS[0]].sum(axis=0, keepdims=True)
    out = B.copy()
    for u in SPEECH_CONTROLS:
        counts = shared + learned[u]
        out[:, :, u] = counts / counts.sum(axis=0, keepdims=True)
    return out


def frame_transition(B_step: np.ndarray, dt: float, step_s: float) -> np.ndarray:
    """Per-frame transition from a one-step B: (1 − r) I + r B with r = dt / step_s ≤ 1 — a first-order (in dt)
    interpolation of our own, exact at r = 0 and r = 1 and always a stochastic matrix."""
    r = min(max(dt / step_s, 0.0), 1.0)
    return (1.0 - r) * np.eye(B_step.shape[0]) + r * B_step
