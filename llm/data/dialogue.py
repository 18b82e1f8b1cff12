"""Real human dialogue for the brain: the Chit-Chat Challenge corpus (BYU PCC lab, MIT licence), as chat examples.

The corpus ships inside the PyPI package `chitchat-dataset` (7,168 open-domain conversations between two people);
it is read from the installed package, never downloaded. Each speaker's consecutive messages form one turn; turns
are cleaned (unicode, whitespace, repeated punctuation); a fixed share of conversations, chosen by a hash of the
conversation id, is held out and never trained on.

Every turn after the first becomes one example: the previous turn is the user's utterance, the turn itself the
reply, up to `max_history` earlier turns go before it as chat history, and the intent tag comes from
`dialogue_intent.label_intent`. Replies that carry out that intent and state no personal history are learned under
the brain's own system prompt (the listener voice the agent speaks with); all other replies are learned under a
second prompt, `PEER_SYSTEM_PROMPT` ("two people chatting"), so the model learns the language of every turn
without learning to present a human's memories as its own.
"""
from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from llm.brain.errors import BrainError
from llm.data.dialogue_intent import is_memory_claim, label_intent, reply_fits
from llm.data.interaction import NO_PERCEPTION, SYSTEM_PROMPT, Perception, format_user
from llm.data.types import Example

SOURCE = "chitchat-dataset 0.9.0 (BYU PCC lab Chit-Chat Challenge, MIT licence)"
PEER_SYSTEM_PROMPT = ("Two people are chatting. Answer as the next speaker with <intent>NAME</intent> and the reply. "
                      "NAME is one of: greet, listen, agree, ask, encourage, explain, farewell.")
MAX_TURN_WORDS = 80          # longer turns are cut to their first sentences within this many words
HISTORY_TURN_WORDS = 40      # earlier turns in the history, likewise
BACKCHANNELS = ("Mm-hm, go on.", "I'm listening.", "Yes, please continue.", "I see, go on.", "Mm, and then?",
                "Go on, I'm with you.", "Uh-huh.", "Okay, and?", "Right, go on.", "Take your time.")


@dataclass(frozen=True)
class Conversation:
    """One conversation: its id, the prompt the two people were given, and its turns (speakers alternate)."""

    id: str
    prompt: str
    turns: tuple[str, ...]


_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\ufeff]")
_REPEAT_PUNCT = re.compile(r"([!?,;:])\1+")
_DOTS = re.compile(r"\.{3,}|…")
_LAUGH = re.compile(r"\b(ha){3,}\b|\b(he){3,}\b", re.IGNORECASE)
_LONG_CHAR = re.compile(r"(\w)\1{3,}")


def clean_text(text: str) -> str:
    """Unicode NFKC, no control characters, one space between words, runs of !?,;: shortened to one, dot runs to
    '...', letters repeated 4+ times to 3 ('soooooo' -> 'sooo'), long laughs to 'haha'."""
    t = unicodedata.normalize("NFKC", text)
    t = _CONTROL.sub("", t)
    t = _DOTS.sub("...", t)
    t = _REPEAT_PUNCT.sub(r"\1", t)
    t = _LAUGH.sub("haha", t)
    t = _LONG_CHAR.sub(r"\1\1\1", t)
    return " ".join(t.split())


def _shorten(text: str, max_words: int = MAX_TURN_WORDS) -> str:
    """The turn's first sentences within `max_words` words (a whole first sentence when it alone is longer)."""
    words = text.split()
    if len(words) <= max_words:
        return text
    parts = re.split(r"(?<=[.!?])\s+", text)
    out: list[str] = []
    for p in parts:
        if out and len(" ".join(out + [p]).split()) > max_words:
            break
        out.append(p)
    short = " ".join(out)
    return short if len(short.split()) <= max_words else " ".join(words[:max_words])


def merge_turn(messages: Sequence[str]) -> str:
    """One speaker's consecutive messages as one turn: cleaned, empty ones dropped, joined with a space."""
    return " ".join(m for m in (clean_text(x) for x in messages) if m)


def conversations_from_json(raw: dict) -> list[Conversation]:
    """Conversations from the corpus JSON ({id: {"messages": [[{"text", "sender"}, ...], ...], "prompt"}}),
    with consecutive same-speaker groups merged and empty turns dropped; sorted by id."""
    out = []
    for cid in sorted(raw):
        conv = raw[cid]
        turns: list[tuple[str, str]] = []   # (speaker, text)
        for group in conv.get("messages", []):
            if not group:
                continue
            speaker = str(group[0].get("sender", ""))
            text = merge_turn([str(m.get("text", "")) for m in group])
            if not text:
                continue
            if turns and turns[-1][0] == speaker:
                turns[-1] = (speaker, turns[-1][1] + " " + text)
            else:
                turns.append((speaker, text))
        if len(turns) >= 2:
            out.append(Conversation(id=cid, prompt=clean_text(str(conv.get("prompt", ""))),
                                    turns=tuple(_shorten(t) for _, t in turns)))
    return out


def load_conversations() -> list[Conversation]:
    """All conversations of the installed `chitchat-dataset` package."""
    import json

    try:
        import chitchat_dataset
    except ImportError:
        raise BrainError("chitchat-dataset is not installed; `pip install chitchat-dataset==0.9.0` "
                         "(it ships the dialogue corpus inside its wheel)") from None
    from pathlib import Path

    path = Path(chitchat_dataset.__file__).with_name("dataset.json")
    if not path.is_file():
        raise BrainError(f"{path}: the chitchat-dataset corpus file is missing; reinstall chitchat-dataset")
    return conversations_from_json(json.loads(path.read_text(encoding="utf-8")))


