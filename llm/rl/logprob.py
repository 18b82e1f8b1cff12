"""Per-token log-probabilities of sampled responses under a policy, with the LM head in fp32 (MiniMax-M1 §3.2:
a low-precision head makes training and inference probabilities disagree)."""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from llm.model import MiniMaxForCausalLM


def pack(prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], pad_id: int
         ) -> tuple[Tensor, Tensor, Tensor]:
    """Right-padded prompt+response ids [B, L], the response mask [B, Tr] (1 on response tokens) and the index of
    each response token's position in ids [B, Tr] (its logit sits one position earlier)."""
    B = len(prompts)
    Tr = max(1, max(len(r) for r in responses))
    L = max(len(p) + len(r) for p, r in zip(prompts, responses))
    ids = torch.full((B, L), pad_id, dtype=torch.long)
    mask = torch.zeros((B, Tr))
    pos = torch.zeros((B, Tr), dtype=torch.long)
    for b, (p, r) in enumerate(zip(prompts, responses)):
        seq = list(p) + list(r)
        ids[b, :len(seq)] = torch.tensor(seq)
        mask[b, :len(r)] = 1.0
        pos[b, :len(r)] = torch.arange(len(p), len(p) + len(r))
        pos[b, len(r):] = len(p)  # any valid position; masked out
    return ids, mask, pos


def response_logprobs(model: MiniMaxForCausalLM, ids: Tensor, pos: Tensor, temperature: float = 1.0,
                      autocast: bool = False) -> Tensor:
    """log π(token at pos | everything before) for each [B, Tr] position (fp32), at the sampling temperature.

    Right padding keeps causal positions exact, so no attention mask is needed."""
    dev = model.device
    ids, pos = ids.to(dev), pos.to(dev)
    with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=autocast):
        h = model.model(ids, None, None)
    prev = (pos - 1).clamp(min=0)
    hs = torch.gather(h, 1, prev[..., None].expand(-1, -1, h.shape[-1])).float()
    with torch.autocast(device_type=dev.type, enabled=False):
        logits = F.linear(hs, model.lm_head.weight.float())
    if temperature != 1.0:
        logits = logits / temperature
    targets = torch.gather(ids, 1, pos)
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none")
    return -nll.view(targets.shape)
