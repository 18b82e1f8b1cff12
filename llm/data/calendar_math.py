"""Calendar arithmetic: weekdays after N days, dates after N days, weekdays of other dates.

Difficulty 1: "Today is Tuesday. What day of the week is it in 10 days?" (N <= 20). 2: the date N days after a
date of a non-leap year, within that year. 3: the same with explicit years across month and year ends (leap years
stated), or the weekday of a later date given another date's weekday in that year. The gold steps walk month by
month, one small operation a line: a date keeps a running day count to each month end, compared with N; a weekday
is carried from month end to month end (each month's length mod 7), so no line reduces a large number mod 7. The
verifier computes the truth with `datetime` from the question's fields, not from the gold text.
"""
from __future__ import annotations

import calendar
import datetime as dt
import random
import re
from typing import Any

from llm.data.reasoning import REASONING_SYSTEM, format_answer, parse_answer
from llm.data.types import Example, Verdict

WEEKDAYS: tuple[str, ...] = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS: tuple[str, ...] = tuple(calendar.month_name[1:])
_NON_LEAP = 2023
_MONDAY = dt.date(2001, 1, 1)
_DATE = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:\s*,?\s*(\d{4}))?$")


def _month_label(d: dt.date, with_year: bool) -> str:
    return f"{MONTHS[d.month - 1]} {d.year}" if with_year else MONTHS[d.month - 1]


def date_text(d: dt.date, with_year: bool) -> str:
    """'April 17' or 'April 17, 2024'."""
    return f"{MONTHS[d.month - 1]} {d.day}, {d.year}" if with_year else f"{MONTHS[d.month - 1]} {d.day}"


def _days_in(d: dt.date) -> int:
    return calendar.monthrange(d.year, d.month)[1]


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _month_end(d: dt.date, with_year: bool) -> str:
    """The last day of d's month as text ('March 31')."""
    return date_text(d.replace(day=_days_in(d)), with_year)


def walk_forward(start: dt.date, days: int, with_year: bool) -> tuple[dt.date, list[str]]:
    """The date `days` after `start`, counting the days to each month end and comparing with `days`, a month a line:
    "March has 31 days: 31 - 3 = 28 < 45", "April has 30 days: 28 + 30 = 58 >= 45", "45 - 28 = 17: April 17"."""
    n = _days_in(start)
    total = n - start.day
    if total >= days:
        end = start.replace(day=start.day + days)
        return end, [f"{_month_label(start, with_year)} has {n} days: {n} - {start.day} = {total} >= {days}",
                     f"{start.day} + {days} = {end.day}: {date_text(end, with_year)}"]
    steps = [f"{_month_label(start, with_year)} has {n} days: {n} - {start.day} = {total} < {days}"]
    month = _next_month(start)
    while True:
        n = _days_in(month)
        if total + n >= days:
            steps.append(f"{_month_label(month, with_year)} has {n} days: {total} + {n} = {total + n} >= {days}")
            break
        steps.append(f"{_month_label(month, with_year)} has {n} days: {total} + {n} = {total + n} < {days}")
        total += n
        month = _next_month(month)
    end = month.replace(day=days - total)
    steps.append(f"{days} - {total} = {end.day}: {date_text(end, with_year)}")
    return end, steps


def days_between(start: dt.date, end: dt.date) -> int:
    """Days from `start` to a later `end`."""
    return (end - start).days


def weekday_walk(start: dt.date, weekday: str, end: dt.date) -> tuple[str, list[str]]:
    """The weekday of a later `end` of the same year, given `start`'s, carried from month end to month end with a
    small mod-7 step each: "March 31: 31 - 20 = 11 days, 11 mod 7 = 4, Wednesday + 4 = Sunday", then
    "April 30: 30 days, 30 mod 7 = 2, Sunday + 2 = Tuesday", "May 5: 5 days, 5 mod 7 = 5, Tuesday + 5 = Sunday"."""
    steps: list[str] = []
    day = weekday

    def hop(to: dt.date, count: str, n: int) -> None:
        nonlocal day
        k = n % 7
        new = WEEKDAYS[(WEEKDAYS.index(day) + k) % 7]
        steps.append(f"{date_text(to, False)}: {count} days, {n} mod 7 = {k}, {day} + {k} = {new}")
        day = new

    if start.month == end.month:
        hop(end, f"{end.day} - {start.day} = {end.day - start.day}", end.day - start.day)
        return day, steps
    n = _days_in(start)
    hop(start.replace(day=n), f"{n} - {start.day} = {n - start.day}", n - start.day)
    month = _next_month(start)
    while month.month < end.month:
        n = _days_in(month)
        hop(month.replace(day=n), str(n), n)
        month = _next_month(month)
    hop(end, str(end.day), end.day)
    return day, steps


def _weekday_steps(weekday: str, days: int) -> tuple[str, list[str]]:
    """The weekday `days` after `weekday`: "10 mod 7 = 3", "Tuesday + 3 = Friday"."""
    k = days % 7
    out = WEEKDAYS[(WEEKDAYS.index(weekday) + k) % 7]
    return out, [f"{days} mod 7 = {k}", f"{weekday} + {k} = {out}"]


