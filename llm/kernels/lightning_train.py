"""Training path for lightning attention: an autograd Function whose backward is three more scans of the same kernel.

With S_t = λ S_{t-1} + k_tᵀ v_t and o_t = q_t S_t (MiniMax-01 report arXiv:2501.08313 §2.2.1), the gradients are scans
of the same recurrence (derived from the chain rule; G_t = ∂L/∂S_t summed through the future):
  dq_t = do_t S_tᵀ,        Sᵀ runs forward:   Sᵀ_t = λ Sᵀ_{t-1} + v_tᵀ k_t           → scan(do, v, k, init S0ᵀ)
  G_t  = λ G_{t+1} + q_tᵀ do_t (+ λ^(T-1-t) dS_T)                                    → reverse scans:
  dv_t = k_t G_t   = reverse-scan(k, q, do, init dS_T/λ),   dk_t = v_t G_tᵀ = reverse-scan(v, do, q, init dS_Tᵀ/λ)
  dS0  = λ G_0     = λ · (final state of the dv scan)
so no block states are stored and no second implementation is needed: the backward costs three forward passes.
`scan` is the Triton kernel on CUDA and the PyTorch block reference otherwise, so the formulas are tested on CPU.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

Scan = Callable[[Tensor, Tensor, Tensor, Tensor, "Tensor | None", bool, torch.dtype], tuple[Tensor, Tensor]]


def reference_scan(
    q: Tensor, k: Tensor, v: Tensor, slope: Tensor, init: Tensor | None, reverse: bool, out_dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """The scan primitive in PyTorch ([B,H,T,D]): llm.lightning.lightning_block, on time-flipped inputs if reverse."""
    from llm.lightning import lightning_block

    if reverse:
        q, k, v = (x.flip(2) for x in (q, k, v))
    o, st = lightning_block(q, k, v, slope, init, block_size=64)
    if reverse:
        o = o.flip(2)
    return o.to(out_dtype), st


def triton_scan(
    q: Tensor, k: Tensor, v: Tensor, slope: Tensor, init: Tensor | None, reverse: bool, out_dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """The scan primitive on the GPU ([B,H,T,D]): the prefill kernel, optionally reversed in time."""
    from llm.kernels.lightning_prefill import lightning_prefill

    o, st = lightning_prefill(q, k, v, slope, init, out_dtype=out_dtype, reverse=reverse)
    assert st is not None
    return o, st


def _t(x: Tensor) -> Tensor:
    return x.transpose(-1, -2).contiguous()


class LightningAttentionFunction(torch.autograd.Function):
    """(q, k, v, slope, initial_state) → (o fp32, final state fp32), differentiable in q, k, v and initial_state."""

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, slope: Tensor, initial_state: Tensor | None,
                scan: Scan) -> tuple[Tensor, Tensor]:
        o, st = scan(q, k, v, slope, initial_state, False, torch.float32)
        ctx.scan = scan
        ctx.has_s0 = initial_state is not None
        ctx.save_for_backward(q, k, v, slope, initial_state if initial_state is not None else torch.empty(0))
        return o, st

    @staticmethod
    def backward(ctx, do: Tensor | None, dst: Tensor | None):
        q, k, v, slope, s0 = ctx.saved_tensors
        scan: Scan = ctx.scan
        B, H, T, _ = q.shape
        DV = v.shape[-1]
        f32 = torch.float32
        if do is None:
            do = torch.zeros(B, H, T, DV, dtype=f32, device=q.device)
        do = do.contiguous()
        inv_lam = torch.exp(slope.to(f32))[None, :, None, None]  # 1/λ: the scans apply λ^(u+1) to their init
        g_init = None if dst is None else dst.to(f32) * inv_lam
        s0 = s0 if ctx.has_s0 else None
        dq, _ = scan(do, v, k, slope, None if s0 is None else _t(s0.to(f32)), False, f32)
        dk, _ = scan(v, do, q, slope, None if g_init is None else _t(g_init), True, f32)
        dv, g0 = scan(k, q, do, slope, g_init, True, f32)
        ds0 = g0 / inv_lam if ctx.has_s0 else None
        return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype), None, ds0, None


def lightning_attention_train(
    q: Tensor, k: Tensor, v: Tensor, slope: Tensor, initial_state: Tensor | None = None, scan: Scan | None = None
) -> tuple[Tensor, Tensor]:
    """Differentiable lightning attention ([B,H,T,D]); the Triton kernel on CUDA, the PyTorch reference elsewhere."""
    if scan is None:
        scan = triton_scan if q.is_cuda else reference_scan
    return LightningAttentionFunction.apply(q, k, v, slope, initial_state, scan)
