"""Shared format of the reasoning mini-tasks: `<think>steps</think>` then `Answer: X`."""
from __future__ import annotations

import re

REASONING_SYSTEM = "Think step by step inside <think></think>, then give the final line 'Answer: ...'."

_FORMAT = re.compile(r"^<think>\n?(.*?)\n?</think>\s*Answer:\s*(.+?)\s*$", re.DOTALL)


def format_answer(steps: list[str], answer: str) -> str:
    """The gold assistant text for a reasoning task."""
    return "<think>\n" + "\n".join(steps) + "\n</think>\nAnswer: " + answer


def parse_answer(text: str) -> str | None:
    """The text after 'Answer:' when the response has one think block followed by one answer line, else None."""
    m = _FORMAT.match(text.strip())
    if not m or "\n" in m.group(2) or "<think>" in m.group(1):
        return None
    return m.group(2).strip()
