"""Split a model's raw output into (reply, intent), tolerating the ways servers and models bend the format.

Accepted: `<intent>NAME</intent> reply` (our format), `intent: NAME` on a line of its own, `[NAME] reply`; any
`<think>…</think>` block is dropped first. With no intent tag, the intent is inferred from the reply's shape
(question -> ask, goodbye -> farewell, greeting -> greet, else listen) and flagged as not parsed.
"""
from __future__ import annotations

import re

from llm.data.interaction import INTENTS

_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL)
_TAG = re.compile(r"<intent>\s*([A-Za-z]+)\s*</intent>", re.IGNORECASE)
_LINE = re.compile(r"^\s*\**intent\**\s*[:=]\s*\**([A-Za-z]+)\**\s*$", re.IGNORECASE | re.MULTILINE)
_BRACKET = re.compile(r"^\s*\[([A-Za-z]+)\]", re.IGNORECASE)


def infer_intent(reply: str) -> str:
    """A shape-based guess for replies without a tag (never used when the tag is present)."""
    r = reply.strip().lower()
    if re.search(r"\b(bye|goodbye|see you|take care)\b", r):
        return "farewell"
    if re.match(r"^(hi|hello|hey|welcome)\b", r):
        return "greet"
    if r.endswith("?"):
        return "ask"
    return "listen"


def parse_reply(text: str) -> tuple[str, str, bool]:
    """(reply, intent, parsed): the reply without tags or thinking, one of INTENTS, and whether a tag named it."""
    body = text.replace("<|im_end|>", "")
    if "</think>" in body:  # a thought opened in the prompt (or a stray close tag): the reply follows the last one
        body = body.rsplit("</think>", 1)[1]
    body = _THINK.sub("", body).strip()
    intent: str | None = None
    for pattern in (_TAG, _LINE, _BRACKET):
        m = pattern.search(body)
        if m and m.group(1).lower() in INTENTS:
            intent = m.group(1).lower()
            body = (body[:m.start()] + " " + body[m.end():]).strip()
            break
    reply = " ".join(body.split())
    if intent is None:
        return reply, infer_intent(reply), False
    return reply, intent, True


_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)")


def first_sentences(reply: str, n: int) -> str:
    """The reply's first `n` sentences (a sentence ends at . ! or ? before a space or the end); the agent says one
    or two sentences, and a small model sometimes runs on past what it meant to say."""
    if n <= 0:
        return reply
    ends = [m.end() for m in _SENTENCE_END.finditer(reply)]
    return reply[:ends[n - 1]].rstrip() if len(ends) > n else reply
