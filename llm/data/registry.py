"""The task table: name -> (generator, verifier). Adding a task = one module with `generate` and `verify`."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from llm.data import boolean_logic, calendar_math, game24, interaction, object_count, sudoku4, word_sort
from llm.data.types import Example, Verdict


@dataclass(frozen=True)
class Task:
    """A synthetic task: `generate(rng, difficulty) -> Example`, `verify(example, response) -> Verdict`."""

    name: str
    generate: Callable[[random.Random, int], Example]
    verify: Callable[[Example, str], Verdict]


TASKS: dict[str, Task] = {
    "interaction": Task("interaction", interaction.generate, interaction.verify),
    "game24": Task("game24", game24.generate, game24.verify),
    "word_sort": Task("word_sort", word_sort.generate, word_sort.verify),
    "object_count": Task("object_count", object_count.generate, object_count.verify),
    "boolean_logic": Task("boolean_logic", boolean_logic.generate, boolean_logic.verify),
    "calendar_math": Task("calendar_math", calendar_math.generate, calendar_math.verify),
    "sudoku4": Task("sudoku4", sudoku4.generate, sudoku4.verify),
}


def verify(example: Example, response: str) -> Verdict:
    """Dispatch to the example's task verifier."""
    return TASKS[example.task].verify(example, response)
