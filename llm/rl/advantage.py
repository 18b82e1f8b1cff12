"""Group-relative advantages and dynamic sampling (MiniMax-M1 §3.1 eq. 3; DAPO, arXiv:2503.14476 §3.2)."""
from __future__ import annotations

import torch
from torch import Tensor


def group_advantages(rewards: Tensor) -> Tensor:
    """Â_i = (R_i − mean_j R_j) / std_j R_j within each group; rewards [N, G] → [N, G]. A group whose rewards are all
    equal has no signal and gets zeros (drop it with `informative_groups`)."""
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be [N groups, G responses], got {tuple(rewards.shape)}")
    r = rewards.float()
    std = r.std(dim=1, unbiased=False, keepdim=True)
    adv = (r - r.mean(dim=1, keepdim=True)) / std.clamp(min=1e-6)
    return torch.where(std > 1e-6, adv, torch.zeros_like(adv))


def informative_groups(rewards: Tensor) -> Tensor:
    """Boolean [N]: groups whose rewards are not all equal (dynamic sampling keeps only these: an all-correct or
    all-wrong group has zero advantage everywhere and would only dilute the token normalisation)."""
    if rewards.dim() != 2:
        raise ValueError(f"rewards must be [N groups, G responses], got {tuple(rewards.shape)}")
    return (rewards.max(dim=1).values - rewards.min(dim=1).values) > 1e-9
