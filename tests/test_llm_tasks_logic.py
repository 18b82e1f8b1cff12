"""Logic task families (boolean_logic, calendar_math, sudoku4): gold answers verify, wrong or malformed ones do
not, difficulty changes the size, generation is deterministic, and the verifiers agree with independent truth."""
from __future__ import annotations

import datetime as dt
import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.data import boolean_logic, calendar_math, sudoku4
from llm.data.config import CorpusConfig
from llm.data.corpus import generate_heldout
from llm.data.reasoning import format_answer, parse_answer
from llm.data.registry import TASKS

FAMILIES = [boolean_logic, calendar_math, sudoku4]
CASES = [(task, d) for task in FAMILIES for d in (1, 2, 3)]
SEEDS = st.integers(0, 2**32 - 1)


def _wrong(task, ex) -> str:
    """A well-formed but wrong final answer for the example."""
    gold = parse_answer(ex.answer)
    assert gold is not None
    if task is boolean_logic:
        return "false" if gold == "true" else "true"
    if task is calendar_math:
        if gold in calendar_math.WEEKDAYS:
            return calendar_math.WEEKDAYS[(calendar_math.WEEKDAYS.index(gold) + 1) % 7]
        month, day = gold.split(",")[0].split()
        return gold.replace(f"{month} {day}", f"{month} {int(day) % 28 + 1}")
    rows = gold.split("/")
    return "/".join([rows[1], rows[0], *rows[2:]])


@pytest.mark.parametrize(("task", "difficulty"), CASES)
@given(seed=SEEDS)
@settings(derandomize=True, max_examples=50, deadline=None)
def test_gold_verifies_and_wrong_answer_does_not(task, difficulty: int, seed: int) -> None:
    ex = task.generate(random.Random(seed), difficulty)
    assert ex.task in TASKS and ex.difficulty == difficulty
    v = task.verify(ex, ex.answer)
    assert v.format_ok and v.correct, (ex.user, ex.answer, v.reason)
    v = task.verify(ex, format_answer(["..."], _wrong(task, ex)))
    assert v.format_ok and not v.correct, (ex.user, ex.answer)


@pytest.mark.parametrize(("task", "difficulty"), CASES)
def test_malformed_responses_are_rejected(task, difficulty: int) -> None:
    ex = task.generate(random.Random(7), difficulty)
    gold = parse_answer(ex.answer)
    assert gold is not None
    for bad in ("Answer: " + gold,                                 # no think block
                ex.answer + "\nAnswer: " + gold,                   # two answer lines
                "<think>\nstep\n</think>\n",                       # no answer
                "<think>\n<think>\n</think>\nAnswer: " + gold):     # nested think
        v = task.verify(ex, bad)
        assert not v.format_ok and not v.correct, bad
    assert task.verify(ex, "  " + ex.answer.replace("Answer: ", "Answer:   ") + "  \n").correct


@pytest.mark.parametrize("task", FAMILIES)
def test_generation_is_deterministic(task) -> None:
    for d in (1, 2, 3):
        assert [task.generate(random.Random(s), d) for s in range(5)] == \
               [task.generate(random.Random(s), d) for s in range(5)]


def test_bad_difficulty_is_refused() -> None:
    for task in FAMILIES:
        with pytest.raises(ValueError):
            task.generate(random.Random(0), 4)


def test_boolean_difficulty_sets_operand_count_and_nesting() -> None:
    for d, (lo, hi) in {1: (2, 2), 2: (3, 4), 3: (5, 6)}.items():
        rng = random.Random(d)
        for _ in range(40):
            ex = boolean_logic.generate(rng, d)
            assert lo <= len(re.findall(r"\b[A-Z]\b", ex.meta["expr"])) <= hi
            if d == 3:
                assert "not" in ex.meta["expr"] and "(" in ex.meta["expr"]


def test_boolean_answer_tolerates_case_and_period() -> None:
    ex = boolean_logic.generate(random.Random(2), 2)
    gold = parse_answer(ex.answer)
    assert gold is not None
    assert boolean_logic.verify(ex, format_answer([], gold.upper() + ".")).correct
    assert not boolean_logic.verify(ex, format_answer([], "maybe")).correct


@given(seed=SEEDS)
@settings(derandomize=True, max_examples=50, deadline=None)
def test_boolean_parser_agrees_with_tree_evaluation(seed: int) -> None:
    ex = boolean_logic.generate(random.Random(seed), 3)
    tree = boolean_logic.parse(ex.meta["expr"])
    assert boolean_logic.render(tree) == ex.meta["expr"]
    assert boolean_logic.evaluate(tree, ex.meta["values"]) == (parse_answer(ex.answer) == "true")
    with pytest.raises(ValueError):
        boolean_logic.parse("A and B or C")