def is_heldout(conversation_id: str, heldout_percent: float) -> bool:
    """The fixed split: a conversation is held out when its id's SHA-256, as a number mod 10,000, falls below
    heldout_percent * 100 (independent of order, seed and corpus size)."""
    h = int(hashlib.sha256(conversation_id.encode("utf-8")).hexdigest()[:12], 16) % 10_000
    return h < heldout_percent * 100


def split(convs: Iterable[Conversation], heldout_percent: float) -> tuple[list[Conversation], list[Conversation]]:
    """(train, held-out) conversations by `is_heldout`."""
    train, held = [], []
    for c in convs:
        (held if is_heldout(c.id, heldout_percent) else train).append(c)
    return train, held


@dataclass(frozen=True)
class Pair:
    """One reply in context: the utterance it answers, the reply, and earlier turns (oldest first)."""

    conversation: str
    index: int
    utterance: str
    reply: str
    history: tuple[str, ...]


def pairs(conv: Conversation, history_pairs: int = 0) -> list[Pair]:
    """Every (utterance, reply) pair of a conversation, with up to `history_pairs` earlier exchanges (two turns
    each: the other person, then the replier)."""
    out = []
    for i in range(1, len(conv.turns)):
        n = min(history_pairs, (i - 1) // 2)
        hist = conv.turns[i - 1 - 2 * n:i - 1]
        out.append(Pair(conv.id, i, conv.turns[i - 1], conv.turns[i], tuple(hist)))
    return out


def _perception(rng: random.Random) -> str:
    """Mostly 'none' (typed chat); sometimes a calm camera summary that changes no intent."""
    if rng.random() < 0.75:
        return NO_PERCEPTION
    return Perception(nods=rng.choice([0, 0, 1, 2]), engagement=rng.choice(["high", "medium"]),
                      gaze="at you").summary()


def _history_messages(turns: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """Earlier turns (an even number, the other person first) as (user message, assistant text) pairs."""
    out = []
    for u, a in zip(turns[0::2], turns[1::2]):
        out.append((format_user(_shorten(u, HISTORY_TURN_WORDS), NO_PERCEPTION),
                    f"<intent>{label_intent(u)}</intent> {_shorten(a, HISTORY_TURN_WORDS)}"))
    return tuple(out)


def example_of(pair: Pair, rng: random.Random) -> Example:
    """The chat example of one pair: listener prompt when the reply fits its intent and claims no memories."""
    perception = _perception(rng)
    intent = label_intent(pair.utterance, perception)
    listener = reply_fits(intent, pair.reply) and not is_memory_claim(pair.reply)
    return Example(task="dialogue", difficulty=0, system=SYSTEM_PROMPT if listener else PEER_SYSTEM_PROMPT,
                   user=format_user(pair.utterance, perception), answer=f"<intent>{intent}</intent> {pair.reply}",
                   meta={"intent": intent, "voice": "listener" if listener else "peer", "conversation":
                         pair.conversation, "turn": pair.index},
                   history=_history_messages(pair.history))


def trailing_example(pair: Pair, rng: random.Random) -> Example | None:
    """A real utterance cut off mid-sentence ('so yesterday I was walking home and') -> listen + a backchannel:
    people trail off in speech far more than in typed chat, so the corpus has too few of these."""
    words = pair.utterance.split()
    if len(words) < 5:
        return None
    cut = rng.randint(3, len(words) - 1)
    text = " ".join(words[:cut]).rstrip(".!?,;:")
    ending = rng.choice(["", "...", ",", " and", " but", " so", " um", " because"])
    utterance = text + ending
    perception = _perception(rng)
    if rng.random() < 0.15:
        perception = Perception(nods=rng.choice([0, 1]), engagement="high", gaze="at you", speaking=True).summary()
    if label_intent(utterance, perception) != "listen":
        return None
    return Example(task="dialogue", difficulty=0, system=SYSTEM_PROMPT, user=format_user(utterance, perception),
                   answer=f"<intent>listen</intent> {rng.choice(BACKCHANNELS)}",
                   meta={"intent": "listen", "voice": "listener", "conversation": pair.conversation,
                         "turn": pair.index, "derived": "trailing"})


def build_examples(convs: Sequence[Conversation], seed: int = 0, history_pairs: int = 2,
                   history_share: float = 0.5, trailing_share: float = 0.06) -> list[Example]:
    """Training examples of `convs`: one per reply (1..history_pairs earlier exchanges on `history_share` of
    them), plus derived trailing-off utterances on `trailing_share` of the pairs."""
    rng = random.Random(seed)
    out: list[Example] = []
    for conv in convs:
        for p in pairs(conv, history_pairs):
            keep = rng.randint(1, history_pairs) if history_pairs and rng.random() < history_share else 0
            p = Pair(p.conversation, p.index, p.utterance, p.reply, p.history[len(p.history) - 2 * keep:]
                     if keep and p.history else ())
            out.append(example_of(p, rng))
            if rng.random() < trailing_share:
                ex = trailing_example(p, rng)
                if ex is not None:
                    out.append(ex)
    return out
