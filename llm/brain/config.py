"""Brain configuration (YAML or CLI flags): backend, server, model, time-out, history, fallback. Validated on load."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

import yamlconf
from llm.brain.errors import BrainError
from llm.data.interaction import INTENTS

BACKENDS: tuple[str, ...] = ("embedded", "openai")

Intent = Literal[INTENTS]  # type: ignore[valid-type]


@dataclass(frozen=True)
class BrainConfig(yamlconf.Loadable):
    """How the brain answers: `embedded` (our checkpoint in-process) or `openai` (any chat-completions server).
    `BrainConfig.load(path)`, `.from_dict(raw)` and `.validate()` raise BrainError naming the field."""

    __pydantic_config__ = yamlconf.SCHEMA
    what, error = "brain config", BrainError

    backend: Literal[BACKENDS] = "embedded"  # type: ignore[valid-type]
    base_url: Annotated[str, StringConstraints(pattern=r"^https?://")] = "http://127.0.0.1:8000/v1"
    model: str = "fep-brain-small"
    checkpoint: str | None = None          # embedded: checkpoint dir (None = the shipped llm/models/brain-small)
    timeout_s: Annotated[float, Field(gt=0)] = 10.0   # a reply slower than this becomes the fallback
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.0
    max_tokens: Annotated[int, Field(ge=1)] = 96
    # earlier exchanges sent along (the embedded model: up to 2); the history is a deque, so the bound must stay small
    history_turns: Annotated[int, Field(ge=0, le=10_000)] = 2
    max_sentences: Annotated[int, Field(ge=0)] = 2    # replies are cut after this many sentences (0 = never)
    fallback_intent: Intent = "listen"
    fallback_reply: str = "Mm-hm."
