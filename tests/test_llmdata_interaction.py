"""Interaction-turn generator and verifier: agreement, determinism, rejection of wrong intents and broken formats."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.data import interaction as I
from llm.data.types import Example


def _ex(utterance: str, perception: str = "none") -> Example:
    return Example("interaction", 1, I.SYSTEM_PROMPT, I.format_user(utterance, perception), "", {})


@given(seed=st.integers(0, 2**32 - 1), difficulty=st.sampled_from([1, 2, 3]))
@settings(max_examples=300, deadline=None)
def test_gold_answer_passes_and_every_other_intent_fails(seed: int, difficulty: int) -> None:
    ex = I.generate(random.Random(seed), difficulty)
    gold, reply = I.parse_response(ex.answer)
    assert gold == ex.meta["intent"]
    assert I.verify(ex, ex.answer).correct, (ex.user, ex.answer, I.verify(ex, ex.answer).reason)
    for other in I.INTENTS:
        if other != gold:
            v = I.verify(ex, f"<intent>{other}</intent> {reply}")
            assert v.format_ok and not v.correct


def test_all_intents_and_difficulties_are_generated() -> None:
    rng = random.Random(0)
    seen = {(I.generate(rng, d).meta["intent"], d) for d in (1, 2, 3) for _ in range(400)}
    assert seen == {(i, d) for i in I.INTENTS for d in (1, 2, 3)}


def test_same_seed_same_examples_different_seed_different() -> None:
    a = [I.generate(random.Random(7), 2) for _ in range(3)]
    b = [I.generate(random.Random(7), 2) for _ in range(3)]
    c = [I.generate(random.Random(8), 2) for _ in range(3)]
    assert a == b and a != c


@pytest.mark.parametrize("utterance,perception,intent", [
    ("Hi! I just came back from a trip to Kyoto.", "none", "greet"),          # greeting opener wins over news
    ("I just came back from a trip to Kyoto.", "none", "ask"),
    ("Okay, bye for now!", "the user nodded twice; engagement high; looking at you", "farewell"),
    ("Can you explain why the sky is blue?", "none", "explain"),
    ("I'm nervous about my exam tomorrow.", "none", "encourage"),
    ("Okay.", "the user did not nod; engagement low; looking away", "encourage"),  # perception decides
    ("Okay.", "the user nodded once; engagement high; looking at you; the user is still speaking", "listen"),
    ("I think walking is underrated.", "the user nodded twice; engagement high; looking at you", "agree"),
    ("My friend took me to Oslo and then...", "none", "listen"),
])
def test_cue_rules(utterance: str, perception: str, intent: str) -> None:
    assert I.expected_intent(utterance, perception) == intent


def test_verifier_rejects_broken_formats_and_off_intent_replies() -> None:
    ex = _ex("I just came back from a trip to Kyoto.")
    assert I.verify(ex, "<intent>ask</intent> How was Kyoto?").correct
    for bad in ("How was Kyoto?", "<intent>wonder</intent> How was Kyoto?", "<intent>ask</intent>",
                "<intent>ask</intent> How\nwas Kyoto?", "<intent>ask</intent> " + "word " * 41 + "?"):
        assert not I.verify(ex, bad).format_ok, bad
    v = I.verify(ex, "<intent>ask</intent> Kyoto is lovely.")  # ask must ask
    assert v.format_ok and not v.correct and "question" in v.reason
    v = I.verify(_ex("Hello!"), "<intent>greet</intent> Nice weather.")
    assert not v.correct and "greeting" in v.reason


def test_perception_summary_roundtrip() -> None:
    p = I.Perception(nods=2, engagement="low", gaze="away", speaking=True)
    utterance, summary = I.parse_user(I.format_user("so, um", p.summary()))
    assert utterance == "so, um"
    assert summary == "the user nodded twice; engagement low; looking away; the user is still speaking"


def test_bad_difficulty_is_rejected() -> None:
    with pytest.raises(ValueError, match="difficulty"):
        I.generate(random.Random(0), 4)
