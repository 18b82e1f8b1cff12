"""The chat messages the brain sends: the system prompt the embedded model was trained with, optional history,
and the current turn as `Perception: …` + `User: …` (llm.data.interaction.format_user)."""
from __future__ import annotations

from collections.abc import Sequence

from llm.data.interaction import NO_PERCEPTION, SYSTEM_PROMPT, format_user


def build_messages(utterance: str, context: str = "", history: Sequence[tuple[str, str]] = (),
                   system: str = SYSTEM_PROMPT) -> list[dict[str, str]]:
    """Messages for one turn; `history` holds earlier (user message, assistant text) pairs, oldest first."""
    msgs = [{"role": "system", "content": system}]
    for user, assistant in history:
        msgs.append({"role": "user", "content": user})
        msgs.append({"role": "assistant", "content": assistant})
    msgs.append({"role": "user", "content": format_user(utterance.strip(), context.strip() or NO_PERCEPTION)})
    return msgs
