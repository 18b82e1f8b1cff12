"""Rewards from the tasks' rule verifiers: 1 for a correct answer, else 0; the format reward (a well-formed
think block + answer line) is reported beside it and enters the reward only with a non-zero weight."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from llm.data.registry import Task
from llm.data.types import Example


@dataclass(frozen=True)
class Scored:
    """One response's verdict: correct, well-formed, and the reward the update uses."""

    correct: bool
    format_ok: bool
    reward: float


def score(tasks: Mapping[str, Task], examples: Sequence[Example], texts: Sequence[str], finish: Sequence[str],
          format_weight: float = 0.0) -> list[Scored]:
    """Verify each response; one cut as a loop earns nothing (M1 §3.2), one cut by the length cap is judged on
    its text (the verifiers' format check fails an unfinished answer)."""
    out = []
    for ex, text, why in zip(examples, texts, finish):
        v = tasks[ex.task].verify(ex, text)
        ok = v.correct and why != "loop"
        fmt = v.format_ok and why != "loop"
        out.append(Scored(correct=ok, format_ok=fmt, reward=float(ok) + format_weight * float(fmt)))
    return out
