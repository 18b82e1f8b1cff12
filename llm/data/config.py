"""Corpus configuration (YAML): seed, examples per task, difficulty mix, held-out size. Validated on load."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from llm.brain.errors import BrainError
from llm.data.types import DIFFICULTIES


@dataclass(frozen=True)
class DialogueConfig:
    """Real human dialogue in the mix (llm.data.dialogue): how many conversations, how much history, the
    held-out share (fixed by conversation-id hash), derived trailing-off turns, and persona questions."""

    conversations: int | None = 0      # 0 = no dialogue, None = every training conversation
    history_pairs: int = 2
    history_share: float = 0.5
    trailing_share: float = 0.06
    heldout_percent: float = 5.0
    persona: int = 0                   # hand-written questions about the agent (llm.data.persona)
    oversample: dict[str, int] = field(default_factory=dict)  # intent -> copies of its examples (rare intents)

    def validate(self, where: str) -> DialogueConfig:
        if self.conversations is not None and (not isinstance(self.conversations, int)
                                               or isinstance(self.conversations, bool) or self.conversations < 0):
            raise BrainError(f"{where}: conversations: must be a whole number >= 0 or null (all)")
        for name in ("history_pairs", "persona"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise BrainError(f"{where}: {name}: must be a whole number >= 0, got {v!r}")
        from llm.data.interaction import INTENTS

        if not isinstance(self.oversample, dict):
            raise BrainError(f"{where}: oversample: must be a mapping intent -> copies")
        for k, v in self.oversample.items():
            if k not in INTENTS:
                raise BrainError(f"{where}: oversample.{k}: unknown intent; use one of {', '.join(INTENTS)}")
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise BrainError(f"{where}: oversample.{k}: must be a whole number >= 1, got {v!r}")
        for name, hi in (("history_share", 1.0), ("trailing_share", 1.0), ("heldout_percent", 100.0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= hi:
                raise BrainError(f"{where}: {name}: must be a number in [0, {hi:g}], got {v!r}")
        return self

    @staticmethod
    def from_dict(raw: Any, where: str) -> DialogueConfig:
        if not isinstance(raw, dict):
            raise BrainError(f"{where}: must be a mapping of dialogue fields")
        names = {f.name for f in fields(DialogueConfig)}
        extra = set(raw) - names
        if extra:
            raise BrainError(f"{where}: unknown field {min(extra)!r}; allowed: {', '.join(sorted(names))}")
        return DialogueConfig(**raw).validate(where)


@dataclass(frozen=True)
class CorpusConfig:
    """How many training examples per task, how they spread over difficulties, and the held-out split size."""

    seed: int = 0
    train: dict[str, int] = field(default_factory=lambda: {"interaction": 120_000, "game24": 20_000,
                                                           "word_sort": 20_000, "object_count": 20_000})
    difficulty_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)
    heldout_per_difficulty: int = 100
    dialogue: DialogueConfig = field(default_factory=DialogueConfig)

    def validate(self, where: str = "corpus config") -> CorpusConfig:
        from llm.data.registry import TASKS

        for name, n in self.train.items():
            if name not in TASKS:
                raise BrainError(f"{where}: train.{name}: unknown task; use one of {', '.join(TASKS)}")
            if not isinstance(n, int) or n < 0:
                raise BrainError(f"{where}: train.{name}: must be a whole number >= 0, got {n!r}")
        w = self.difficulty_weights
        if len(w) != len(DIFFICULTIES) or any(not isinstance(x, (int, float)) or x < 0 for x in w) or sum(w) <= 0:
            raise BrainError(f"{where}: difficulty_weights: need 3 non-negative numbers with a positive sum, got {w!r}")
        if not isinstance(self.heldout_per_difficulty, int) or self.heldout_per_difficulty < 0:
            raise BrainError(f"{where}: heldout_per_difficulty: must be a whole number >= 0")
        if not isinstance(self.seed, int):
            raise BrainError(f"{where}: seed: must be an integer, got {self.seed!r}")
        return self

    @staticmethod
    def from_dict(raw: dict[str, Any], where: str = "corpus config") -> CorpusConfig:
        known = {"seed", "train", "difficulty_weights", "heldout_per_difficulty", "dialogue"}
        extra = set(raw) - known
        if extra:
            raise BrainError(f"{where}: unknown field {min(extra)!r}; allowed: {', '.join(sorted(known))}")
        base = CorpusConfig()
        train = raw.get("train", base.train)
        if not isinstance(train, dict):
            raise BrainError(f"{where}: train: must be a mapping task -> count")
        cfg = CorpusConfig(seed=raw.get("seed", base.seed), train=dict(train),
                           difficulty_weights=tuple(raw.get("difficulty_weights", base.difficulty_weights)),
                           heldout_per_difficulty=raw.get("heldout_per_difficulty", base.heldout_per_difficulty),
                           dialogue=DialogueConfig.from_dict(raw.get("dialogue", {}), f"{where}: dialogue"))
        return cfg.validate(where)

    @staticmethod
    def load(path: str | Path) -> CorpusConfig:
        from llm.yaml_file import read_mapping

        return CorpusConfig.from_dict(read_mapping(path, "corpus config"), where=str(path))
