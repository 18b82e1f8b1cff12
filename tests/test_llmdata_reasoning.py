"""Reasoning mini-tasks: generators are solvable, verifiers accept gold and reject wrong or malformed answers."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.data import game24, object_count, word_sort
from llm.data.reasoning import format_answer, parse_answer

TASKS = [game24, word_sort, object_count]


@given(seed=st.integers(0, 2**32 - 1), difficulty=st.sampled_from([1, 2, 3]), task=st.sampled_from(TASKS))
@settings(max_examples=200, deadline=None)
def test_gold_answers_verify(seed: int, difficulty: int, task) -> None:
    ex = task.generate(random.Random(seed), difficulty)
    v = task.verify(ex, ex.answer)
    assert v.format_ok and v.correct, (ex.user, ex.answer, v.reason)
    assert ex.answer.startswith("<think>\n") and "</think>\nAnswer: " in ex.answer


@pytest.mark.parametrize("task", TASKS)
def test_answer_without_think_block_is_malformed(task) -> None:
    ex = task.generate(random.Random(1), 2)
    answer = parse_answer(ex.answer)
    assert answer is not None
    assert not task.verify(ex, "Answer: " + answer).format_ok
    assert not task.verify(ex, "<think>\nhmm\n</think>\n").format_ok


def test_game24_checks_numbers_value_and_syntax() -> None:
    ex = game24.generate(random.Random(3), 3)
    nums = ex.meta["numbers"]
    assert ex.meta["target"] == 24 and len(nums) == 4
    wrap = lambda expr: format_answer(["..."], expr)
    assert not game24.verify(ex, wrap("24")).correct                             # numbers not used
    assert not game24.verify(ex, wrap(" + ".join(map(str, nums)) + " + 1")).correct  # an extra number
    assert not game24.verify(ex, wrap("__import__('os')")).correct               # not arithmetic
    total = sum(nums)
    v = game24.verify(ex, wrap(" + ".join(map(str, nums))))
    assert v.correct == (total == 24)


def test_game24_solver_finds_known_solution_and_refuses_impossible() -> None:
    expr, steps = game24.solve([4, 1, 8, 7], 24)
    assert eval(expr) == 24 and len(steps) == 3
    assert game24.solve([1, 1, 1, 1], 24) is None


def test_word_sort_order_matters() -> None:
    ex = word_sort.generate(random.Random(5), 3)
    want = sorted(ex.meta["words"])
    assert word_sort.verify(ex, format_answer([], ", ".join(want))).correct
    assert not word_sort.verify(ex, format_answer([], ", ".join(reversed(want)))).correct


def test_object_count_counts_only_the_asked_category() -> None:
    ex = object_count.generate(random.Random(11), 3)
    n = ex.meta["count"]
    assert object_count.verify(ex, format_answer([], str(n))).correct
    assert not object_count.verify(ex, format_answer([], str(n + 1))).correct
    assert not object_count.verify(ex, format_answer([], "many")).correct
