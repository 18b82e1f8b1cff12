"""Word sorting: list the given words in alphabetical order. Difficulty 1/2/3 = 3/5/8 words (3 shares prefixes)."""
from __future__ import annotations

import random

from llm.data.reasoning import REASONING_SYSTEM, format_answer, parse_answer
from llm.data.types import Example, Verdict

WORDS: tuple[str, ...] = (
    "apple", "banana", "cherry", "delta", "eagle", "forest", "garden", "harbor", "island", "jungle", "kettle",
    "lemon", "meadow", "number", "orange", "pepper", "quartz", "river", "silver", "tiger", "umbrella",
    "valley", "window", "yellow", "zebra", "anchor", "basket", "candle", "dragon", "engine", "falcon",
    "guitar", "hammer", "insect", "jacket", "kitten", "ladder", "mirror", "needle", "object", "pencil",
    "rabbit", "saddle", "tunnel", "violet", "walnut",
)
_PREFIX_FAMILIES: tuple[tuple[str, ...], ...] = (
    ("car", "card", "care", "cargo", "carpet", "carrot", "cart"),
    ("star", "start", "stare", "stark", "starch", "stars"),
    ("pan", "panda", "panel", "panic", "pant", "pants"),
)
_SIZES = {1: 3, 2: 5, 3: 8}


def generate(rng: random.Random, difficulty: int) -> Example:
    """Draw distinct words (difficulty 3 mixes in a shared-prefix family); gold = sorted list with its first letters."""
    if difficulty not in _SIZES:
        raise ValueError(f"difficulty must be 1, 2 or 3, got {difficulty}")
    n = _SIZES[difficulty]
    if difficulty == 3:
        fam = rng.choice(_PREFIX_FAMILIES)
        k = rng.randint(2, 4)
        words = rng.sample(fam, k) + rng.sample(WORDS, n - k)
    else:
        words = rng.sample(WORDS, n)
    rng.shuffle(words)
    ordered = sorted(words)
    steps = [f"{w[0]}: {w}" for w in ordered]
    user = "Sort these words alphabetically: " + " ".join(words)
    return Example(task="word_sort", difficulty=difficulty, system=REASONING_SYSTEM, user=user,
                   answer=format_answer(steps, ", ".join(ordered)), meta={"words": words})


def verify(example: Example, response: str) -> Verdict:
    """Format: think + answer line; correct: the answer lists exactly the words in sorted order."""
    ans = parse_answer(response)
    if ans is None:
        return Verdict(False, False, "expected <think>...</think> then 'Answer: w1, w2, ...'")
    got = [w.strip().lower() for w in ans.split(",") if w.strip()]
    want = sorted(example.meta["words"])
    if got != want:
        return Verdict(True, False, f"got {got}, want {want}")
    return Verdict(True, True)
