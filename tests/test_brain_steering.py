"""Intent -> habit/preference shifts (bounded, monotone, fading) and raw-output intent parsing."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm.brain.intent import parse_reply
from llm.brain.steering import HABIT_SHIFTS, PREFERENCE_SHIFTS, SteeringBounds, decayed_strength, intent_shift
from llm.data.interaction import INTENTS
from sampling.primitives.base import GESTURE_CLASSES

finite = st.floats(-10, 10, allow_nan=False)


@given(intent=st.sampled_from(INTENTS), strength=st.floats(allow_nan=True, allow_infinity=True),
       mh=st.floats(0, 3), mp=st.floats(0, 3))
def test_shifts_stay_within_bounds(intent: str, strength: float, mh: float, mp: float) -> None:
    b = SteeringBounds(max_habit=mh, max_preference=mp)
    s = intent_shift(intent, strength, b)
    assert all(abs(v) <= mh + 1e-12 and math.isfinite(v) for v in s.habits.values())
    assert all(abs(v) <= mp + 1e-12 and math.isfinite(v) for v in s.preferences.values())


@given(intent=st.sampled_from(INTENTS), a=st.floats(0, 1), b=st.floats(0, 1))
def test_shift_magnitude_is_monotone_in_strength(intent: str, a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    s_lo, s_hi = intent_shift(intent, lo), intent_shift(intent, hi)
    for g in s_hi.habits:
        assert abs(s_lo.habits[g]) <= abs(s_hi.habits[g]) + 1e-12


def test_zero_strength_and_unknown_intent_shift_nothing() -> None:
    assert all(v == 0 for v in intent_shift("agree", 0.0).habits.values())
    s = intent_shift("dance", 1.0)
    assert s.habits == {} and s.preferences == {}


def test_named_mappings_of_the_issue() -> None:
    assert intent_shift("greet").habits["wave"] > 0
    assert intent_shift("agree").habits["nod"] > 0 > intent_shift("agree").habits["shake"]
    assert intent_shift("listen").preferences[("event", "nod")] > 0  # backchannel preference


def test_keys_name_real_gestures_and_outcomes() -> None:
    pytest.importorskip("fep_motion.model.spaces")
    from fep_motion.model.spaces import MODALITIES

    assert set(HABIT_SHIFTS) == set(INTENTS) == set(PREFERENCE_SHIFTS)
    for table in HABIT_SHIFTS.values():
        assert set(table) <= set(GESTURE_CLASSES)
    for table in PREFERENCE_SHIFTS.values():
        for modality, outcome in table:
            assert outcome in MODALITIES[modality]


@given(age=st.floats(0, 1000), half=st.floats(0.1, 100))
def test_decay_halves_each_half_life(age: float, half: float) -> None:
    b = SteeringBounds(half_life_s=half)
    assert decayed_strength(age + half, b) == pytest.approx(decayed_strength(age, b) / 2, rel=1e-9, abs=1e-300)
    assert 0 <= decayed_strength(age, b) <= 1


def test_bounds_validate() -> None:
    with pytest.raises(ValueError, match="max_habit"):
        SteeringBounds(max_habit=-1)


@pytest.mark.parametrize("raw,reply,intent,parsed", [
    ("<intent>ask</intent> How was Kyoto?", "How was Kyoto?", "ask", True),
    ("<think>the user greets</think><intent>greet</intent> Hello!", "Hello!", "greet", True),
    ("Sure, I agree.\nintent: agree", "Sure, I agree.", "agree", True),
    ("[encourage] You can do it.", "You can do it.", "encourage", True),
    ("How was your trip?", "How was your trip?", "ask", False),
    ("Goodbye!", "Goodbye!", "farewell", False),
    ("<intent>dance</intent> Hm.", "<intent>dance</intent> Hm.", "listen", False),
    ("reasoning...</think><intent>listen</intent> Go on.<|im_end|>", "Go on.", "listen", True),
])
def test_parse_reply(raw: str, reply: str, intent: str, parsed: bool) -> None:
    assert parse_reply(raw) == (reply, intent, parsed)


def test_perception_summary_matches_the_training_format() -> None:
    from llm.brain.perception_summary import summarize
    from llm.data.interaction import expected_intent

    s = summarize(nods=2, engagement=0.9, facing=0.8)
    assert s == "the user nodded twice; engagement high; looking at you"
    low = summarize(nods=0, engagement=0.1, facing=0.1, head_pitch=0.5)
    assert low == "the user did not nod; engagement low; looking down"
    assert expected_intent("Okay.", low) == "encourage"  # the brain's cue rules read the same words
    assert "still speaking" in summarize(1, float("nan"), float("nan"), speaking=True)
    assert "engagement medium; looking at you" in summarize(1, float("nan"), float("nan"))


def test_steering_state_fades_the_latest_intent() -> None:
    from llm.brain.steering import SteeringState

    s = SteeringState(SteeringBounds(half_life_s=10.0))
    assert s.current(0.0).habits == {}
    s.update("greet", now=5.0)
    assert s.current(5.0).habits["wave"] == pytest.approx(1.0)
    assert s.current(15.0).habits["wave"] == pytest.approx(0.5)
    s.update("agree", now=20.0)
    assert "wave" not in s.current(20.0).habits and s.current(20.0).habits["nod"] > 0
