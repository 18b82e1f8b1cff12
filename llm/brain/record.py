"""The brain's answer to one utterance: reply text, communicative intent, and how it was obtained."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class BrainReply:
    """One reply + intent. `fallback` is True when the backend failed or timed out and `error` says why."""

    reply: str
    intent: str
    backend: str
    latency_s: float
    intent_parsed: bool = True   # False: the model broke the format and the intent was inferred from the reply
    fallback: bool = False
    error: str = ""
    raw: str = ""

    def public(self) -> dict[str, str]:
        """What `fep-motion brain ask --json` prints."""
        return {"reply": self.reply, "intent": self.intent}

    def to_dict(self) -> dict[str, Any]:
        """Every field, for session stores and logs."""
        return asdict(self)
