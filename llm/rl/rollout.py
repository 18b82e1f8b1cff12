"""Group rollouts: G sampled responses per prompt from the current policy, in one batched decode on the model's
device, with a thinking budget (MiniMax-M1 §1: when it is spent `</think>` is forced) and early stop of looping
responses (M1 §3.2: a rollout caught repeating itself is cut, and then earns no reward)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from llm.model import MiniMaxForCausalLM


@dataclass(frozen=True)
class RolloutConfig:
    """How responses are sampled: temperature (logits / T), length cap, <think> budget, loop detection window."""

    group_size: int = 8
    temperature: float = 1.0
    max_new_tokens: int = 192
    thinking_budget: int | None = 160
    loop_period: int = 12        # a response ending in `loop_repeats` copies of one block of up to this many tokens
    loop_repeats: int = 4        # (and at least loop_min_span tokens of repetition) is cut as a loop
    loop_min_span: int = 16


@dataclass
class Rollouts:
    """B = prompts × G responses: prompt ids, response ids (ending with <|im_end|> when the model stopped), why each
    ended ("eos" | "length" | "loop"), and the prompt index of each row."""

    prompt_ids: list[list[int]]
    response_ids: list[list[int]]
    finish: list[str]
    prompt_of: list[int]


def loops(ids: Sequence[int], max_period: int, repeats: int, min_span: int = 0) -> bool:
    """True when the sequence ends with one block of ≤ max_period tokens repeated ≥ `repeats` times in a row,
    covering at least min_span tokens."""
    if not ids:
        return False
    return bool(looping_rows(torch.tensor([list(ids)]), len(ids), max_period, repeats, min_span)[0])


def looping_rows(out: Tensor, length: int, max_period: int, repeats: int, min_span: int = 0) -> Tensor:
    """Boolean [B]: rows of out[:, :length] whose last max(p·repeats, min_span) tokens have period p for some
    p ≤ max_period (x[i] = x[i + p] over that tail)."""
    hit = torch.zeros(out.shape[0], dtype=torch.bool)
    for p in range(1, max_period + 1):
        n = max(p * repeats, min_span)
        if n > length:
            break
        tail = out[:, length - n:length]
        hit |= (tail[:, p:] == tail[:, :-p]).all(dim=1)
    return hit


def sample_groups(model: MiniMaxForCausalLM, prompts: Sequence[Sequence[int]], eos_id: int, pad_id: int,
                  cfg: RolloutConfig, think_open_id: int | None, think_close_id: int | None,
                  generator: torch.Generator, autocast: bool = False) -> Rollouts:
    """Sample cfg.group_size responses for every prompt (token ids), left-padded into one batch with the cache;
    `generator` lives on the model's device (sampling stays there, one token column comes back per step)."""
    dev = model.device
    rows = [list(p) for p in prompts for _ in range(cfg.group_size)]
    prompt_of = [i for i in range(len(prompts)) for _ in range(cfg.group_size)]
    B, L = len(rows), max(len(p) for p in rows)
    ids = torch.full((B, L), pad_id, dtype=torch.long, device=dev)
    mask = torch.zeros((B, L), dtype=torch.long, device=dev)
    for b, p in enumerate(rows):
        ids[b, L - len(p):] = torch.tensor(p, device=dev)
        mask[b, L - len(p):] = 1
    out = torch.full((B, cfg.max_new_tokens), pad_id, dtype=torch.long)
    done = torch.zeros(B, dtype=torch.bool)
    finish = ["length"] * B
    # a prompt that ends inside <think> (an open tag after the last close) starts its response in the thought
    in_think = torch.tensor([think_open_id is not None and think_open_id in p and
                             (think_close_id not in p or p[::-1].index(think_open_id) < p[::-1].index(think_close_id))
                             for p in rows], dtype=torch.bool)
    think_used = torch.zeros(B, dtype=torch.long)
    lengths = torch.zeros(B, dtype=torch.long)
    cache = model.new_cache()
    active = torch.arange(B)   # cache row r holds batch row active[r]; finished rows leave the cache in bulk
    with torch.no_grad(), torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=autocast):
        logits = model(ids, attention_mask=mask, cache=cache, last_only=True).logits
        for t in range(cfg.max_new_tokens):
            last = logits[:, -1].float()
            if cfg.temperature > 0:
                probs = torch.softmax(last / cfg.temperature, dim=-1)
                sampled = torch.multinomial(probs, 1, generator=generator)[:, 0].cpu()
            else:
                sampled = last.argmax(-1).cpu()
            nxt = torch.full((B,), pad_id, dtype=torch.long)
            nxt[active] = sampled
            if cfg.thinking_budget is not None and think_close_id is not None:
                force = in_think & (think_used >= cfg.thinking_budget) & ~done
                nxt = torch.where(force, torch.full_like(nxt, think_close_id), nxt)
            live = ~done
            nxt = torch.where(live, nxt, torch.full_like(nxt, pad_id))
            out[:, t] = nxt
            lengths += live.long()
            if think_open_id is not None and think_close_id is not None:
                in_think = (in_think | (nxt == think_open_id)) & (nxt != think_close_id)
                think_used += (in_think & live).long()
            newly = live & (nxt == eos_id)
            for b in torch.nonzero(newly).flatten().tolist():
                finish[b] = "eos"
            done |= newly
            looping = looping_rows(out, t + 1, cfg.loop_period, cfg.loop_repeats, cfg.loop_min_span) & ~done
            for b in torch.nonzero(looping).flatten().tolist():
                finish[b] = "loop"
            done |= looping
            if bool(done.all()):
                break
            still = ~done[active]
            if int(still.sum()) <= len(active) * 7 // 8:   # an eighth of the cache rows finished: drop them
                keep = torch.nonzero(still).flatten()
                cache.select(keep.to(dev))
                active = active[keep]
            logits = model(nxt[active].to(dev)[:, None], cache=cache, last_only=True).logits
    responses = [out[b, :int(lengths[b])].tolist() for b in range(B)]
    return Rollouts(prompt_ids=rows, response_ids=responses, finish=finish, prompt_of=prompt_of)
