"""Policy-gradient losses on a group of sampled responses, as [G, T] tensors with a 0/1 response mask.

CISPO (MiniMax-M1, arXiv:2506.13585 §3.1, eq. 4–5) keeps every token's gradient and bounds only the importance
weight, which is detached; GRPO (DeepSeekMath, arXiv:2402.03300 eq. 3) is PPO-clip (Schulman et al. 2017, eq. 7),
where a token whose ratio leaves the trust region in the direction of its advantage gets no gradient.
"""
from __future__ import annotations

import torch
from torch import Tensor


def _check(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Advantages broadcast to [G, T] (a [G] vector is one value per response) and the mask as floats."""
    if logp.dim() != 2 or logp.shape != old_logp.shape or logp.shape != mask.shape:
        raise ValueError(f"logp, old_logp and mask must be [G, T] of one shape, got {tuple(logp.shape)}, "
                         f"{tuple(old_logp.shape)}, {tuple(mask.shape)}")
    adv = advantages[:, None] if advantages.dim() == 1 else advantages
    if adv.shape[0] != logp.shape[0]:
        raise ValueError(f"advantages must have G = {logp.shape[0]} rows, got {tuple(advantages.shape)}")
    return adv.to(logp.dtype).expand_as(logp), mask.to(logp.dtype)


def cispo_loss(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor,
               eps_low: float = 1.0, eps_high: float = 0.28) -> Tensor:
    """−J_CISPO (M1 eq. 4): −Σ_i Σ_t sg(clip(r_it, 1−ε_low, 1+ε_high)) · Â_it · log π_θ(o_it) / Σ_i |o_i|.

    r = exp(logp − old_logp); the clipped weight is detached, so every unmasked token keeps the gradient Â·r̂·∇log π
    (token-level normalisation over the whole group, no KL term). ε_low = 1 leaves no lower bound on the weight."""
    adv, m = _check(logp, old_logp, advantages, mask)
    ratio = torch.exp(logp - old_logp)
    weight = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high).detach()
    return -(weight * adv * logp * m).sum() / m.sum().clamp(min=1.0)


def grpo_loss(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, eps: float = 0.2,
              kl_coef: float = 0.0, ref_logp: Tensor | None = None) -> Tensor:
    """−J_GRPO (DeepSeekMath eq. 3): per response the mean over its tokens of min(r·Â, clip(r, 1−ε, 1+ε)·Â) − β·KL,
    then the mean over the G responses. KL is the k3 estimator exp(ref − logp) − (ref − logp) − 1 against a frozen
    reference (eq. 4); β = kl_coef (DeepSeekMath used 0.04; 0 drops the term and needs no ref_logp)."""
    adv, m = _check(logp, old_logp, advantages, mask)
    ratio = torch.exp(logp - old_logp)
    surrogate = torch.minimum(ratio * adv, torch.clamp(ratio, 1.0 - eps, 1.0 + eps) * adv)
    if kl_coef:
        if ref_logp is None or ref_logp.shape != logp.shape:
            raise ValueError("grpo_loss: kl_coef > 0 needs ref_logp of the same [G, T] shape")
        d = ref_logp - logp
        surrogate = surrogate - kl_coef * (torch.exp(d) - d - 1.0)
    per_seq = (surrogate * m).sum(1) / m.sum(1).clamp(min=1.0)
    has_tokens = (m.sum(1) > 0).to(logp.dtype)
    return -(per_seq * has_tokens).sum() / has_tokens.sum().clamp(min=1.0)
