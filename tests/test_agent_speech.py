"""The agent hears: pause trials teach the engagement model whether a nod or tilt in the speaker's pause keeps them
talking (docs/architecture.md §3, eqs. 3.12-3.13), G then prefers the backchannel, large gestures wait for the
speaker's turn to end unless G says otherwise (and the record says so), and a session without audio is unchanged."""
from __future__ import annotations

import numpy as np
import pytest

from fep_motion.model.generative import ENGAGEMENT_FACTOR, pooled_speech_B
from fep_motion.model.spaces import CONTROLS, ENGAGEMENT_CONTROLS, LARGE_CLASSES, PAUSE_WINDOW_S
from fep_motion.policies.fep_policy import FepPolicy
from perception.types import Observation
from sampling.primitives import get_primitive

FPS = 30.0
BACKCHANNEL, LET_PASS = (ENGAGEMENT_CONTROLS.index(u) for u in ("backchannel", "let_pass"))


def _obs(t: float, speaking: bool | None, events: tuple[str, ...] = ()) -> Observation:
    o = Observation.missing(t)
    o.speaking, o.speech_events = speaking, events
    return o


def _pauses(agent: FepPolicy, n: int, goes_on_after_nod: bool, goes_on_otherwise: bool, t0: float = 0.0) -> float:
    """n pauses of a speaker: 2 s of speech, an offset cue, the agent nods in every other pause right at the cue;
    1.5 s later the speaker is speaking again or silent as the two flags say. Returns the time reached."""
    t = t0
    for k in range(n):
        for _ in range(int(2 * FPS)):
            t += 1 / FPS
            agent._listen(_obs(t, True), t)
        t += 1 / FPS
        agent._listen(_obs(t, False, ("offset",)), t)
        nod = k % 2 == 0
        if nod:  # what decide() does for a nod or tilt chosen with its onset in the pause
            agent._pause.control = BACKCHANNEL
        on = goes_on_after_nod if nod else goes_on_otherwise
        for _ in range(int(1.6 * FPS)):
            t += 1 / FPS
            agent._listen(_obs(t, on), t)
    return t


def test_pause_trials_teach_the_value_of_a_backchannel_and_g_follows() -> None:
    """Before any pause trial a backchannel and a pause let pass are worth the same (gain 0). A speaker who goes on
    after the agent's nods and stops otherwise makes G prefer the backchannel (gain above the margin); the reverse
    speaker makes it prefer letting pauses pass; a speaker who goes on either way gives no preference."""
    gains = {}
    for name, after_nod, otherwise in (("sustained", True, False), ("reverse", False, True), ("either", True, True)):
        agent = FepPolicy()
        agent.reset(0)
        agent._hears = True
        agent.cfg.novelty = False  # the gain from the learned transitions alone (novelty adds exploration value)
        assert agent.backchannel_gain() == pytest.approx(0.0, abs=1e-12)
        _pauses(agent, 16, after_nod, otherwise)
        gains[name] = agent.backchannel_gain()
    margin = FepPolicy().cfg.decision.backchannel_margin
    assert gains["sustained"] > margin, gains
    assert gains["reverse"] < -margin, gains
    assert abs(gains["either"]) < margin, gains


def test_pooled_prior_judges_a_little_tried_control_by_the_speakers_pauses() -> None:
    """Many let-pass trials and one backchannel, same outcomes: under the pooled prior the two predict alike (the
    initial prior alone would make the little-tried backchannel look better)."""
    agent = FepPolicy()
    agent.reset(0)
    agent._hears = True
    _pauses(agent, 2, False, False)
    for _ in range(10):
        _pauses(agent, 1, False, False)  # odd pauses only: let pass, speaker stops
    B = agent.model.B[ENGAGEMENT_FACTOR]
    P = pooled_speech_B(agent.model)
    raw_gap = np.abs(B[:, :, BACKCHANNEL] - B[:, :, LET_PASS]).max()
    pooled_gap = np.abs(P[:, :, BACKCHANNEL] - P[:, :, LET_PASS]).max()
    assert pooled_gap < raw_gap / 2, (pooled_gap, raw_gap)


def test_a_nod_in_the_pause_is_a_backchannel_and_a_wait_lets_it_pass() -> None:
    agent = FepPolicy()
    agent.reset(0)
    agent._listen(_obs(0.0, True), 0.0)
    agent._listen(_obs(1.0, False, ("offset",)), 1.0)
    agent._t = 1.0
    nod, wave = CONTROLS.index("nod"), CONTROLS.index("wave")
    pols = agent.candidate_policies(np.array([0.1, PAUSE_WINDOW_S + 0.2, 0.1, 0.3]), np.array([nod, nod, wave, 0]),
                                    now=1.0)
    eng = pols[:, 0, ENGAGEMENT_FACTOR]
    assert eng[0] == BACKCHANNEL and eng[1] != BACKCHANNEL and eng[2] != BACKCHANNEL and eng[3] == LET_PASS


def _session(agent: FepPolicy, seconds: float, speaking) -> list:
    """Step the agent at 30 Hz with the body busy for each command's duration; returns (command, record) pairs."""
    out, busy = [], -1.0
    for i in range(int(seconds * FPS)):
        t = i / FPS
        agent.set_body_busy(t < busy, t)
        cmd = agent.step(_obs(t, speaking(t)), t)
        rec = agent.take_decision()
        if cmd is not None:
            busy = cmd.onset + get_primitive(cmd.primitive).duration(cmd.params)
            out.append((cmd, rec))
    return out


def test_no_large_gesture_over_speech_without_the_stated_reason() -> None:
    """A person who talks without pause cues for 90 s: every large gesture the agent makes carries the reason
    'over_speech', with G below every small candidate's by the margin. Without audio the same agent does make
    large gestures (so the rule is what holds them back)."""
    large = {CONTROLS.index(c) for c in LARGE_CLASSES}
    deaf = _session(FepPolicy(), 90.0, lambda t: None)
    assert any(CONTROLS.index(c.meta["gesture_class"]) in large for c, _ in deaf)
    for seed, margin in ((0, 1.0), (1, 0.0)):
        agent = FepPolicy(decision={"over_speech_margin": margin})
        agent.reset(seed)
        heard = _session(agent, 90.0, lambda t: True)
        assert heard
        for cmd, rec in heard:
            if cmd.meta["gesture_class"] in LARGE_CLASSES:
                assert rec.reason == "over_speech" and "trigger" in rec.extra
                G, cls = rec.candidates.G, rec.candidates.gesture_index
                small = ~np.isin(cls, list(large))
                assert G[rec.chosen] <= G[small].min() - margin + 1e-12
            else:
                assert rec.reason != "over_speech"
    quiet = FepPolicy(decision={"over_speech_margin": 1e9})
    quiet.reset(0)
    assert not [c for c, _ in _session(quiet, 90.0, lambda t: True) if c.meta["gesture_class"] in LARGE_CLASSES]


def test_a_session_without_audio_is_not_changed_by_the_speech_model() -> None:
    """The speech modality and its preference are read only when the session hears: without audio, agents with
    different speech preferences decide exactly alike."""
    runs = []
    for pref in (0.0, 3.0):
        agent = FepPolicy(preferences={"speech": {"speaking": pref}, "event": {"nod": 3.0, "gesture": 2.0},
                                       "head": {"pitching": 2.0}, "arms": {"moving": 2.0}, "facing": {"toward": 1.0}})
        agent.reset(3)
        runs.append([(c.primitive, round(c.onset, 6)) for c, _ in _session(agent, 40.0, lambda t: None)])
    assert runs[0] == runs[1] and runs[0]
