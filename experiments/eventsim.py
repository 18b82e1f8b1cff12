"""Fast event-level simulator of agent and human gesture-onset processes (no pose, no rendering).

The human side implements the event dynamics of the virtual participant (experiments.vp_config): spontaneous nods and
gestures as Poisson processes scaled by engagement, a refractory period, answers to each agent gesture class with a
probability (times engagement) and a lognormal latency, and engagement drifting toward baseline + gain * (fraction
of my recent events the agent answered). The agent side gives each built-in policy an event-level model:
`random` (non-contingent renewal process), `reactive` (backchannel nod after human events), `mimic` (delayed copy of
human events), `idle` (nothing) and `fep` (picks gesture classes by expected free energy over a Beta-Bernoulli
response model learned online, docs/architecture.md §3). Used for statistical validation and the study fast path.
"""
from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import digamma, rel_entr, softmax

from experiments.vp_config import VirtualParticipantConfig
from sampling.primitives.base import GESTURE_CLASSES

AGENT_CLASSES: tuple[str, ...] = tuple(c for c in GESTURE_CLASSES if c != "none")
ANSWER_WINDOW: tuple[float, float] = (0.3, 3.0)  # agent onset this long after a human event = an answer (as VP)
DEFAULT_AGENT_RATE = 8.0  # agent gestures per minute when a condition sets no rate_per_min
GESTURE_DURATION_S = 1.5  # agent gesture duration for motion energy (s)
HUMAN_EVENT_DURATION_S = 1.2


@dataclass
class TrialEvents:
    """One simulated trial: agent onsets (+ class), human onsets (+ kind, + whether an answer), motion energy."""

    duration: float
    agent_t: np.ndarray
    agent_kind: list[str]
    human_t: np.ndarray
    human_kind: list[str]
    human_answer: np.ndarray  # bool per human onset: True when it answered an agent gesture (ground truth)
    mean_engagement: float
    experienced_contingency: float  # fraction of human events the agent answered within ANSWER_WINDOW
    fs: float = 10.0
    agent_energy: np.ndarray = field(default_factory=lambda: np.empty(0))
    human_energy: np.ndarray = field(default_factory=lambda: np.empty(0))


class AgentModel:
    """Event-level policy: schedule own onsets, react to human onsets."""

    def __init__(self, rate_per_min: float, rng: np.random.Generator):
        self.rate = float(rate_per_min)
        self.rng = rng

    def next_interval(self) -> float:
        """Gamma(shape 2) inter-onset interval with mean 60/rate (a renewal process: regular-ish, never periodic)."""
        return float(self.rng.gamma(2.0, 30.0 / self.rate)) if self.rate > 0 else math.inf

    def first(self) -> float:
        return float(self.rng.uniform(0, 60.0 / self.rate)) if self.rate > 0 else math.inf

    def choose(self, t: float, history: _History) -> str:
        return str(self.rng.choice(AGENT_CLASSES))

    def on_human(self, t: float, kind: str) -> tuple[float, str] | None:
        return None

    def own_schedule(self) -> bool:
        return True


class RandomAgent(AgentModel):
    """Non-contingent: renewal onsets, uniformly chosen classes."""


class IdleAgent(AgentModel):
    def own_schedule(self) -> bool:
        return False


class ReactiveAgent(AgentModel):
    """Rule-based backchannel: nods 0.3-1.0 s after a human event with probability 0.8; rare spontaneous gestures."""

    def __init__(self, rate_per_min: float, rng: np.random.Generator):
        super().__init__(rate_per_min * 0.25, rng)

    def choose(self, t: float, history: _History) -> str:
        return "nod"

    def on_human(self, t: float, kind: str) -> tuple[float, str] | None:
        if self.rng.random() < 0.8:
            return t + float(self.rng.uniform(0.3, 1.0)), "nod"
        return None


class MimicAgent(AgentModel):
    """Delayed copy of human events (1 s delay); nod for nod, beat for gesture."""

    def own_schedule(self) -> bool:
        return False

    def on_human(self, t: float, kind: str) -> tuple[float, str] | None:
        return t + 1.0, ("nod" if kind == "nod" else "beat")


