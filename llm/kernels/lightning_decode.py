"""Triton decode kernel for lightning attention: one token per sequence, states kept in a pool indexed by slot.

One step (MiniMax-01 report arXiv:2501.08313 §2.2.1, the recurrence):  S ← λ S + kᵀ v,  o = q S,  λ = exp(-slope).
Decay, outer product and readout are fused, and the pool is updated in place, so a step reads and writes each fp32
state once (the floor) and allocates nothing when `out` is given: the launch can be captured in a CUDA graph.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from llm.kernels.args import check_decode_args, squeeze_step


@triton.jit
def _lightning_decode_kernel(
    Q, K, V, O, POOL, SLOTS, SLOPE,
    sq_b, sq_h, sk_b, sk_h, sv_b, sv_h, so_b, so_h, sp_n, sp_h,
    H,
    DK: tl.constexpr, DV: tl.constexpr, BV: tl.constexpr, PDL: tl.constexpr,
):
    if PDL:  # programmatic dependent launch: let the next kernel start launching, wait for the previous one's writes
        tl.extra.cuda.gdc_launch_dependents()
        tl.extra.cuda.gdc_wait()
    bh = tl.program_id(0)
    iv = tl.program_id(1)
    b = bh // H
    h = bh % H
    slot = tl.load(SLOTS + b).to(tl.int64)
    if slot >= 0:  # a negative slot marks a padding row of the batch: nothing is read or written
        offs_k = tl.arange(0, DK)
        offs_v = iv * BV + tl.arange(0, BV)
        bb = b.to(tl.int64)
        hh = h.to(tl.int64)
        q = tl.load(Q + bb * sq_b + hh * sq_h + offs_k).to(tl.float32)
        k = tl.load(K + bb * sk_b + hh * sk_h + offs_k).to(tl.float32)
        v = tl.load(V + bb * sv_b + hh * sv_h + offs_v).to(tl.float32)
        lam = tl.exp(-tl.load(SLOPE + h).to(tl.float32))
        p = POOL + slot * sp_n + hh * sp_h + offs_k[:, None] * DV + offs_v[None, :]
        S = tl.load(p) * lam + k[:, None] * v[None, :]  # S ← λS + kᵀv
        tl.store(p, S)
        o = tl.sum(q[:, None] * S, axis=0)  # o = q S
        tl.store(O + bb * so_b + hh * so_h + offs_v, o.to(O.dtype.element_ty))


def lightning_decode_step(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    slope: Tensor,
    state_pool: Tensor,
    slots: Tensor,
    out: Tensor | None = None,
    *,
    block_v: int | None = None,
    num_warps: int | None = None,
    pdl: bool = False,
) -> Tensor:
    """One decoding step for a batch, updating `state_pool[slots[b]]` in place; returns o [B,H,Dv] (fp32 unless `out`).

    q, k [B,H,Dk], v [B,H,Dv] (or with a T=1 axis), slope [H], state_pool fp32 [num_slots,H,Dk,Dv] (contiguous in the
    last two axes), slots int [B] (a negative slot skips that row). With `out` given nothing is allocated, so the call
    can be captured in a CUDA graph and replayed with new contents of q, k, v and slots. pdl=True launches with
    programmatic dependent launch (Hopper+): the step's blocks are scheduled while the previous kernel drains and
    wait on it (griddepcontrol) before reading anything. It pays only when the previous kernel launches its
    dependents early (another decode step does; a projection GEMM does not), so it is off by default.
    """
    q, k, v = squeeze_step(q, "q"), squeeze_step(k, "k"), squeeze_step(v, "v")
    B, H, DK, DV = check_decode_args(q, k, v, slope, state_pool, slots, out)
    if out is None:
        out = torch.empty(B, H, DV, dtype=torch.float32, device=q.device)
    # H100, run 2 (16-step CUDA graph): B·H >= 512 → BV=128 with 8 warps (B=64: 185 µs, 96 % of the floor);
    # fewer rows → BV=32 with 4 warps, more programs for the small state (B=1: 5.7 µs).
    big = B * H >= 512
    bv = min(block_v or (128 if big else 32), DV)
    num_warps = num_warps or (8 if big else 4)
    grid = (B * H, triton.cdiv(DV, bv))
    _lightning_decode_kernel[grid](
        q, k, v, out, state_pool, slots, slope,
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), out.stride(0), out.stride(1),
        state_pool.stride(0), state_pool.stride(1),
        H, DK=DK, DV=DV, BV=bv, PDL=pdl, num_warps=num_warps, **({"launch_pdl": True} if pdl else {}),
    )
    return out


def lightning_decode(q: Tensor, k: Tensor, v: Tensor, slope: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
    """Same contract as llm.lightning.lightning_decode: returns (o fp32 [B,H,Dv], new state); `state` is not changed."""
    new_state = state.to(torch.float32).contiguous().clone()
    B = new_state.shape[0]
    slots = torch.arange(B, device=new_state.device, dtype=torch.int32)
    o = lightning_decode_step(q, k, v, slope.to(torch.float32).contiguous(), new_state, slots)
    return o, new_state
