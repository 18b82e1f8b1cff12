"""Brain configuration (YAML or CLI flags): backend, server, model, time-out, history, fallback. Validated on load."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm.brain.errors import BrainError
from llm.data.interaction import INTENTS

BACKENDS: tuple[str, ...] = ("embedded", "openai")


@dataclass(frozen=True)
class BrainConfig:
    """How the brain answers: `embedded` (our checkpoint in-process) or `openai` (any chat-completions server)."""

    backend: str = "embedded"
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "fep-brain-small"
    checkpoint: str | None = None          # embedded: checkpoint dir (None = the shipped llm/models/brain-small)
    timeout_s: float = 10.0                # a reply slower than this becomes the fallback
    temperature: float = 0.0
    max_tokens: int = 96
    history_turns: int = 2                 # earlier exchanges sent along (the embedded model is trained with up to 2)
    max_sentences: int = 2                 # replies are cut after this many sentences (0 = never)
    fallback_intent: str = "listen"
    fallback_reply: str = "Mm-hm."

    def validate(self, where: str = "brain config") -> BrainConfig:
        if self.backend not in BACKENDS:
            raise BrainError(f"{where}: backend: {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if not isinstance(self.base_url, str) or not self.base_url.startswith(("http://", "https://")):
            raise BrainError(f"{where}: base_url: must start with http:// or https://, got {self.base_url!r}")
        for name in ("timeout_s",):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise BrainError(f"{where}: {name}: must be a positive number of seconds, got {v!r}")
        if isinstance(self.temperature, bool) or not isinstance(self.temperature, (int, float)) \
                or not 0 <= self.temperature <= 2:
            raise BrainError(f"{where}: temperature: must be in [0, 2], got {self.temperature!r}")
        for name in ("max_tokens",):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise BrainError(f"{where}: {name}: must be a positive whole number, got {v!r}")
        if not isinstance(self.history_turns, int) or self.history_turns < 0:
            raise BrainError(f"{where}: history_turns: must be a whole number >= 0, got {self.history_turns!r}")
        if not isinstance(self.max_sentences, int) or isinstance(self.max_sentences, bool) or self.max_sentences < 0:
            raise BrainError(f"{where}: max_sentences: must be a whole number >= 0 (0 = no cap), "
                             f"got {self.max_sentences!r}")
        if self.fallback_intent not in INTENTS:
            raise BrainError(f"{where}: fallback_intent: {self.fallback_intent!r} is not one of {', '.join(INTENTS)}")
        return self

    @staticmethod
    def from_dict(raw: dict[str, Any], where: str = "brain config") -> BrainConfig:
        names = {f.name for f in dataclasses.fields(BrainConfig)}
        extra = set(raw) - names
        if extra:
            raise BrainError(f"{where}: unknown field {min(extra)!r}; allowed: {', '.join(sorted(names))}")
        return BrainConfig(**raw).validate(where)

    @staticmethod
    def load(path: str | Path) -> BrainConfig:
        from llm.yaml_file import read_mapping

        return BrainConfig.from_dict(read_mapping(path, "brain config"), where=str(path))