class FepAgent(AgentModel):
    """Active-inference gesture choice over a learned Beta-Bernoulli response model per gesture class.

    Outcome o in {answered, not}; q(o|c) = Beta mean; preference p(o) = C (answered preferred). Expected free energy
    G(c) = KL[q(o|c) || C] + E_q(theta)[H[p(o|theta)]] - novelty (docs/architecture.md §3; Friston et al. 2017, Neural
    Comput. 29:1, eq. 7 with the Dirichlet novelty term of Schwartenbeck et al. 2019, eLife 8:e41703, eq. 10 restricted
    to one Bernoulli factor); q(c) = softmax(-gamma G).
    """

    def __init__(self, rate_per_min: float, rng: np.random.Generator, gamma: float = 8.0, pref: float = 0.9):
        super().__init__(rate_per_min, rng)
        self.gamma, self.pref = gamma, pref
        self.a = np.ones(len(AGENT_CLASSES))  # Beta counts: answered
        self.b = np.ones(len(AGENT_CLASSES))  # not answered
        self.pending: list[tuple[float, int]] = []
        self.last_answer = -math.inf

    def on_human(self, t: float, kind: str) -> tuple[float, str] | None:
        """A human event is a decision point (docs/architecture.md §3): answer with probability 0.6, at most every
        2 s."""
        if t - self.last_answer >= 2.0 and self.rng.random() < 0.6:
            self.last_answer = t
            return t + float(self.rng.uniform(0.4, 1.2)), ""
        return None

    def _learn(self, t: float, history: _History) -> None:
        lo, hi = ANSWER_WINDOW[0] + 0.3, ANSWER_WINDOW[1]
        keep = []
        for onset, k in self.pending:
            if t >= onset + hi:  # outcome window closed: count it
                got = history.any_human_between(onset + lo, onset + hi)
                self.a[k] += got
                self.b[k] += 1 - got
            else:
                keep.append((onset, k))
        self.pending = keep

    def expected_free_energy(self) -> np.ndarray:
        s = self.a + self.b
        q = self.a / s
        c = np.array([self.pref, 1 - self.pref])
        qo = np.stack([q, 1 - q], axis=1)
        risk = np.sum(rel_entr(qo, c), axis=1)  # KL(q(o) ‖ p(o|C))
        # E_Beta[H(Bern(theta))] = psi(s+1) - q psi(a+1) - (1-q) psi(b+1)  (closed form for a Beta posterior)
        ambiguity = digamma(s + 1) - q * digamma(self.a + 1) - (1 - q) * digamma(self.b + 1)
        novelty = 0.5 * (q * (1 / self.a - 1 / s) + (1 - q) * (1 / self.b - 1 / s))
        return risk + ambiguity - novelty

    def choose(self, t: float, history: _History) -> str:
        self._learn(t, history)
        g = self.expected_free_energy()
        k = int(self.rng.choice(len(AGENT_CLASSES), p=softmax(-self.gamma * g)))
        self.pending.append((t, k))
        return AGENT_CLASSES[k]


AGENT_MODELS: dict[str, type[AgentModel]] = {
    "random": RandomAgent, "reactive": ReactiveAgent, "mimic": MimicAgent, "idle": IdleAgent, "fep": FepAgent,
}


class _History:
    def __init__(self) -> None:
        self.human: list[float] = []
        self.agent: list[float] = []

    def any_human_between(self, lo: float, hi: float) -> int:
        return int(any(lo <= h <= hi for h in self.human[-20:]))

    def agent_answered_fraction(self, now: float, window: float) -> float | None:
        """Fraction of my events in the window the agent answered; None when there were none (keep the last)."""
        hs = [h for h in self.human if now - window <= h <= now - ANSWER_WINDOW[1]]
        if not hs:
            return None
        ag = np.asarray(self.agent)
        hits = sum(bool(np.any((ag >= h + ANSWER_WINDOW[0]) & (ag <= h + ANSWER_WINDOW[1]))) for h in hs)
        return hits / len(hs)


def _bumps(onsets: np.ndarray, n: int, fs: float, dur: float, amp: np.ndarray | float) -> np.ndarray:
    """Sum of half-sine bumps of length dur starting at each onset (motion energy of a gesture)."""
    out = np.zeros(n)
    k = max(1, round(dur * fs))
    shape = np.sin(np.pi * (np.arange(k) + 0.5) / k)
    amps = np.broadcast_to(np.asarray(amp, dtype=float), onsets.shape)
    for t, a in zip(onsets, amps):
        i = int(t * fs)
        j = min(n, i + k)
        if 0 <= i < n:
            out[i:j] += a * shape[: j - i]
    return out


