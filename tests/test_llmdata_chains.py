"""Gold chains of object_count, boolean_logic, calendar_math and sudoku4: every line is one local step that can be
checked on its own (re-derived here from the question text, not from the generator), and the level-3 gold fits the
SFT sequence budget (max_len 320) with the shipped tokenizer."""
from __future__ import annotations

import datetime as dt
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llm.data import boolean_logic, calendar_math, object_count, sudoku4
from llm.data.reasoning import parse_answer

SEEDS = st.integers(0, 2**32 - 1)
LEVELS = st.sampled_from([1, 2, 3])
ROOT = Path(__file__).resolve().parents[1]
BRAIN = ROOT / "llm" / "models" / "brain-small"
STAGE5 = ROOT / "llm" / "brain" / "train_brain_stage5.yaml"


def _lines(answer: str) -> list[str]:
    body = answer.split("<think>\n", 1)[1].split("\n</think>", 1)[0]
    return body.split("\n")


_NUMBERS = {"a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5}


@given(seed=SEEDS, difficulty=LEVELS)
@settings(derandomize=True, max_examples=150, deadline=None)
def test_object_count_walks_every_phrase_in_order(seed: int, difficulty: int) -> None:
    ex = object_count.generate(random.Random(seed), difficulty)
    m = re.fullmatch(r"I have (.+)\. How many (\w+) do I have\?", ex.user)
    assert m is not None
    phrases = re.split(r", | and (?=(?:a|an|two|three|four|five) )", m.group(1))
    asked = object_count.SINGULAR[m.group(2)]
    article = "an" if asked[0] in "aeiou" else "a"
    lines = _lines(ex.answer)
    assert len(lines) == len(phrases) == {1: 3, 2: 5, 3: 7}[difficulty]
    total = 0
    for phrase, line in zip(phrases, lines):
        word, noun = phrase.split(" ", 1)
        cat = next(c for c, items in object_count.CATEGORIES.items() if any(noun in it for it in items))
        if object_count.SINGULAR[cat] == asked:
            total += _NUMBERS[word]
            assert line == f"{phrase}: {asked}, {_NUMBERS[word]}, total {total}"
        else:
            assert line == f"{phrase}: {object_count.SINGULAR[cat]}, not {article} {asked}"
    assert parse_answer(ex.answer) == str(total) == str(ex.meta["count"])


def test_object_count_example_lines() -> None:
    ex = object_count.generate(random.Random(5), 3)
    assert _lines(ex.answer)[:4] == ["three cabbages: vegetable, not an instrument",
                                     "four celery stalks: vegetable, not an instrument",
                                     "two carrots: vegetable, not an instrument",
                                     "four drums: instrument, 4, total 4"]


_BOOL_LINE = re.compile(r"^(not \S+|\S+ (?:and|or) \S+) = (?:(not \S+|\S+ (?:and|or) \S+) = )?(true|false)$")


@given(seed=SEEDS, difficulty=LEVELS)
@settings(derandomize=True, max_examples=150, deadline=None)
def test_boolean_lines_state_each_variable_before_using_it(seed: int, difficulty: int) -> None:
    ex = boolean_logic.generate(random.Random(seed), difficulty)
    facts = dict(re.findall(r"\b([A-Z]) is (true|false)", ex.user.split(". Is ")[0]))
    lines = _lines(ex.answer)
    assert len(lines) == ex.meta["expr"].count("not ") + ex.meta["expr"].count(" and ") + \
        ex.meta["expr"].count(" or ")
    for line in lines:
        m = _BOOL_LINE.match(line)
        assert m is not None, line
        named, values, result = m.group(1), m.group(2), m.group(3)
        names = re.findall(r"\b[A-Z]\b", named)
        # a variable is restated with its value before the result; a line of values alone has no middle part
        assert (values is not None) == bool(names), line
        if values is None:
            values = named
        else:
            assert values == re.sub(r"\b[A-Z]\b", lambda v: facts[v.group(0)], named), line
        ops = values.split()
        got = (ops[1] != "true") if ops[0] == "not" else \
            (ops[0] == "true" and ops[2] == "true") if ops[1] == "and" else "true" in (ops[0], ops[2])
        assert result == ("true" if got else "false"), line
    assert lines[-1].endswith(parse_answer(ex.answer) or "?")


_MONTH_LINE = re.compile(r"^(\w+)(?: (\d{4}))? has (\d+) days: (\d+) ([+-]) (\d+) = (\d+) (<|>=) (\d+)$")


def _check_date_walk(ex, lines: list[str]) -> None:
    days = ex.meta["days"]
    for i, line in enumerate(lines[:-1]):
        m = _MONTH_LINE.match(line)
        assert m is not None, line
        month, year, n, a, op, b, c, cmp, target = m.groups()
        y = int(year) if year else 2023
        assert int(n) == calendar_math.calendar.monthrange(y, calendar_math.MONTHS.index(month) + 1)[1], line
        assert int(c) == (int(a) + int(b) if op == "+" else int(a) - int(b)), line
        assert int(target) == days and (cmp == "<") == (int(c) < days), line
        assert (op == "-") == (i == 0) and (cmp == ">=") == (i == len(lines) - 2), line
    m = re.fullmatch(r"(\d+) ([+-]) (\d+) = (\d+): (.+)", lines[-1])
    assert m is not None, lines[-1]
    a, op, b, c, date = m.groups()
    assert int(c) == (int(a) + int(b) if op == "+" else int(a) - int(b))
    assert date == parse_answer(ex.answer) and date.split(",")[0].endswith(f" {c}")


def _check_weekday_walk(ex, lines: list[str]) -> None:
    weekday = re.search(r" is a (\w+)\.", ex.user).group(1)  # type: ignore[union-attr]
    ref, target = dt.date(*ex.meta["ref"]), dt.date(*ex.meta["target"])
    total = 0
    for line in lines:
        m = re.fullmatch(r"(\w+ \d+): (?:(\d+) - (\d+) = )?(\d+) days, (\d+) mod 7 = (\d), (\w+) \+ (\d) = (\w+)", line)
        assert m is not None, line
        date, a, b, n, n2, k, w0, k2, w1 = m.groups()
        if a is not None:
            assert int(a) - int(b) == int(n), line
        assert n == n2 and int(n) % 7 == int(k) and k == k2 and w0 == weekday, line
        assert calendar_math.WEEKDAYS[(calendar_math.WEEKDAYS.index(w0) + int(k)) % 7] == w1, line
        total += int(n)
        # the line's date is really that many days on, and its weekday the true one
        assert calendar_math.date_text(ref + dt.timedelta(days=total), False) == date, line
        assert (ref + dt.timedelta(days=total)).strftime("%A") == w1, line
        weekday = w1
    assert ref + dt.timedelta(days=total) == target and weekday == parse_answer(ex.answer)


@given(seed=SEEDS, difficulty=st.sampled_from([2, 3]))
@settings(derandomize=True, max_examples=200, deadline=None)
def test_calendar_lines_are_one_small_step_each(seed: int, difficulty: int) -> None:
    ex = calendar_math.generate(random.Random(seed), difficulty)
    lines = _lines(ex.answer)
    if ex.meta["kind"] == "date_after":
        _check_date_walk(ex, lines)
    else:
        _check_weekday_walk(ex, lines)
        assert all(int(re.search(r"(\d+) mod 7", ln).group(1)) <= 31 for ln in lines)  # type: ignore[union-attr]


def test_calendar_walk_examples() -> None:
    end, steps = calendar_math.walk_forward(dt.date(2023, 3, 3), 45, with_year=False)
    assert end == dt.date(2023, 4, 17)
    assert steps == ["March has 31 days: 31 - 3 = 28 < 45", "April has 30 days: 28 + 30 = 58 >= 45",
                     "45 - 28 = 17: April 17"]
    day, steps = calendar_math.weekday_walk(dt.date(2024, 3, 20), "Wednesday", dt.date(2024, 5, 5))
    assert day == "Sunday" and steps == ["March 31: 31 - 20 = 11 days, 11 mod 7 = 4, Wednesday + 4 = Sunday",
                                         "April 30: 30 days, 30 mod 7 = 2, Sunday + 2 = Tuesday",
                                         "May 5: 5 days, 5 mod 7 = 5, Tuesday + 5 = Sunday"]


_SUDOKU_LINE = re.compile(r"^r([1-4])c([1-4]): row ([1-4 ]+|none) col ([1-4 ]+|none) box ([1-4 ]+|none) left ([1-4])$")


@given(seed=SEEDS, difficulty=LEVELS)
@settings(derandomize=True, max_examples=60, deadline=None)
def test_sudoku_lines_list_what_each_unit_excludes(seed: int, difficulty: int) -> None:
    ex = sudoku4.generate(random.Random(seed), difficulty)
    rows = ex.user.split("\n")[1:]
    assert len(rows) == 4 and all(len(row.split(" ")) == 4 for row in rows)  # one cell a token
    grid = [0 if ch == "." else int(ch) for row in rows for ch in row.split(" ")]
    for line in _lines(ex.answer):
        m = _SUDOKU_LINE.match(line)
        assert m is not None, line
        r, c = int(m.group(1)) - 1, int(m.group(2)) - 1
        assert grid[4 * r + c] == 0, line
        row = {grid[4 * r + j] for j in range(4)} - {0}
        col = {grid[4 * i + c] for i in range(4)} - {0}
        box = {grid[4 * i + j] for i in range(r - r % 2, r - r % 2 + 2) for j in range(c - c % 2, c - c % 2 + 2)} - {0}
        for text, want in zip(m.group(3, 4, 5), (row, col, box)):
            assert text == (" ".join(map(str, sorted(want))) or "none"), line
        assert {1, 2, 3, 4} - (row | col | box) == {int(m.group(6))}, line
        grid[4 * r + c] = int(m.group(6))
    assert sudoku4.show(grid, "/") == parse_answer(ex.answer)


@pytest.mark.skipif(not (BRAIN / "tokenizer.json").is_file(), reason="shipped tokenizer not present")
@pytest.mark.parametrize("task", [object_count, boolean_logic, calendar_math, sudoku4])
def test_level3_gold_fits_the_sequence_budget(task) -> None:
    """Prompt + gold + <|im_end|> within stage 5's max_len (with room to spare, so the answer line is never cut),
    and the gold answer within its evaluation's decoding budget."""
    from llm.tokenizer import ChatTokenizer
    from llm.train import TrainConfig, encode_example

    cfg = TrainConfig.load(STAGE5)
    tok = ChatTokenizer.load(BRAIN)
    rng = random.Random(20261203)
    rows = [encode_example(tok, task.generate(rng, 3), 10**6) for _ in range(400)]
    longest = max(len(ids) for ids, _ in rows)
    assert longest <= cfg.max_len - 16, longest
    assert max(sum(mask) for _, mask in rows) <= cfg.eval_max_new_tokens
