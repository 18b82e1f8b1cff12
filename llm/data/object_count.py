"""Object counting: "I have two apples, a piano and a cat. How many fruits do I have?" (BIG-bench style).

Difficulty 1/2/3 = 3/5/7 item phrases; quantities up to 1/3/5 written as words. The gold steps walk every phrase
in the question's order, a line each, so no line needs more than one lookup: "two pianos: instrument, not a fruit"
or "three apples: fruit, 3, total 3" (the running total of the asked category). The verifier compares the integer.
"""
from __future__ import annotations

import random

from llm.data.reasoning import REASONING_SYSTEM, format_answer, parse_answer
from llm.data.types import Example, Verdict

CATEGORIES: dict[str, tuple[tuple[str, str], ...]] = {
    "fruits": (("apple", "apples"), ("banana", "bananas"), ("orange", "oranges"), ("peach", "peaches"),
               ("plum", "plums"), ("grape", "grapes"), ("strawberry", "strawberries")),
    "animals": (("cat", "cats"), ("dog", "dogs"), ("rabbit", "rabbits"), ("goat", "goats"), ("fish", "fish"),
                ("snail", "snails"), ("mouse", "mice")),
    "instruments": (("piano", "pianos"), ("flute", "flutes"), ("drum", "drums"), ("violin", "violins"),
                    ("trumpet", "trumpets"), ("guitar", "guitars")),
    "vegetables": (("carrot", "carrots"), ("onion", "onions"), ("potato", "potatoes"), ("cabbage", "cabbages"),
                   ("yam", "yams"), ("celery stalk", "celery stalks")),
}
_NUM_WORDS = {1: "a", 2: "two", 3: "three", 4: "four", 5: "five"}
_SIZES = {1: 3, 2: 5, 3: 7}
_MAXQ = {1: 1, 2: 3, 3: 5}
SINGULAR = {"fruits": "fruit", "animals": "animal", "instruments": "instrument", "vegetables": "vegetable"}


def _phrase(q: int, item: tuple[str, str]) -> str:
    if q == 1:
        return ("an " if item[0][0] in "aeiou" else "a ") + item[0]
    return f"{_NUM_WORDS[q]} {item[1]}"


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def count_steps(phrases: list[str], cats: list[str], qty: list[int], asked: str) -> tuple[int, list[str]]:
    """One line per phrase: its category, and for the asked category its quantity and the running total."""
    steps, total = [], 0
    for phrase, c, q in zip(phrases, cats, qty):
        if c == asked:
            total += q
            steps.append(f"{phrase}: {SINGULAR[c]}, {q}, total {total}")
        else:
            steps.append(f"{phrase}: {SINGULAR[c]}, not {_article(SINGULAR[asked])}")
    return total, steps


def generate(rng: random.Random, difficulty: int) -> Example:
    """Draw item phrases across categories (at least one of the asked category); gold = every phrase in order,
    with a running sum over the asked category."""
    if difficulty not in _SIZES:
        raise ValueError(f"difficulty must be 1, 2 or 3, got {difficulty}")
    cat = rng.choice(sorted(CATEGORIES))
    pool = [(c, it) for c, items in CATEGORIES.items() for it in items]
    n = _SIZES[difficulty]
    chosen = [(cat, rng.choice(CATEGORIES[cat]))]
    while len(chosen) < n:
        pick = rng.choice(pool)
        if pick[1] not in [c[1] for c in chosen]:
            chosen.append(pick)
    rng.shuffle(chosen)
    qty = [rng.randint(1, _MAXQ[difficulty]) for _ in chosen]
    phrases = [_phrase(q, it) for q, (_, it) in zip(qty, chosen)]
    text = ", ".join(phrases[:-1]) + " and " + phrases[-1]
    total, steps = count_steps(phrases, [c for c, _ in chosen], qty, cat)
    user = f"I have {text}. How many {cat} do I have?"
    return Example(task="object_count", difficulty=difficulty, system=REASONING_SYSTEM, user=user,
                   answer=format_answer(steps, str(total)), meta={"count": total})


def verify(example: Example, response: str) -> Verdict:
    """Format: think + answer line; correct: the answer is the right integer."""
    ans = parse_answer(response)
    if ans is None:
        return Verdict(False, False, "expected <think>...</think> then 'Answer: N'")
    if not ans.strip().isdigit():
        return Verdict(True, False, f"answer {ans!r} is not a whole number")
    if int(ans) != example.meta["count"]:
        return Verdict(True, False, f"answer {ans} but the count is {example.meta['count']}")
    return Verdict(True, True)
