"""The backchannel option: the engagement factor's transitions depend on whether a gesture answers the human's own
event (docs/architecture.md §3), G sees the value of answering once the engagement model has learned it, and an agent
facing a human who answers only its answers learns to answer."""
from __future__ import annotations

import numpy as np
import pytest
from test_agent_contingency import SimulatedHuman, run_agent

from fep_motion.model.config import load_agent_config
from fep_motion.model.generative import ENGAGEMENT_FACTOR, build_generative_model, update_transitions
from fep_motion.model.spaces import ENGAGEMENT, ENGAGEMENT_CONTROLS
from fep_motion.policies.fep_policy import FepPolicy
from selection.efe import EfeKernel, expected_free_energy

IDLE, UNPROMPTED, ANSWER = (ENGAGEMENT_CONTROLS.index(u) for u in ("idle", "unprompted", "answer"))
NOD = 1  # CONTROLS index of the nod class


def _g_answer_minus_unprompted(model, qs) -> float:
    """G(nod now, as an answer) − G(nod now, unprompted), the reference path and the kernel (they must agree)."""
    pols = np.array([[[ANSWER, NOD], [ANSWER, NOD]], [[UNPROMPTED, NOD], [UNPROMPTED, NOD]]])
    ref = [expected_free_energy(qs, model.A, model.B, model.C, p)[0] for p in pols]
    G = EfeKernel(model.A, model.C, model.num_states).evaluate(qs, model.B, pols).G
    assert G == pytest.approx(ref, abs=1e-10)
    return float(G[0] - G[1])


@pytest.mark.parametrize("learned", ["engages", "disengages"])
def test_g_prefers_answering_once_the_engagement_model_has_learned_it(learned: str) -> None:
    """From a flat prior (answering = unprompted) G cannot tell the two apart; after Dirichlet counts saying answering
    moves this person to 'engaged' G prefers the answer, and after counts saying it moves them to 'disengaged' it
    prefers the unprompted gesture: the preference is learned, not built in."""
    model = build_generative_model(load_agent_config())
    model.pB[ENGAGEMENT_FACTOR][:, :, ANSWER] = model.pB[ENGAGEMENT_FACTOR][:, :, UNPROMPTED]
    model.refresh_B()
    qs = [np.array([0.2, 0.6, 0.2]), np.array([0.9, 0.04, 0.03, 0.03])]
    assert _g_answer_minus_unprompted(model, qs) == pytest.approx(0.0, abs=1e-12)
    to = ENGAGEMENT.index("engaged" if learned == "engages" else "disengaged")
    for _ in range(10):  # ten answered steps, each from 'attending' to `to`
        q_to, q_from = np.eye(3)[to], np.eye(3)[ENGAGEMENT.index("attending")]
        update_transitions(model, [q_to, None], [q_from, None], [ANSWER, 0], lr=2.0)
    diff = _g_answer_minus_unprompted(model, qs)
    assert (diff < -0.01) if learned == "engages" else (diff > 0.01), diff


def test_answering_is_a_gestures_timing_after_the_humans_event() -> None:
    """A candidate answers when its onset is 0.3-3 s after a detected human event's onset; idle never answers."""
    agent = FepPolicy()
    agent.reset(0)
    agent._human_events = [(10.0, "nod")]
    agent._t = 10.5
    pols = agent.candidate_policies(np.array([0.0, 0.2, 0.0]), np.array([NOD, NOD, 0]), now=10.2)
    assert pols[0, 0, ENGAGEMENT_FACTOR] == UNPROMPTED  # onset 10.2: 0.2 s after the event, too early
    assert pols[1, 0, ENGAGEMENT_FACTOR] == ANSWER  # onset 10.4: an answer
    assert np.all(pols[2, :, ENGAGEMENT_FACTOR] == IDLE)
    late = agent.candidate_policies(np.array([0.1]), np.array([NOD]), now=13.0)
    assert late[0, 0, ENGAGEMENT_FACTOR] == UNPROMPTED  # 3.1 s after: no longer an answer


class BackchannelHuman(SimulatedHuman):
    """Nods spontaneously every `period` s; nods back after an agent gesture only when that gesture's onset came
    0.3-3 s after the onset of the human's own latest nod (it answers the agent's answers, nothing else)."""

    period: float = 7.0

    def observe(self, t: float):
        due = not self.nods or t >= self.nods[-1] + self.period
        if due and (not self._pending or min(self._pending) > t):
            self._pending.append(t)
        return super().observe(t)

    def agent_gesture(self, gesture_class: str, onset: float) -> None:
        own = [s for s in self.nods if 0.3 <= onset - s <= 3.0]
        if own:
            self._pending.append(onset + self.latency)


def _answer_shares(seed: int, seconds: float, human_type: type = BackchannelHuman) -> tuple[float, float, FepPolicy]:
    """Share of the agent's gestures that answer one of the human's nods, in the first and the last third; the
    agent."""
    human = human_type(answers="", seed=seed)
    agent = FepPolicy()
    agent.reset(seed)
    onsets = [onset for onset, _ in run_agent(agent, human, seconds)]
    # an answer starts 0.3-3 s after one of the human's nods (nods after the onset cannot qualify)
    gestures = [(onset, any(0.3 <= onset - s <= 3.0 for s in human.nods)) for onset in onsets]
    third = seconds / 3
    first = [a for t, a in gestures if t < third]
    last = [a for t, a in gestures if t >= 2 * third]
    return float(np.mean(first)), float(np.mean(last)), agent


class UnpromptedHuman(BackchannelHuman):
    """The reverse contingency: nods back only after agent gestures that do not follow one of its own nods."""

    def agent_gesture(self, gesture_class: str, onset: float) -> None:
        if not any(0.3 <= onset - s <= 3.0 for s in self.nods):
            self._pending.append(onset + self.latency)


def _engaged_after(agent: FepPolicy, control: int) -> float:
    """p(engaged one step on | the agent's current engagement belief, engagement control), as learned."""
    B = agent.model.B[ENGAGEMENT_FACTOR][:, :, control]
    return float((B @ agent.qs[ENGAGEMENT_FACTOR])[ENGAGEMENT.index("engaged")])


def test_agent_learns_to_answer_a_human_who_answers_its_answers() -> None:
    """Facing a human who nods back only when the agent's gesture came 0.3-3 s after the human's own nod, the agent
    learns that answering engages this person more than gesturing unprompted, and its share of answering gestures
    rises from the first to the last third of a 3-minute session (mean over two seeds). Against the reverse human
    (who answers only unprompted gestures) the same agent learns the opposite."""
    firsts, lasts = [], []
    for seed in (0, 1):
        first, last, agent = _answer_shares(seed, 180.0)
        firsts.append(first)
        lasts.append(last)
        assert _engaged_after(agent, ANSWER) > _engaged_after(agent, UNPROMPTED) + 0.05, seed
        assert last >= 0.35, (seed, first, last)
    assert np.mean(lasts) >= np.mean(firsts) + 0.1, (firsts, lasts)
    _first, _last, agent = _answer_shares(0, 180.0, UnpromptedHuman)
    assert _engaged_after(agent, ANSWER) < _engaged_after(agent, UNPROMPTED) - 0.05
