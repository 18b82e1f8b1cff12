"""The embedded backend: our trained checkpoint (llm/models/brain-small) run in-process on CPU with llm.generate.

Loading is lazy (first request) and guarded by a lock, so constructing a Brain costs nothing and one model serves
concurrent callers one generation at a time.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm.brain.errors import BrainError

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "models" / "brain-small"
STOP = ("<|im_end|>", "<|im_start|>")


@dataclass
class EmbeddedBackend:
    """Generate with our model; `thinking_budget` caps <think> tokens (reasoning prompts), `threads` CPU threads."""

    checkpoint: Path = DEFAULT_CHECKPOINT
    temperature: float = 0.0
    max_tokens: int = 96
    thinking_budget: int | None = 64
    device: str = "cpu"
    threads: int | None = None
    no_repeat_ngram: int = 3                # replies never repeat a 3-gram (a small greedy model loops otherwise)
    name: str = "embedded"
    _model: Any = field(default=None, init=False, repr=False)
    _tok: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def load(self) -> None:
        """Load weights and tokenizer once; errors name the directory and how to get a checkpoint."""
        if self._model is not None:
            return
        import torch

        from llm import checkpoint
        from llm.errors import LLMError
        from llm.tokenizer import ChatTokenizer

        d = Path(self.checkpoint)
        if not (d / "config.json").is_file():
            raise BrainError(f"{d}: no embedded checkpoint here (config.json missing); pass --checkpoint DIR with a "
                             "trained model or reinstall the package (it ships llm/models/brain-small)")
        if self.threads:
            torch.set_num_threads(self.threads)
        try:
            model = checkpoint.load(d, dtype=torch.float32, device=self.device)
        except LLMError as exc:
            raise BrainError(str(exc)) from None
        self._tok = ChatTokenizer.load(d)
        self._model = model

    @property
    def model(self) -> Any:
        self.load()
        return self._model

    @property
    def tokenizer(self) -> Any:
        self.load()
        return self._tok

    def _config(self, max_tokens: int | None = None, temperature: float | None = None) -> Any:
        from llm.generate import GenerationConfig

        t = self.temperature if temperature is None else temperature
        return GenerationConfig(max_new_tokens=max_tokens or self.max_tokens, temperature=t,
                                top_p=0.95 if t > 0 else 1.0,
                                stop=STOP, eos_token_id=self.tokenizer.eos_id,
                                thinking_budget=self.thinking_budget, seed=0, no_repeat_ngram=self.no_repeat_ngram)

    def prompt(self, messages: Sequence[dict[str, str]]) -> str:
        from llm.tokenizer import render_chat

        return render_chat(messages, add_generation_prompt=True)

    def complete(self, messages: Sequence[dict[str, str]], timeout_s: float = 0.0,
                 max_tokens: int | None = None, temperature: float | None = None) -> str:
        """Generate the assistant text (timeouts are enforced by the caller: generation is bounded by max_tokens)."""
        from llm.generate import generate

        self.load()
        with self._lock:
            config = self._config(max_tokens, temperature)
            return generate(self._model, self._tok, self.prompt(messages), config)[0].text

    def stream(self, messages: Sequence[dict[str, str]], timeout_s: float = 0.0,
               max_tokens: int | None = None, temperature: float | None = None) -> Iterator[str]:
        """Yield text pieces as they are generated."""
        from llm.generate import stream

        self.load()
        with self._lock:
            yield from stream(self._model, self._tok, self.prompt(messages), self._config(max_tokens, temperature))