def _leap_note(years: list[int]) -> str:
    return "(" + "; ".join(f"{y} is {'a' if calendar.isleap(y) else 'not a'} leap year" for y in years) + ".)"


def _day_of(year: int, index: int) -> dt.date:
    return dt.date(year, 1, 1) + dt.timedelta(days=index)


_Question = tuple[str, list[str], str, dict[str, Any]]  # user prompt, step lines, answer, verifier fields


def _weekday_after(rng: random.Random) -> _Question:
    weekday, days = rng.choice(WEEKDAYS), rng.randint(1, 20)
    answer, steps = _weekday_steps(weekday, days)
    return (f"Today is {weekday}. What day of the week is it in {days} days?", steps, answer,
            {"kind": "weekday_after", "weekday": weekday, "days": days})


def _date_after(rng: random.Random, with_year: bool) -> _Question:
    """Without a year: within a non-leap year, up to 90 days. With one: 30-150 days, often into the next year."""
    if with_year:
        year = rng.randint(1995, 2035)
        size = 365 + calendar.isleap(year)
        start = _day_of(year, rng.randrange(size) if rng.random() < 0.5 else rng.randrange(size - 100, size))
        days = rng.randint(30, 150)
    else:
        start = _day_of(_NON_LEAP, rng.randrange(364))
        days = rng.randint(1, min(90, (dt.date(_NON_LEAP, 12, 31) - start).days))
    end, steps = walk_forward(start, days, with_year)
    if with_year:
        user = f"What date is {days} days after {date_text(start, True)}? {_leap_note(sorted({start.year, end.year}))}"
    else:
        user = f"In a non-leap year, what date is {days} days after {date_text(start, False)}?"
    return (user, steps, date_text(end, with_year),
            {"kind": "date_after", "start": [start.year, start.month, start.day], "days": days, "year": with_year})


def _weekday_of(rng: random.Random) -> _Question:
    """A later date of the same year, 1-150 days on, from a date whose true weekday is given."""
    year = rng.randint(1995, 2035)
    size = 365 + calendar.isleap(year)
    a = rng.randrange(size - 1)
    ref, target = _day_of(year, a), _day_of(year, rng.randint(a + 1, min(a + 150, size - 1)))
    weekday = WEEKDAYS[ref.weekday()]
    answer, steps = weekday_walk(ref, weekday, target)
    user = (f"{date_text(ref, True)} is a {weekday}. What day of the week is {date_text(target, True)}? "
            f"{_leap_note([year])}")
    return (user, steps, answer, {"kind": "weekday_of", "ref": [ref.year, ref.month, ref.day],
                                           "target": [target.year, target.month, target.day]})


def generate(rng: random.Random, difficulty: int) -> Example:
    """One question of the difficulty's kind; gold = the month walk (or mod-7 step) that reaches the answer."""
    if difficulty == 1:
        user, steps, answer, meta = _weekday_after(rng)
    elif difficulty == 2:
        user, steps, answer, meta = _date_after(rng, with_year=False)
    elif difficulty == 3:
        user, steps, answer, meta = _date_after(rng, with_year=True) if rng.random() < 0.5 else _weekday_of(rng)
    else:
        raise ValueError(f"difficulty must be 1, 2 or 3, got {difficulty}")
    return Example(task="calendar_math", difficulty=difficulty, system=REASONING_SYSTEM, user=user,
                   answer=format_answer(steps, answer), meta=meta)


def truth(meta: dict[str, Any]) -> str:
    """The right answer computed with `datetime` from the question's fields."""
    kind = meta["kind"]
    if kind == "weekday_after":
        base = _MONDAY + dt.timedelta(days=WEEKDAYS.index(str(meta["weekday"])))
        return (base + dt.timedelta(days=meta["days"])).strftime("%A")
    if kind == "date_after":
        end = dt.date(*meta["start"]) + dt.timedelta(days=meta["days"])
        return date_text(end, bool(meta["year"]))
    return dt.date(*meta["target"]).strftime("%A")


def _normalise(text: str) -> str:
    """Lower case, single spaces, no final period; 'Apr 17th 2024' and 'april 17, 2024' become 'april 17, 2024'."""
    s = " ".join(text.strip().rstrip(".").split()).lower()
    m = _DATE.match(s)
    if not m:
        return s
    month = next((name.lower() for name in MONTHS if name.lower() == m.group(1)
                  or (len(m.group(1)) == 3 and name.lower().startswith(m.group(1)))), m.group(1))
    return f"{month} {int(m.group(2))}" + (f", {m.group(3)}" if m.group(3) else "")


def verify(example: Example, response: str) -> Verdict:
    """Format: think + answer line; correct: the weekday or date `datetime` gives (case and spacing free)."""
    ans = parse_answer(response)
    if ans is None:
        return Verdict(False, False, "expected <think>...</think> then 'Answer: ...'")
    want = truth(example.meta)
    if _normalise(ans) != _normalise(want):
        return Verdict(True, False, f"answer {ans!r} but the right one is {want!r}")
    return Verdict(True, True)
