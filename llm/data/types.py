"""Records shared by every synthetic task: one example (prompt + gold answer) and one verifier verdict."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DIFFICULTIES: tuple[int, ...] = (1, 2, 3)


@dataclass(frozen=True)
class Example:
    """One chat turn to learn: system + user prompt, the gold assistant answer, and what the verifier needs."""

    task: str
    difficulty: int
    system: str
    user: str
    answer: str
    meta: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "difficulty": self.difficulty, "system": self.system, "user": self.user,
                "answer": self.answer, "meta": self.meta}

    @staticmethod
    def from_json(obj: dict[str, Any]) -> Example:
        return Example(task=str(obj["task"]), difficulty=int(obj["difficulty"]), system=str(obj["system"]),
                       user=str(obj["user"]), answer=str(obj["answer"]), meta=dict(obj.get("meta", {})))


@dataclass(frozen=True)
class Verdict:
    """A rule-based verifier's judgement of one response: well-formed? correct? and why not."""

    format_ok: bool
    correct: bool
    reason: str = ""