def simulate_trial(policy: str, cfg: VirtualParticipantConfig, duration: float, rng: np.random.Generator,
                   agent_rate_per_min: float = DEFAULT_AGENT_RATE, fs: float = 10.0,
                   motion: bool = True) -> TrialEvents:
    """Simulate one trial of `policy` against a virtual participant with config `cfg` (event-driven, exact times)."""
    if policy not in AGENT_MODELS:
        raise ValueError(f"no event-level model for policy '{policy}' (have {sorted(AGENT_MODELS)})")
    agent = AGENT_MODELS[policy](agent_rate_per_min, rng)
    hist = _History()
    heap: list[tuple[float, int, str, str]] = []
    seq = 0

    def push(t: float, what: str, kind: str) -> None:
        nonlocal seq
        if t <= duration:
            heapq.heappush(heap, (t, seq, what, kind))
            seq += 1

    engagement = cfg.engagement_initial
    # the contingency the participant believes in at the start (as experiments.virtual_participant initializes it)
    contingency = (min(1.0, max(0.0, (cfg.engagement_initial - cfg.engagement_baseline) / cfg.engagement_gain))
                   if cfg.engagement_gain > 0 else 0.0)
    t_eng = 0.0
    eng_integral = 0.0
    spont_rate = (cfg.nod_rate + cfg.gesture_rate) / 60.0  # per second at engagement 1
    p_nod = cfg.nod_rate / max(cfg.nod_rate + cfg.gesture_rate, 1e-12)
    # Spontaneous events by thinning a rate-1-engagement Poisson process (Lewis & Shedler 1979).
    if spont_rate > 0:
        push(float(rng.exponential(1 / spont_rate)), "spont", "")
    if agent.own_schedule():
        push(agent.first(), "agent", "")
    agent_t: list[float] = []
    agent_kind: list[str] = []
    human_t: list[float] = []
    human_kind: list[str] = []
    human_ans: list[bool] = []
    last_human = -math.inf
    pending_answer: dict[float, bool] = {}

    def update_engagement(t: float) -> None:
        nonlocal engagement, t_eng, eng_integral, contingency
        seen = hist.agent_answered_fraction(t, cfg.contingency_window)
        contingency = contingency if seen is None else seen
        target = cfg.engagement_baseline + cfg.engagement_gain * contingency
        target = min(1.0, max(0.0, target))
        dt = t - t_eng
        decay = math.exp(-dt / cfg.engagement_tau)
        # exact integral of the exponential relaxation toward target over dt
        eng_integral += target * dt + (engagement - target) * cfg.engagement_tau * (1 - decay)
        engagement = target + (engagement - target) * decay
        t_eng = t

    while heap:
        t, _, what, kind = heapq.heappop(heap)
        update_engagement(t)
        if what == "spont":
            push(t + float(rng.exponential(1 / spont_rate)), "spont", "")
            if rng.random() < engagement and t - last_human >= cfg.refractory:
                kind = "nod" if rng.random() < p_nod else "gesture"
                what = "human"
            else:
                continue
        if what == "agent":
            k = kind or agent.choose(t, hist)
            scheduled = what == "agent" and not kind and not pending_answer.pop(t, False)
            agent_t.append(t)
            agent_kind.append(k)
            hist.agent.append(t)
            c = cfg.contingencies.get(k)
            if c is not None and rng.random() < c.probability * engagement:
                sd = math.sqrt(math.log(1 + (c.latency_sd / c.latency_mean) ** 2))  # lognormal with that mean/sd
                lat = float(rng.lognormal(math.log(c.latency_mean) - sd * sd / 2, sd))
                push(t + lat, "answer", c.response)
            if scheduled and agent.own_schedule():
                push(t + agent.next_interval(), "agent", "")
        elif what in ("human", "answer"):
            if t - last_human < cfg.refractory:
                continue
            last_human = t
            human_t.append(t)
            human_kind.append(kind)
            human_ans.append(what == "answer")
            hist.human.append(t)
            r = agent.on_human(t, kind)
            if r is not None:
                if not r[1]:
                    pending_answer[r[0]] = True  # chosen at onset, not part of the own schedule
                push(r[0], "agent", r[1])
    update_engagement(duration)
    a = np.asarray(agent_t)
    h = np.asarray(human_t)
    answered = 0
    for ht in h:
        answered += bool(np.any((a >= ht + ANSWER_WINDOW[0]) & (a <= ht + ANSWER_WINDOW[1])))
    trial = TrialEvents(duration, a, agent_kind, h, human_kind, np.asarray(human_ans, bool),
                        eng_integral / duration, answered / h.size if h.size else 0.0, fs)
    if motion:
        n = round(duration * fs)
        trial.agent_energy = 0.05 + _bumps(a, n, fs, GESTURE_DURATION_S, 1.0) + rng.normal(0, 0.02, n)
        drift = np.zeros(n)  # AR(1) postural sway, phi from a 3 s time constant
        phi = math.exp(-1 / (3.0 * fs))
        noise = rng.normal(0, 0.05 * math.sqrt(1 - phi * phi), n)
        for i in range(1, n):
            drift[i] = phi * drift[i - 1] + noise[i]
        amps = rng.uniform(0.5, 1.2, h.size)
        trial.human_energy = 0.1 + np.abs(drift) + _bumps(h, n, fs, HUMAN_EVENT_DURATION_S, amps) \
            + rng.normal(0, 0.03, n)
    return trial
