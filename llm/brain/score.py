"""How likely the brain finds a reply after an utterance: log p(reply | utterance, perception), for research use
and for the dialogue evaluation (context ranking, bits per byte).

The brain answers `<intent>NAME</intent> reply<|im_end|>`, so the probability of a reply text is the sum over the
seven intents of p(tag) · p(reply, end | tag): computed exactly, each prompt once and one continuation per intent
on a copy of its cache, in batches sorted by prompt length.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy.special import logsumexp

from llm.brain.errors import BrainError
from llm.brain.prompt import build_messages
from llm.data.interaction import INTENTS


@dataclass(frozen=True)
class ScoredPrompt:
    """One prompt and the continuations (one per intent) whose log-probabilities are summed after it."""

    prompt: tuple[int, ...]
    continuations: tuple[tuple[int, ...], ...]


def _default_model() -> tuple[Any, Any]:
    from llm.brain.embedded import EmbeddedBackend

    b = EmbeddedBackend()
    return b.model, b.tokenizer


def prompts_for(tokenizer: Any, utterances: Sequence[str], replies: Sequence[str],
                contexts: Sequence[str] | None = None, intents: Sequence[str] = INTENTS) -> list[ScoredPrompt]:
    """Tokenized as in training: the chat prompt, then `<intent>NAME</intent> reply` and <|im_end|> per intent."""
    if len(utterances) != len(replies):
        raise BrainError(f"reply_logprob: {len(utterances)} utterances but {len(replies)} replies; pass one each")
    if contexts is not None and len(contexts) != len(utterances):
        raise BrainError(f"reply_logprob: {len(contexts)} contexts for {len(utterances)} utterances")
    from llm.tokenizer import render_chat

    out = []
    for i, (u, r) in enumerate(zip(utterances, replies)):
        prompt = tuple(tokenizer.tok.encode(render_chat(build_messages(u, contexts[i] if contexts else ""), True),
                                            add_special_tokens=False).ids)
        conts = tuple(tuple(tokenizer.encode(f"<intent>{name}</intent> {r.strip()}")) + (tokenizer.eos_id,)
                      for name in intents)
        out.append(ScoredPrompt(prompt, conts))
    return out


def continuation_logprobs(model: Any, items: Sequence[ScoredPrompt], pad_id: int,
                          max_batch_tokens: int = 16384) -> list[list[float]]:
    """Σ log p(continuation token | everything before it), per item and continuation. Each prompt runs once
    (left-padded batch into the model cache), the cache is copied once per continuation, and the continuations
    run right-padded on top (the model is causal: padding after a row's end changes none of its positions)."""
    import torch
    import torch.nn.functional as F

    dev = next(model.parameters()).device
    order = sorted(range(len(items)), key=lambda j: len(items[j].prompt))
    result: list[list[float]] = [[] for _ in items]
    with torch.no_grad():
        i = 0
        while i < len(order):
            j = i + 1
            while j < len(order):
                it = items[order[j]]
                width = len(it.prompt) + max(len(c) for c in it.continuations)
                if (j - i + 1) * len(it.continuations) * width > max_batch_tokens:
                    break
                j += 1
            batch = [items[k] for k in order[i:j]]
            B, P = len(batch), max(len(b.prompt) for b in batch)
            ids = torch.full((B, P), pad_id, dtype=torch.long)
            mask = torch.zeros((B, P), dtype=torch.long)
            for b, it in enumerate(batch):
                ids[b, P - len(it.prompt):] = torch.tensor(it.prompt)
                mask[b, P - len(it.prompt):] = 1
            cache = model.new_cache()
            first = model(ids.to(dev), attention_mask=mask.to(dev), cache=cache, last_only=True).logits[:, -1]
            first = F.log_softmax(first.double(), dim=-1)
            counts = [len(it.continuations) for it in batch]
            rows = torch.repeat_interleave(torch.arange(B), torch.tensor(counts))
            cache.select(rows.to(dev))
            conts = [c for it in batch for c in it.continuations]
            C = max(len(c) for c in conts)
            cids = torch.full((len(conts), C), pad_id, dtype=torch.long)
            for r, c in enumerate(conts):
                cids[r, :len(c)] = torch.tensor(c)
            logits = model(cids.to(dev), cache=cache).logits
            lp = F.log_softmax(logits[:, :-1].double(), dim=-1) if C > 1 else None
            r = 0
            for b, it in enumerate(batch):
                for c in it.continuations:
                    total = float(first[b, c[0]])
                    if len(c) > 1 and lp is not None:
                        tgt = torch.tensor(c[1:], device=dev)
                        total += float(lp[r, :len(c) - 1].gather(1, tgt[:, None]).sum())
                    result[order[i + b]].append(total)
                    r += 1
            i = j
    return result


def reply_logprob(utterances: Sequence[str], replies: Sequence[str], contexts: Sequence[str] | None = None,
                  *, model: Any = None, tokenizer: Any = None, max_batch_tokens: int = 16384) -> list[float]:
    """log p(reply_i | utterance_i, context_i) in nats under the brain (the shipped checkpoint unless `model` and
    `tokenizer` are given), summed over the intent tag the brain emits first; `contexts` are perception
    summaries ("" or None = no camera). Includes the closing <|im_end|>: the reply is exactly this text."""
    if model is None or tokenizer is None:
        model, tokenizer = _default_model()
    items = prompts_for(tokenizer, utterances, replies, contexts)
    return [float(logsumexp(v)) for v in continuation_logprobs(model, items, tokenizer.pad_id, max_batch_tokens)]
