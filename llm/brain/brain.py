"""The Brain: one utterance (+ perception summary) -> BrainReply, synchronously or in the background.

The motion loop never waits on it: `submit` returns a Future at once and the reply arrives within `timeout_s`
or as the fallback reply carrying the time-out message. `ask(..., fallback=False)` raises instead (the CLI's
one-shot `brain ask`, where an unreachable server is the user's error to fix).
"""
from __future__ import annotations

import concurrent.futures as cf
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from llm.brain.config import BrainConfig
from llm.brain.errors import BrainError, BrainTimeout
from llm.brain.intent import first_sentences, parse_reply
from llm.brain.prompt import build_messages
from llm.brain.record import BrainReply


def make_backend(cfg: BrainConfig) -> Any:
    """The backend object `cfg.backend` names (nothing heavy is loaded until the first request)."""
    if cfg.backend == "openai":
        from llm.brain.openai_client import OpenAIBackend

        return OpenAIBackend(base_url=cfg.base_url, model=cfg.model, temperature=cfg.temperature,
                             max_tokens=cfg.max_tokens)
    from llm.brain.embedded import DEFAULT_CHECKPOINT, EmbeddedBackend

    return EmbeddedBackend(checkpoint=Path(cfg.checkpoint) if cfg.checkpoint else DEFAULT_CHECKPOINT,
                           temperature=cfg.temperature, max_tokens=cfg.max_tokens)


class Brain:
    """Keeps the conversation history and turns utterances into replies through one backend."""

    def __init__(self, cfg: BrainConfig | None = None, backend: Any = None) -> None:
        self.cfg = (cfg or BrainConfig()).validate()
        self.backend = backend if backend is not None else make_backend(self.cfg)
        self.history: deque[tuple[str, str]] = deque(maxlen=max(1, self.cfg.history_turns))
        self._pool = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="brain")
        self._lock = threading.Lock()

    def _messages(self, utterance: str, context: str) -> list[dict[str, str]]:
        hist = list(self.history) if self.cfg.history_turns else []
        return build_messages(utterance, context, hist)

    def _remember(self, messages: list[dict[str, str]], raw: str) -> None:
        if self.cfg.history_turns:
            with self._lock:
                self.history.append((messages[-1]["content"], raw.strip()))

    def _fallback(self, t0: float, error: str) -> BrainReply:
        return BrainReply(reply=self.cfg.fallback_reply, intent=self.cfg.fallback_intent, backend=self.backend.name,
                          latency_s=time.monotonic() - t0, intent_parsed=False, fallback=True, error=error)

    def ask(self, utterance: str, context: str = "", fallback: bool = True) -> BrainReply:
        """Reply to `utterance` within `timeout_s`; on time-out/failure the fallback reply (or raise if not
        fallback)."""
        if not utterance.strip():
            raise BrainError("utterance is empty; type something to say to the agent")
        t0 = time.monotonic()
        messages = self._messages(utterance, context)
        fut = self._pool.submit(self.backend.complete, messages, self.cfg.timeout_s)
        try:
            raw = fut.result(timeout=self.cfg.timeout_s + 0.5)
        except cf.TimeoutError:
            err = f"brain time-out: no reply from the {self.backend.name} backend within {self.cfg.timeout_s:g} s"
            if not fallback:
                raise BrainTimeout(err + "; raise --timeout") from None
            return self._fallback(t0, err)
        except BrainError as exc:
            if not fallback:
                raise
            # for the conversation any failure is a reply that did not come in time; the message says why
            return self._fallback(t0, f"brain time-out: {exc}")
        reply, intent, parsed = parse_reply(raw)
        reply = first_sentences(reply, self.cfg.max_sentences)
        self._remember(messages, f"<intent>{intent}</intent> {reply}" if parsed else raw)  # what the agent said
        return BrainReply(reply=reply, intent=intent, backend=self.backend.name, latency_s=time.monotonic() - t0,
                          intent_parsed=parsed, raw=raw)

    def submit(self, utterance: str, context: str = "",
               on_reply: Callable[[BrainReply], None] | None = None) -> cf.Future[BrainReply]:
        """Ask in the background; the Future always resolves (to the fallback on time-out), never raises."""
        fut: cf.Future[BrainReply] = cf.Future()

        def work() -> None:
            try:
                r = self.ask(utterance, context, fallback=True)
            except BrainError as exc:  # e.g. an empty utterance
                r = self._fallback(time.monotonic(), f"brain: {exc}")
            fut.set_result(r)
            if on_reply is not None:
                on_reply(r)

        threading.Thread(target=work, name="brain-submit", daemon=True).start()
        return fut

    def stream(self, utterance: str, context: str = "") -> Iterator[str]:
        """Yield the raw reply text as it is generated (for the chat REPL); errors propagate as BrainError."""
        messages = self._messages(utterance, context)
        pieces: list[str] = []
        for piece in self.backend.stream(messages, self.cfg.timeout_s):
            pieces.append(piece)
            yield piece
        self._remember(messages, "".join(pieces))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
