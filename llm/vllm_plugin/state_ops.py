"""Lightning attention over vLLM's state pool: prefill one sequence into its slot, decode a batch of slots.

vLLM keeps one lightning state per running sequence in a pool `kv_cache[slot] = S [H, Dk, Dv]` (the linear-attention
"mamba" cache of its Bailing/MiniMax layers). These functions read and write that pool in place and compute with our
dispatch `llm.lightning.lightning_attention` (PyTorch reference on CPU; our Triton kernels on CUDA
when llm.kernels registered them). Math: S_t = λS_{t-1} + k_tᵀv_t, o_t = q_t S_t (MiniMax-01, arXiv:2501.08313,
§2.2.1); the state is accumulated in fp32 (MiniMax-M1, arXiv:2506.13585, §3.2) and stored back in the pool's dtype.
Only torch and llm.lightning are imported here, so the pool bookkeeping is tested without vLLM.
"""
from __future__ import annotations

import torch
from torch import Tensor

from llm.lightning import lightning_attention

__all__ = ["decode_slots", "prefill_slot"]


def prefill_slot(q: Tensor, k: Tensor, v: Tensor, pool: Tensor, slot: int | Tensor, slope: Tensor,
                 block_size: int) -> Tensor:
    """Run one sequence's new tokens through lightning attention, continuing from (and updating) `pool[slot]`.

    q, k [H, T, Dk], v [H, T, Dv] (any float dtype); pool [N, H, Dk, Dv]; slope [H]. Returns o [T, H·Dv] fp32 in the
    token-major layout vLLM's layers use. A fresh sequence must have its slot zeroed first (vLLM's layer does this).
    """
    if q.dim() != 3:
        raise ValueError(f"prefill_slot: q must be [H, T, D], got {tuple(q.shape)}")
    state = pool[slot].to(torch.float32)[None]
    o, new_state = lightning_attention(q[None], k[None], v[None], slope, state, block_size=block_size)
    pool[slot] = new_state[0].to(pool.dtype)
    return o[0].transpose(0, 1).reshape(q.shape[1], q.shape[0] * v.shape[-1])


def decode_slots(q: Tensor, k: Tensor, v: Tensor, pool: Tensor, slots: Tensor, slope: Tensor) -> Tensor:
    """One decode token for each of N sequences: q, k [N, H, Dk], v [N, H, Dv], slots [N] indices into pool.

    Gathers the N states, applies S' = λS + kᵀv, o = qS', scatters S' back. Returns o [N, H·Dv] fp32.
    A negative slot (vLLM's padding marker) is skipped: its output row is zero and no state is touched.
    """
    if q.dim() != 3 or slots.dim() != 1 or slots.shape[0] != q.shape[0]:
        raise ValueError(f"decode_slots: need q [N, H, D] and slots [N], got {tuple(q.shape)} and "
                         f"{tuple(slots.shape)}")
    out = torch.zeros(q.shape[0], q.shape[1] * v.shape[-1], dtype=torch.float32, device=q.device)
    live = slots >= 0
    if not bool(live.any()):
        return out
    idx = slots[live].long()
    state = pool[idx].to(torch.float32)
    # one-token prefill with a state = a decode step; through `lightning_attention` so a registered CUDA kernel
    # (llm.kernels: its Triton decode kernel for T = 1) serves it, and llm.lightning.lightning_decode on CPU
    o, new_state = lightning_attention(q[live][:, :, None], k[live][:, :, None], v[live][:, :, None], slope, state)
    pool[idx] = new_state.to(pool.dtype)
    out[live] = o[:, :, 0].reshape(o.shape[0], -1)
    return out
