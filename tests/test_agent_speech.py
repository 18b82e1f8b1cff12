"""The agent hears: pause trials teach the engagement model whether a nod or tilt in the speaker's pause keeps them
talking (docs/architecture.md §3, eqs. 3.12-3.13), G then prefers the backchannel, large gestures wait for the
speaker's turn to end unless G says otherwise (and the record says so), and a session without audio is unchanged."""
from __future__ import annotations

import numpy as np
import pytest

from fep_motion.model.generative import ACTIVITY_FACTOR, ENGAGEMENT_FACTOR, pooled_speech_B
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


def _pauses(agent: FepPolicy, n: int, goes_on_after_nod: bool, goes_on_otherwise: bool, t0: float = 0.0,
            nod: bool | None = None) -> float:
    """n pauses of a speaker: 2 s of speech, an offset cue, the agent nods in every other pause right at the cue (or
    in each when `nod`, in none when not); 1.5 s later the speaker is speaking again or silent as the two flags say.
    Returns the time reached."""
    t = t0
    for k in range(n):
        for _ in range(int(2 * FPS)):
            t += 1 / FPS
            agent._listen(_obs(t, True), t)
        t += 1 / FPS
        agent._listen(_obs(t, False, ("offset",)), t)
        nodded = k % 2 == 0 if nod is None else nod
        if nodded:  # what decide() does for a nod or tilt chosen with its onset in the pause
            agent._pause.control = BACKCHANNEL
        on = goes_on_after_nod if nodded else goes_on_otherwise
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


def test_a_held_decision_waits_for_the_pause_for_up_to_max_await_s() -> None:
    """Once the backchannel gain passes the margin, a decision due while the speaker talks waits for their pause for
    up to decision.max_await_s (a phrase and the voice gate's hangover take ~2.4 s, longer than max_yield_s), and is
    taken at the cue as 'speech_cue'; with no cue it goes ahead when the wait runs out."""
    for cue_at, want in ((3.0, ("speech_cue", 3.0)), (None, ("gesture_end", 4.0))):
        agent = FepPolicy()
        agent.reset(0)
        agent.backchannel_gain = lambda: 1.0  # a learned speaker: the gain is past the margin
        assert agent.cfg.decision.max_await_s == 4.0 > agent.cfg.decision.max_yield_s
        agent._decided_once, agent._free_since, agent._pending_end = True, -1.0, True
        agent.qs[ACTIVITY_FACTOR][:] = np.eye(len(agent.qs[ACTIVITY_FACTOR]))[0]  # the body is still
        got = None
        for i in range(int(5 * FPS)):
            t = i / FPS
            cue = cue_at is not None and abs(t - cue_at) < 0.5 / FPS
            obs = _obs(t, not cue, ("offset",) if cue else ())
            agent._t = t
            agent._listen(obs, t)
            reason = agent._decision_reason(obs, t)
            if reason is not None:
                got = (reason, round(t, 1))
                break
        assert got == want


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


def test_the_early_silence_cue_opens_the_pause_trial_and_the_offset_joins_it() -> None:
    """The speaker stops: the silence cue (200 ms in, the gate still holding the turn) opens the pause trial, so a
    backchannel can start while the speaker's response window is open; the gate's offset 200 ms later belongs to
    the same pause and opens no second trial."""
    agent = FepPolicy()
    agent.reset(0)
    agent._listen(_obs(0.0, True), 0.0)
    agent._listen(_obs(1.2, True, ("silence",)), 1.2)
    assert agent._pause is not None and agent._pause.t_cue == 1.2 and agent._cue_now
    agent._listen(_obs(1.4, False, ("offset",)), 1.4)
    assert agent._pause.t_cue == 1.2 and not agent._cue_now


def _agent_in_a_pause() -> FepPolicy:
    """An agent that heard the human speak from t = 0 and stop at t = 1 (the pause cue), deciding at t = 1."""
    agent = FepPolicy()
    agent.reset(0)
    agent._listen(_obs(0.0, True), 0.0)
    agent._listen(_obs(1.0, False, ("offset",)), 1.0)
    agent._t = 1.0
    return agent


