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
    history: tuple[tuple[str, str], ...] = ()   # earlier (user message, assistant text) pairs, oldest first

    def messages(self) -> list[dict[str, str]]:
        """The prompt as chat messages: system, the history, then this turn's user message."""
        msgs = [{"role": "system", "content": self.system}]
        for u, a in self.history:
            msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
        return msgs + [{"role": "user", "content": self.user}]

    def to_json(self) -> dict[str, Any]:
        d = {"task": self.task, "difficulty": self.difficulty, "system": self.system, "user": self.user,
             "answer": self.answer, "meta": self.meta}
        if self.history:
            d["history"] = [list(h) for h in self.history]
        return d

    @staticmethod
    def from_json(obj: dict[str, Any]) -> Example:
        return Example(task=str(obj["task"]), difficulty=int(obj["difficulty"]), system=str(obj["system"]),
                       user=str(obj["user"]), answer=str(obj["answer"]), meta=dict(obj.get("meta", {})),
                       history=tuple((str(u), str(a)) for u, a in obj.get("history", [])))


@dataclass(frozen=True)
class Verdict:
    """A rule-based verifier's judgement of one response: well-formed? correct? and why not."""

    format_ok: bool
    correct: bool
    reason: str = ""
