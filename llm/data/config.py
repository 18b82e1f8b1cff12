"""Corpus configuration (YAML): seed, examples per task, difficulty mix, held-out size. Validated on load."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

import yamlconf
from llm.brain.errors import BrainError
from llm.data.interaction import INTENTS

Count = Annotated[int, Field(ge=0)]
Weight = Annotated[float, Field(ge=0)]


def check_tasks(names: Any, field_name: str, exclude: tuple[str, ...] = ()) -> None:
    """Every key of `names` is a task of llm.data.registry (minus `exclude`); FieldError names the first that is not."""
    from llm.data.registry import TASKS

    choices = [t for t in TASKS if t not in exclude]
    for name in names:
        if name not in choices:
            raise yamlconf.FieldError((field_name, name), "is not a task here", f"use one of {', '.join(choices)}")


def check_weights(weights: tuple[float, ...], field_name: str) -> None:
    """Difficulty weights need a positive sum (each is >= 0 by type)."""
    if sum(weights) <= 0:
        raise yamlconf.FieldError((field_name,), "weights sum to 0", "give at least one difficulty a positive weight")


@dataclass(frozen=True)
class DialogueConfig:
    """Real human dialogue in the mix (llm.data.dialogue): how many conversations, how much history, the
    held-out share (fixed by conversation-id hash), derived trailing-off turns, and persona questions."""

    __pydantic_config__ = yamlconf.SCHEMA

    conversations: Count | None = 0    # 0 = no dialogue, None = every training conversation
    history_pairs: Count = 2
    history_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    trailing_share: Annotated[float, Field(ge=0, le=1)] = 0.06
    heldout_percent: Annotated[float, Field(ge=0, le=100)] = 5.0
    persona: Count = 0                 # hand-written questions about the agent (llm.data.persona)
    oversample: dict[Literal[INTENTS], Annotated[int, Field(ge=1)]] = field(  # type: ignore[valid-type]
        default_factory=dict)          # intent -> copies of its examples (rare intents)


@dataclass(frozen=True)
class CorpusConfig(yamlconf.Loadable):
    """How many training examples per task, how they spread over difficulties, and the held-out split size."""

    __pydantic_config__ = yamlconf.SCHEMA
    what, error = "corpus config", BrainError

    seed: int = 0
    train: dict[str, Count] = field(default_factory=lambda: {"interaction": 120_000, "game24": 20_000,
                                                             "word_sort": 20_000, "object_count": 20_000})
    difficulty_weights: tuple[Weight, Weight, Weight] = (1.0, 1.0, 1.0)
    heldout_per_difficulty: Count = 100
    dialogue: DialogueConfig = field(default_factory=DialogueConfig)

    @model_validator(mode="after")
    def _known_tasks(self) -> CorpusConfig:
        check_tasks(self.train, "train")
        check_weights(self.difficulty_weights, "difficulty_weights")
        return self