def test_in_the_pause_a_nod_now_and_the_same_nod_later_differ_only_by_the_pause_trial() -> None:
    """Deciding in the pause, the first step is the pause trial: backchannel for the nod that starts in it, let_pass
    for the same nod starting after the window (and for a wave, and a wait); the steps after are the gesture's own
    (unprompted), so G tells the two nods apart by the backchannel gain alone. Outside a pause nothing changes."""
    agent = _agent_in_a_pause()
    nod, wave = CONTROLS.index("nod"), CONTROLS.index("wave")
    unprompted, idle = ENGAGEMENT_CONTROLS.index("unprompted"), ENGAGEMENT_CONTROLS.index("idle")
    inside = PAUSE_WINDOW_S / 2
    onsets, classes = np.array([inside, PAUSE_WINDOW_S + 0.1, inside, 0.3]), np.array([nod, nod, wave, 0])
    eng = agent.candidate_policies(onsets, classes, now=1.0)[:, :, ENGAGEMENT_FACTOR]
    assert eng.tolist() == [[BACKCHANNEL, unprompted], [LET_PASS, unprompted], [LET_PASS, unprompted],
                            [LET_PASS, idle]]
    later = agent.candidate_policies(onsets, classes, now=1.0 + PAUSE_WINDOW_S + 0.05)[:, :, ENGAGEMENT_FACTOR]
    assert later.tolist() == [[unprompted, unprompted]] * 3 + [[idle, idle]]


def test_deciding_in_the_pause_gives_the_backchannel_window_half_the_candidates() -> None:
    """At a decision in the pause the trial's two options get equal prior mass: half of the candidates start in
    what is left of the pause window, whatever its width; outside a pause onsets spread over max_onset_s, where the
    window would hold ~13 %."""
    agent = _agent_in_a_pause()
    inside = []
    for now in (1.0, 1.0 + PAUSE_WINDOW_S / 2, 1.0 + PAUSE_WINDOW_S + 0.05):
        agent.decide(now, "speech_cue")
        onsets = agent.last_decision.candidates.onset_delay
        inside.append(float(np.mean(now + onsets <= 1.0 + PAUSE_WINDOW_S + 1e-9)))
    assert inside[0] == pytest.approx(0.5 + 0.5 * PAUSE_WINDOW_S / agent.cfg.max_onset_s, abs=0.08)
    assert inside[1] == pytest.approx(0.5 + 0.25 * PAUSE_WINDOW_S / agent.cfg.max_onset_s, abs=0.08)
    assert inside[2] == 0.0  # the window has passed: no candidate is steered into it


def test_pause_trials_count_the_outcome_not_the_controls_own_prediction() -> None:
    """Both speech controls' pause trials are scored under their shared prior, so a speaker who goes on two pauses
    in three whatever the agent does leaves no backchannel gain, in whichever order the outcomes come (scored under
    each control's own prediction, the counts fed back into it and the gain stayed at -0.07 to -0.14 over the
    last 12 pauses here), while one who
    goes on after 5 of 6 backchannels does leave one."""
    def gains(after_nod: list[bool], otherwise: list[bool]) -> list[float]:
        agent = FepPolicy()
        agent.reset(0)
        agent._hears = True
        agent.cfg.novelty = False
        out, t, k_nod, k_other = [], 0.0, 0, 0
        for k in range(48):
            nod = k % 3 == 0
            if nod:
                goes_on, k_nod = after_nod[k_nod % len(after_nod)], k_nod + 1
            else:
                goes_on, k_other = otherwise[k_other % len(otherwise)], k_other + 1
            t = _pauses(agent, 1, goes_on, goes_on, t, nod=nod)
            out.append(agent.backchannel_gain())
        return out

    margin = FepPolicy().cfg.decision.backchannel_margin
    for a, b in (([True, True, False], [True, False, True]), ([False, True, True], [True, True, False])):
        g = gains(a, b)[-12:]  # the last 12 pauses (early on, a few trials rightly move it either way)
        assert max(abs(x) for x in g) < min(0.05, margin), g
    assert gains([True, True, True, False, True, True], [True, False, True])[-1] > max(0.08, margin)


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
