"""Text generation with our model: temperature / top-k / top-p sampling, stop strings, streaming, batches, and a
thinking budget (MiniMax-M1's capped `<think>…</think>` reasoning, arXiv:2506.13585 §1: when the budget is spent the
close tag is forced so the answer follows).

Any tokenizer with `encode(text)` (→ list[int] or an object with `.ids`, e.g. `tokenizers.Tokenizer`) and
`decode(ids)` works; `ByteTokenizer` is a dependency-free byte-level one for tests and tools.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from llm.errors import LLMError
from llm.model import MiniMaxForCausalLM

__all__ = [
    "ByteTokenizer",
    "Generation",
    "GenerationConfig",
    "TextTokenizer",
    "encode_ids",
    "generate",
    "nucleus_mask",
    "sample_next",
    "stream",
]


class TextTokenizer(Protocol):
    """What generation needs from a tokenizer."""

    def encode(self, text: str): ...

    def decode(self, ids: Sequence[int]) -> str: ...


class ByteTokenizer:
    """UTF-8 bytes as ids 0..255, then special tokens (one id each) from 256 on; vocabulary 256 + len(specials)."""

    DEFAULT_SPECIALS = ("<|endoftext|>", "<think>", "</think>", "<|pad|>")

    def __init__(self, specials: Sequence[str] = DEFAULT_SPECIALS) -> None:
        self.specials = tuple(specials)
        self._special_ids = {s: 256 + i for i, s in enumerate(self.specials)}

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.specials)

    def token_to_id(self, token: str) -> int | None:
        """Id of a special token, or None."""
        return self._special_ids.get(token)

    def encode(self, text: str) -> list[int]:
        """Bytes of the text; occurrences of special strings become their single ids."""
        ids: list[int] = []
        i = 0
        while i < len(text):
            for s, sid in self._special_ids.items():
                if text.startswith(s, i):
                    ids.append(sid)
                    i += len(s)
                    break
            else:
                ids.extend(text[i].encode("utf-8"))
                i += 1
        return ids

    def decode(self, ids: Sequence[int]) -> str:
        """Inverse of encode; invalid UTF-8 becomes U+FFFD."""
        out: list[str] = []
        buf = bytearray()
        for t in ids:
            t = int(t)
            if t < 256:
                buf.append(t)
                continue
            if buf:
                out.append(buf.decode("utf-8", errors="replace"))
                buf = bytearray()
            out.append(self.specials[t - 256] if t - 256 < len(self.specials) else "")
        if buf:
            out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)


def encode_ids(tokenizer: TextTokenizer, text: str) -> list[int]:
    """Token ids of text for either tokenizer style (plain list or `tokenizers` Encoding)."""
    enc = tokenizer.encode(text)
    ids = getattr(enc, "ids", enc)
    return [int(i) for i in ids]


@dataclass
class GenerationConfig:
    """Sampling settings; temperature 0 means greedy. thinking_budget caps tokens inside <think>…</think>."""

    max_new_tokens: int = 128
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    eos_token_id: int | None = None  # None: the model config's eos_token_id (if any)
    thinking_budget: int | None = None
    think_open: str = "<think>"
    think_close: str = "</think>"
    seed: int | None = 0
    no_repeat_ngram: int = 0          # > 0: never generate an n-gram of this size twice in one reply (0 = off)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise LLMError(f"generation field 'max_new_tokens' must be >= 1, got {self.max_new_tokens}")
        if not self.temperature >= 0:
            raise LLMError(f"generation field 'temperature' must be >= 0, got {self.temperature}")
        if self.no_repeat_ngram < 0:
            raise LLMError(f"generation field 'no_repeat_ngram' must be >= 0 (0 = off), got {self.no_repeat_ngram}")
        if self.top_k < 0:
            raise LLMError(f"generation field 'top_k' must be >= 0 (0 = off), got {self.top_k}")
        if not 0 < self.top_p <= 1:
            raise LLMError(f"generation field 'top_p' must be in (0, 1], got {self.top_p}")
        if self.thinking_budget is not None and self.thinking_budget < 0:
            raise LLMError(f"generation field 'thinking_budget' must be >= 0 or null, got {self.thinking_budget}")
        if any(not s for s in self.stop):
            raise LLMError("generation field 'stop' may not contain an empty string")
        self.stop = tuple(self.stop)


@dataclass
class Generation:
    """One finished sequence: text (stop string removed), token ids, why it ended, thinking-token count."""

    text: str
    token_ids: list[int]
    finish_reason: str  # "eos" | "stop" | "length"
    thinking_tokens: int = 0
    forced_think_close: bool = False


NUCLEUS_FIRST_K = 64  # candidates sorted first; a full sort of an 8K vocabulary costs as much as a decode step


def nucleus_mask(logits: Tensor, top_p: float) -> Tensor:
    """Logits [B, V] with every token outside the nucleus set to -inf (Holtzman et al. 2020 §3.1: the smallest set of
    most probable tokens with cumulative probability >= top_p; the most probable token always stays).

    Only the top candidates are sorted (64, then 16x more until the nucleus closes inside them), not the vocabulary.
    """
    probs = torch.softmax(logits, dim=-1)
    V = logits.shape[-1]
    k = min(V, NUCLEUS_FIRST_K)
    while True:
        top, idx = torch.topk(probs, k, dim=-1)  # sorted, descending
        before = top.cumsum(-1) - top  # mass strictly before each candidate
        if k == V or bool((before[..., -1] >= top_p).all()):  # the last candidate is outside every row's nucleus
            break
        k = min(V, 16 * k)
    keep = torch.zeros_like(probs, dtype=torch.bool).scatter(-1, idx, before < top_p)
    return logits.masked_fill(~keep, float("-inf"))


def repeated_ngram_tokens(ids: Sequence[int], n: int) -> list[int]:
    """Tokens that would complete an n-gram already in `ids` (the n−1 tokens before each earlier occurrence equal
    the last n−1 of `ids`): banning them keeps a greedy small model out of loops ("the cold and the cold")."""
    if n < 1 or len(ids) < n - 1:
        return []
    if n == 1:
        return list(set(ids))
    prefix = tuple(ids[len(ids) - n + 1:])
    return sorted({ids[i + n - 1] for i in range(len(ids) - n + 1) if tuple(ids[i:i + n - 1]) == prefix})


def sample_next(logits: Tensor, cfg: GenerationConfig, generator: torch.Generator | None) -> Tensor:
    """Next token per row from logits [B, V]: greedy at temperature 0, else top-k then top-p (nucleus, Holtzman et
    al. 2020 §3.1: smallest set with cumulative probability >= p) sampling from softmax(logits / T)."""
    logits = logits.float()
    if cfg.temperature == 0:
        return logits.argmax(-1)
    logits = logits / cfg.temperature
    if cfg.top_k and cfg.top_k < logits.shape[-1]:
        kth = torch.topk(logits, cfg.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if cfg.top_p < 1.0:
        logits = nucleus_mask(logits, cfg.top_p)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)[:, 0]


@dataclass
class _Row:
    ids: list[int] = field(default_factory=list)
    text: str = ""
    done: str | None = None
    in_think: bool = False
    prompt_open: bool = False  # the prompt itself ends inside <think>
    think_tokens: int = 0
    forced: list[int] = field(default_factory=list)
    forced_close: bool = False
    emitted: int = 0


def _think_open_at_end(text: str, cfg: GenerationConfig) -> bool:
    """True when text has an unclosed <think> tag."""
    return text.rfind(cfg.think_open) > text.rfind(cfg.think_close)


def _steps(model: MiniMaxForCausalLM, tokenizer: TextTokenizer, prompts: Sequence[str], cfg: GenerationConfig
           ) -> Iterator[list[_Row]]:
    """Core loop: prefill the left-padded batch once, then one token per step for all unfinished rows."""
    if not prompts:
        raise LLMError("generation needs at least one prompt")
    encoded = [encode_ids(tokenizer, p) for p in prompts]
    if any(len(e) == 0 for e in encoded):
        raise LLMError("generation prompt is empty after tokenization; pass some text")
    vocab = model.config.vocab_size
    for e in encoded:
        bad = [t for t in e if not 0 <= t < vocab]
        if bad:
            raise LLMError(f"tokenizer produced id {bad[0]} outside the model vocabulary ({vocab}); "
                           f"use the tokenizer the checkpoint was trained with")
    device = model.device
    B, T = len(encoded), max(len(e) for e in encoded)
    ids = torch.zeros(B, T, dtype=torch.long, device=device)
    mask = torch.zeros(B, T, dtype=torch.long, device=device)
    for i, e in enumerate(encoded):
        ids[i, T - len(e):] = torch.tensor(e, dtype=torch.long)
        mask[i, T - len(e):] = 1
    eos = cfg.eos_token_id if cfg.eos_token_id is not None else model.config.eos_token_id
    rows = [_Row(in_think=_think_open_at_end(p, cfg), prompt_open=_think_open_at_end(p, cfg)) for p in prompts]
    close_ids = encode_ids(tokenizer, cfg.think_close)
    gen = torch.Generator(device="cpu")
    if cfg.seed is not None:
        gen.manual_seed(cfg.seed)
    active = list(range(B))  # batch row r of the cache <-> rows[active[r]]
    cache = model.new_cache()
    with torch.inference_mode():
        logits = model(ids, attention_mask=None if bool(mask.all()) else mask, cache=cache, last_only=True).logits
        while active:
            last = logits[:, -1].cpu()
            if cfg.no_repeat_ngram:
                for r, i in enumerate(active):
                    banned = repeated_ngram_tokens(rows[i].ids, cfg.no_repeat_ngram)
                    if banned:
                        last[r, banned] = float("-inf")
            nxt = sample_next(last, cfg, gen if cfg.temperature > 0 else None).tolist()
            for r, i in enumerate(active):
                row = rows[i]
                was_forced = bool(row.forced)
                tok = row.forced.pop(0) if was_forced else int(nxt[r])
                nxt[r] = tok
                row.ids.append(tok)
                row.text = tokenizer.decode(row.ids)
                if cfg.thinking_budget is not None:
                    was_in = row.in_think
                    row.in_think = _think_open_at_end((cfg.think_open if row.prompt_open else "") + row.text, cfg)
                    if was_in and row.in_think and not was_forced:
                        row.think_tokens += 1
                    if row.in_think and not row.forced and row.think_tokens >= cfg.thinking_budget:
                        row.forced = list(close_ids)  # budget spent: close the thought, the answer follows
                        row.forced_close = True
                if eos is not None and tok == eos and not row.forced:
                    row.done = "eos"
                    row.ids.pop()
                    row.text = tokenizer.decode(row.ids)
                for s in cfg.stop:
                    at = row.text.find(s)
                    if at >= 0 and row.done is None:
                        row.text, row.done = row.text[:at], "stop"
                if row.done is None and len(row.ids) >= cfg.max_new_tokens:
                    row.done = "length"
            yield rows
            keep = [r for r, i in enumerate(active) if rows[i].done is None]
            if not keep:
                break
            if len(keep) < len(active):
                cache.select(torch.tensor(keep, device=device))
                nxt = [nxt[r] for r in keep]
                active = [active[r] for r in keep]
            step = torch.tensor(nxt, dtype=torch.long, device=device)[:, None]
            logits = model(step, cache=cache, last_only=True).logits


def _result(row: _Row) -> Generation:
    return Generation(text=row.text, token_ids=list(row.ids), finish_reason=row.done or "length",
                      thinking_tokens=row.think_tokens, forced_think_close=row.forced_close)


def generate(model: MiniMaxForCausalLM, tokenizer: TextTokenizer, prompts: str | Sequence[str],
             cfg: GenerationConfig | None = None) -> list[Generation]:
    """Generate for one prompt or a batch (left-padded together, one forward per step); one Generation per prompt."""
    cfg = cfg or GenerationConfig()
    batch = [prompts] if isinstance(prompts, str) else list(prompts)
    rows: list[_Row] = []
    for rows in _steps(model, tokenizer, batch, cfg):
        pass
    return [_result(r) for r in rows]


def stream(model: MiniMaxForCausalLM, tokenizer: TextTokenizer, prompt: str, cfg: GenerationConfig | None = None
           ) -> Iterator[str]:
    """Yield the reply as text pieces while it is generated; the pieces join to `generate(...)[0].text`.

    Text that could still turn into a stop string, or an incomplete UTF-8 character, is held back until resolved.
    """
    cfg = cfg or GenerationConfig()
    hold = max((len(s) for s in cfg.stop), default=1) - 1
    for rows in _steps(model, tokenizer, [prompt], cfg):
        row = rows[0]
        text = row.text
        end = len(text) if row.done else max(row.emitted, len(text) - hold)
        if not row.done:
            while end > row.emitted and text[end - 1] == "\ufffd":
                end -= 1
        if end > row.emitted:
            yield text[row.emitted:end]
            row.emitted = end