def _datetime_answer(meta: dict) -> str:
    """The answer from `datetime` alone, written independently of the module under test."""
    if meta["kind"] == "weekday_after":
        monday = dt.date(2024, 1, 1)
        start = monday + dt.timedelta(days=calendar_math.WEEKDAYS.index(meta["weekday"]))
        return (start + dt.timedelta(days=meta["days"])).strftime("%A")
    if meta["kind"] == "date_after":
        end = dt.date(*meta["start"]) + dt.timedelta(days=meta["days"])
        return f"{end:%B} {end.day}, {end.year}" if meta["year"] else f"{end:%B} {end.day}"
    return dt.date(*meta["target"]).strftime("%A")


@given(seed=SEEDS, difficulty=st.sampled_from([1, 2, 3]))
@settings(derandomize=True, max_examples=100, deadline=None)
def test_calendar_verifier_agrees_with_datetime(seed: int, difficulty: int) -> None:
    ex = calendar_math.generate(random.Random(seed), difficulty)
    want = _datetime_answer(ex.meta)
    assert parse_answer(ex.answer) == want
    assert calendar_math.verify(ex, format_answer([], want.lower())).correct
    if ex.meta["kind"] == "date_after":
        end = dt.date(*ex.meta["start"]) + dt.timedelta(days=ex.meta["days"] + 1)
        off = f"{end:%B} {end.day}" + (f", {end.year}" if ex.meta["year"] else "")
        assert not calendar_math.verify(ex, format_answer([], off)).correct
        assert calendar_math.verify(ex, format_answer([], want.replace(",", "").replace("y ", "y  "))).correct


def test_calendar_difficulty_kinds_and_leap_notes() -> None:
    rng = random.Random(4)
    kinds = {d: {calendar_math.generate(rng, d).meta["kind"] for _ in range(30)} for d in (1, 2, 3)}
    assert kinds == {1: {"weekday_after"}, 2: {"date_after"}, 3: {"date_after", "weekday_of"}}
    for _ in range(30):
        ex = calendar_math.generate(rng, 1)
        assert ex.meta["days"] <= 20
        ex = calendar_math.generate(rng, 2)
        end = dt.date(*ex.meta["start"]) + dt.timedelta(days=ex.meta["days"])
        assert end.year == ex.meta["start"][0] and not ex.meta["year"]
        ex = calendar_math.generate(rng, 3)
        assert "leap year" in ex.user


def test_calendar_example_from_the_brief() -> None:
    end, steps = calendar_math.walk_forward(dt.date(2023, 3, 3), 45, with_year=False)
    assert calendar_math.date_text(end, False) == "April 17" and len(steps) == 3
    assert calendar_math.days_between(dt.date(2024, 2, 20), dt.date(2024, 3, 5)) == 14


@pytest.mark.parametrize("difficulty", [1, 2, 3])
@given(seed=SEEDS)
@settings(derandomize=True, max_examples=30, deadline=None)
def test_sudoku_blanks_and_unique_solution(difficulty: int, seed: int) -> None:
    ex = sudoku4.generate(random.Random(seed), difficulty)
    puzzle = sudoku4.parse_grid(ex.meta["puzzle"])
    assert puzzle is not None
    assert puzzle.count(0) == {1: 3, 2: 6, 3: 9}[difficulty]
    assert sudoku4.count_solutions(list(puzzle), limit=5) == 1
    assert ex.answer.count("\nr") == puzzle.count(0)  # one step line per blank
    assert ex.user.endswith("\n".join(" ".join(row) for row in ex.meta["puzzle"].split("/")))


def test_sudoku_verifier_rejects_valid_grid_that_changes_givens() -> None:
    assert len(sudoku4.all_grids()) == 288 and all(sudoku4.is_valid(list(g)) for g in sudoku4.all_grids())
    ex = sudoku4.generate(random.Random(9), 3)
    puzzle = sudoku4.parse_grid(ex.meta["puzzle"])
    assert puzzle is not None
    other = next(g for g in sudoku4.all_grids() if any(p and p != v for p, v in zip(puzzle, g)))
    assert not sudoku4.verify(ex, format_answer([], sudoku4.show(list(other), "/"))).correct
    assert not sudoku4.verify(ex, format_answer([], ex.meta["puzzle"])).correct  # blanks left
    gold = parse_answer(ex.answer)
    assert gold is not None
    assert sudoku4.verify(ex, format_answer([], " / ".join(gold.split("/")))).correct


def test_new_tasks_enter_the_heldout_split() -> None:
    cfg = CorpusConfig(seed=1, train={"boolean_logic": 1, "calendar_math": 1, "sudoku4": 1},
                       heldout_per_difficulty=2)
    held = generate_heldout(cfg)
    assert sorted({(e.task, e.difficulty) for e in held}) == sorted(
        (t, d) for t in ("boolean_logic", "calendar_math", "sudoku4") for d in (1, 2, 3))
