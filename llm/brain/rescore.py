"""Sentence log-probabilities from the embedded brain, for rescoring a speech recogniser's N-best list.

The brain learned every chitchat turn as the reply to the turn before it (llm.data.dialogue), so
log p(reply = hypothesis | previous turn) is a dialogue language model of what people say. The previous turn is
fixed per rescorer (the agent's last words when known, else a neutral question), its prompt and intent tag run
once and are cached; each call copies that cache once per hypothesis and scores all hypotheses in one right-padded
forward pass (docs/architecture.md §6). The score ends with the probability that the turn ends there (the next
token is <|im_end|> or closing punctuation), so a hypothesis cut short mid-phrase scores lower.

Bottom-layer use: perception.audio.Recognizer takes any `list[str] -> list[float]` callable; this is one.
"""
from __future__ import annotations

import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm.brain.embedded import DEFAULT_CHECKPOINT, EmbeddedBackend

DEFAULT_CONTEXT = "What have you been up to lately?"
_ENDINGS = (".", "?", "!")
_PRONOUN_I = re.compile(r"\bi\b(?=('m|'ve|'ll|'d)?\b)")


def written_form(words: str) -> str:
    """A recogniser's lower-case word string as chat text: capital first letter and pronoun I ("i'm" -> "I'm")."""
    text = _PRONOUN_I.sub("I", " ".join(words.split()))
    return text[:1].upper() + text[1:]


@dataclass
class BrainRescorer:
    """Callable `hypotheses -> log p(hypothesis as the next turn | context)` in nats under the brain.

    `context` is the turn the speaker is answering (set it to the agent's last utterance when known);
    `threads` caps torch's CPU threads; `max_words` truncates absurdly long hypotheses before scoring."""

    checkpoint: Path = DEFAULT_CHECKPOINT
    context: str = DEFAULT_CONTEXT
    threads: int | None = None
    max_words: int = 40
    _backend: EmbeddedBackend | None = field(default=None, init=False, repr=False)
    _prefix: Any = field(default=None, init=False, repr=False)   # (cache, last log-probs) for `context`
    _prefix_for: str | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def backend(self) -> EmbeddedBackend:
        if self._backend is None:
            self._backend = EmbeddedBackend(checkpoint=Path(self.checkpoint), threads=self.threads)
            self._backend.load()
        return self._backend

    def _prefix_state(self) -> tuple[Any, Any]:
        """The cache after system prompt + context turn + `<intent>TAG</intent>` and the log-probs that follow."""
        if self._prefix is not None and self._prefix_for == self.context:
            return self._prefix
        import torch
        import torch.nn.functional as F

        from llm.data.dialogue import PEER_SYSTEM_PROMPT
        from llm.data.dialogue_intent import label_intent
        from llm.data.interaction import NO_PERCEPTION, format_user
        from llm.tokenizer import render_chat

        tok, model = self.backend.tokenizer, self.backend.model
        # The peer prompt ("two people chatting") carries every human turn of the corpus; the intent tag is the one
        # the corpus labeller gives the context turn, as in training (llm.data.dialogue.example_of).
        msgs = [{"role": "system", "content": PEER_SYSTEM_PROMPT},
                {"role": "user", "content": format_user(self.context.strip(), NO_PERCEPTION)}]
        ids = tok.encode(render_chat(msgs, True) + f"<intent>{label_intent(self.context)}</intent>")
        cache = model.new_cache()
        with torch.no_grad():
            logits = model(torch.tensor([ids], dtype=torch.long), cache=cache, last_only=True).logits[0, -1]
        self._prefix = (cache, F.log_softmax(logits.double(), dim=-1))
        self._prefix_for = self.context
        return self._prefix

    def __call__(self, hypotheses: Sequence[str]) -> list[float]:
        """log p(hypothesis, then end of turn | context) in nats for each hypothesis (empty text included)."""
        if not hypotheses:
            return []
        import torch
        import torch.nn.functional as F

        from llm.model import ModelCache

        with self._lock:
            cache0, first = self._prefix_state()
            tok, model = self.backend.tokenizer, self.backend.model
            texts = [written_form(" ".join(h.split()[: self.max_words])) for h in hypotheses]
            rows = [tok.encode(" " + t) if t else [] for t in texts]
            ends = torch.tensor([tok.eos_id] + [piece[0] for p in _ENDINGS if len(piece := tok.encode(p)) == 1])
            width = max(1, max(len(r) for r in rows))
            ids = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
            for i, r in enumerate(rows):
                ids[i, :len(r)] = torch.tensor(r)
            cache = ModelCache(lightning=dict(cache0.lightning), keys=dict(cache0.keys), values=dict(cache0.values),
                               key_valid=cache0.key_valid, next_pos=cache0.next_pos, length=cache0.length,
                               capacity=cache0.capacity)
            cache.select(torch.zeros(len(rows), dtype=torch.long))
            with torch.no_grad():
                lp = F.log_softmax(model(ids, cache=cache).logits.double(), dim=-1)   # [N, T, V]
            out = []
            for i, r in enumerate(rows):
                if not r:
                    out.append(math.log(float(first[ends].exp().sum())))
                    continue
                nxt = torch.tensor(r[1:], dtype=torch.long)
                total = float(first[r[0]]) + float(lp[i, torch.arange(len(r) - 1), nxt].sum())
                out.append(total + math.log(float(lp[i, len(r) - 1, ends].exp().sum())))
            return out
