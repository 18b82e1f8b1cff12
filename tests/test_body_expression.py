"""The face's behaviour over time (seeded, no rendering): blink rates at rest and while speaking, a blink with each
nod, blink shape, thinking aversion until the reply is spoken, mutual gaze returning at the end of a turn."""

from __future__ import annotations

import numpy as np

from fep_motion.body.expression import Expression, ExpressionParams, Utterance, blink_lid
from fep_motion.voice.envelope import RATE

FPS = 30.0


def run(ex: Expression, t0: float, t1: float) -> list:
    return [ex.step(float(t)) for t in np.arange(t0, t1, 1.0 / FPS)]


def test_blink_rate_at_rest_is_12_to_20_per_minute_over_seeds():
    rates = []
    for seed in range(5):
        ex = Expression(seed=seed)
        run(ex, 0.0, 600.0)
        rates.append(len(ex.blinks) / 10.0)
    assert all(12.0 <= r <= 20.0 for r in rates), rates


def test_blinks_are_faster_while_speaking():
    ex_rest, ex_talk = Expression(seed=1), Expression(seed=1)
    ex_talk.speak(Utterance(0.0, np.full(int(600 * RATE), 0.5), RATE, "a long speech"))
    run(ex_rest, 0.0, 600.0)
    run(ex_talk, 0.0, 600.0)
    assert len(ex_talk.blinks) / 10.0 >= 1.3 * len(ex_rest.blinks) / 10.0
    assert 20.0 <= len(ex_talk.blinks) / 10.0 <= 28.0


def test_each_nod_brings_one_blink_at_its_onset():
    ex = Expression(seed=2, params=ExpressionParams(blink_rate=0.5, blink_rate_speaking=0.5))  # spontaneous: rare
    run(ex, 0.0, 5.0)
    before = len(ex.blinks)
    for onset in (6.0, 9.0, 12.0):
        ex.nod(onset)
        ex.nod(onset)  # the same nod reported twice blinks once
    frames = run(ex, 5.0, 14.0)
    assert len(ex.blinks) == before + 3
    lids = np.array([face.lid for _, face in frames])
    times = np.arange(5.0, 14.0, 1.0 / FPS)
    for onset in (6.0, 9.0, 12.0):
        near = (times >= onset) & (times < onset + 0.3)
        assert lids[near].max() > 0.95  # shut within the blink


def test_blink_closes_faster_than_it_opens():
    p = ExpressionParams()
    t = np.linspace(0.0, 0.5, 501)
    lid = np.array([blink_lid(float(x), p) for x in t])
    closing = t[np.argmax(lid >= 0.99)]
    reopened = t[len(lid) - 1 - np.argmax(lid[::-1] >= 0.01)]
    assert closing < 0.1 and reopened - closing > 0.2
    assert blink_lid(-0.1, p) == 0.0 and blink_lid(1.0, p) == 0.0


def test_thinking_aversion_holds_until_speech_then_gaze_returns():
    ex = Expression(seed=4, default_target=(1.3, 0.1, 1.54))
    run(ex, 0.0, 2.0)
    ex.thinking(2.0)
    think = run(ex, 2.0, 3.5)
    assert all(np.hypot(*face.gaze_offset) > 0.2 for _, face in think[5:])  # looking away while thinking
    ex.speak(Utterance(3.5, np.full(int(2.0 * RATE), 0.6), RATE, "reply"))
    speech = run(ex, 3.5, 5.5)
    t = np.arange(3.5, 5.5, 1.0 / FPS)
    off = np.array([np.hypot(*face.gaze_offset) for _, face in speech])
    assert off[t < 4.3].min() > 0.2  # the aversion is held into the start of the reply
    assert off[t > 4.6].max() < 0.12  # then back to the listener for the end of the turn (saccades only)
    assert max(face.jaw for _, face in speech) > 0.5 and speech[0][1].brow >= 0.0
