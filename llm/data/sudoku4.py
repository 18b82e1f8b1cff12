"""4x4 Sudoku: fill the blanks so every row, column and 2x2 box holds 1-4 once.

Difficulty 1/2/3 = 3/6/9 blanks. Every puzzle has one solution and can be solved one forced cell at a time (a
blank whose row, column and box leave one digit), which is exactly what the gold steps show, a cell a line: the
digits its row, column and box exclude, then the digit left ("r1c1: row 1 4 col 3 4 box 3 4 left 2"). The
verifier accepts any valid full grid that keeps the givens. The question shows the grid with its cells apart
(". 4 1 ."), one token a cell, so a column is the same token position in every row ("..", merged, hid it).
"""
from __future__ import annotations

import random
from functools import cache

from llm.data.reasoning import REASONING_SYSTEM, format_answer, parse_answer
from llm.data.types import Example, Verdict

Grid = list[int]  # 16 cells in reading order, 0 = blank
_BLANKS = {1: 3, 2: 6, 3: 9}
_DIGITS = frozenset((1, 2, 3, 4))


def _units(cell: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The indices of the cell's row, column and 2x2 box."""
    r, c = divmod(cell, 4)
    br, bc = r - r % 2, c - c % 2
    return (tuple(range(4 * r, 4 * r + 4)), tuple(range(c, 16, 4)),
            tuple(4 * (br + i) + bc + j for i in (0, 1) for j in (0, 1)))


_UNITS = tuple(_units(i) for i in range(16))


def candidates(grid: Grid, cell: int) -> set[int]:
    """Digits not yet used in the cell's row, column or box."""
    return set(_DIGITS - {grid[j] for unit in _UNITS[cell] for j in unit})


def count_solutions(grid: Grid, limit: int = 2) -> int:
    """Number of completions of `grid`, counting up to `limit` (backtracking)."""
    try:
        cell = grid.index(0)
    except ValueError:
        return 1
    found = 0
    for d in sorted(candidates(grid, cell)):
        grid[cell] = d
        found += count_solutions(grid, limit - found)
        grid[cell] = 0
        if found >= limit:
            break
    return found


@cache
def all_grids() -> tuple[tuple[int, ...], ...]:
    """Every valid full 4x4 grid (there are 288)."""
    out: list[tuple[int, ...]] = []

    def fill(grid: Grid) -> None:
        if 0 not in grid:
            out.append(tuple(grid))
            return
        cell = grid.index(0)
        for d in sorted(candidates(grid, cell)):
            grid[cell] = d
            fill(grid)
            grid[cell] = 0

    fill([0] * 16)
    return tuple(out)


def _used(grid: Grid, unit: tuple[int, ...]) -> str:
    """The unit's digits, sorted and space-separated (one token each), or 'none'."""
    digits = sorted(grid[j] for j in unit if grid[j])
    return " ".join(map(str, digits)) if digits else "none"


def forced_steps(puzzle: Grid) -> tuple[Grid, list[str]] | None:
    """Solve by forced cells only, taking the first forced blank in reading order each time, with its step line:
    the digits its row, column and box already hold (givens and earlier steps) and the one digit they leave
    ("r2c3: row 1 4 col 2 box 1 2 left 3"); None when some blank is never forced."""
    grid = list(puzzle)
    steps: list[str] = []
    while 0 in grid:
        for cell in range(16):
            if grid[cell] == 0 and len(cands := candidates(grid, cell)) == 1:
                break
        else:
            return None
        row, col, box = _UNITS[cell]
        digit = cands.pop()
        steps.append(f"r{cell // 4 + 1}c{cell % 4 + 1}: row {_used(grid, row)} col {_used(grid, col)} "
                     f"box {_used(grid, box)} left {digit}")
        grid[cell] = digit
    return grid, steps


def show(grid: Grid, sep: str, cell_sep: str = "") -> str:
    """Rows of digits ('.' for blanks) joined by `sep`, the cells of a row by `cell_sep`."""
    return sep.join(cell_sep.join(str(v) if v else "." for v in grid[4 * r:4 * r + 4]) for r in range(4))


def generate(rng: random.Random, difficulty: int) -> Example:
    """Pick a full grid, blank cells until the difficulty's count while the puzzle stays forced-cell solvable."""
    if difficulty not in _BLANKS:
        raise ValueError(f"difficulty must be 1, 2 or 3, got {difficulty}")
    solution = list(rng.choice(all_grids()))
    while True:
        puzzle = list(solution)
        for cell in rng.sample(range(16), 16):
            puzzle[cell] = 0
            if forced_steps(puzzle) is None:
                puzzle[cell] = solution[cell]
            elif puzzle.count(0) == _BLANKS[difficulty]:
                break
        if puzzle.count(0) == _BLANKS[difficulty] and count_solutions(list(puzzle)) == 1:
            break
    solved = forced_steps(puzzle)
    assert solved is not None and solved[0] == solution
    user = ("Solve this 4x4 Sudoku: fill each '.' so that every row, column and 2x2 box holds 1, 2, 3 and 4 "
            "once. Give the rows joined by '/'.\n" + show(puzzle, "\n", " "))
    return Example(task="sudoku4", difficulty=difficulty, system=REASONING_SYSTEM, user=user,
                   answer=format_answer(solved[1], show(solution, "/")), meta={"puzzle": show(puzzle, "/")})


def parse_grid(text: str) -> Grid | None:
    """A grid from 'dddd/dddd/dddd/dddd' ('.' = blank, spaces ignored), or None if it is not that shape."""
    rows = text.replace(" ", "").split("/")
    if len(rows) != 4 or any(len(r) != 4 or any(ch not in "1234." for ch in r) for r in rows):
        return None
    return [0 if ch == "." else int(ch) for r in rows for ch in r]


def is_valid(grid: Grid) -> bool:
    """True when the grid is full and every row, column and box holds each digit once."""
    return all({grid[j] for j in unit} == _DIGITS for units in _UNITS for unit in units)


def verify(example: Example, response: str) -> Verdict:
    """Format: think + answer line; correct: a valid full grid that keeps every given digit."""
    ans = parse_answer(response)
    if ans is None:
        return Verdict(False, False, "expected <think>...</think> then 'Answer: dddd/dddd/dddd/dddd'")
    grid = parse_grid(ans)
    if grid is None or 0 in grid:
        return Verdict(True, False, f"answer {ans!r} is not four rows of four digits 1-4 joined by '/'")
    puzzle = parse_grid(example.meta["puzzle"])
    assert puzzle is not None
    if any(p and p != g for p, g in zip(puzzle, grid)):
        return Verdict(True, False, "answer changes a given digit")
    if not is_valid(grid):
        return Verdict(True, False, "a row, column or box repeats a digit")
    return Verdict(True, True)
