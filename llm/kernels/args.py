"""Argument checks for the lightning kernels, kept free of Triton so they run (and are tested) on any machine."""
from __future__ import annotations

import torch
from torch import Tensor

from llm.kernels.errors import KernelInputError

LAYOUTS = ("bhtd", "bthd")
PRECISIONS = ("fast", "split-p", "exact", "bf16", "ieee")
DTYPES = (torch.bfloat16, torch.float16, torch.float32)


def dims(x: Tensor, layout: str) -> tuple[int, int, int, int]:
    """(B, H, T, D) of a tensor in `layout` ("bhtd" = [B,H,T,D], "bthd" = [B,T,H,D])."""
    if layout == "bhtd":
        return x.shape[0], x.shape[1], x.shape[2], x.shape[3]
    return x.shape[0], x.shape[2], x.shape[1], x.shape[3]


def _pow2(name: str, d: int, fn: str) -> None:
    if d < 16 or d & (d - 1):
        raise KernelInputError(f"{fn}: {name} must be a power of two >= 16 (tensor-core tiles), got {d}")


def check_prefill_args(
    q: Tensor, k: Tensor, v: Tensor, slope: Tensor, initial_state: Tensor | None, layout: str,
    cu_seqlens: Tensor | None, precision: str,
) -> tuple[int, int, int, int, int, int]:
    """Validate prefill inputs; returns (B, H, T, Dk, Dv, N sequences). Raises KernelInputError naming the argument."""
    fn = "lightning_prefill"
    if precision not in PRECISIONS:
        raise KernelInputError(f"{fn}: precision must be one of {PRECISIONS}, got {precision!r}")
    if layout not in LAYOUTS:
        raise KernelInputError(f"{fn}: layout must be one of {LAYOUTS}, got {layout!r}")
    for name, x in (("q", q), ("k", k), ("v", v)):
        if x.dim() != 4:
            raise KernelInputError(f"{fn}: {name} must be 4-D ({layout}), got shape {tuple(x.shape)}")
        if x.dtype not in DTYPES:
            raise KernelInputError(f"{fn}: {name} must be bf16, fp16 or fp32, got {x.dtype}")
    B, H, T, DK = dims(q, layout)
    if dims(k, layout) != (B, H, T, DK) or dims(v, layout)[:3] != (B, H, T):
        raise KernelInputError(f"{fn}: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} do not agree "
                               f"(layout {layout})")
    DV = v.shape[-1]
    _pow2("Dk", DK, fn)
    _pow2("Dv", DV, fn)
    if tuple(slope.shape) != (H,):
        raise KernelInputError(f"{fn}: slope must be [H={H}], got {tuple(slope.shape)}")
    N = B
    if cu_seqlens is not None:
        if B != 1:
            raise KernelInputError(f"{fn}: with cu_seqlens the inputs must be packed with batch 1, got B={B}")
        if cu_seqlens.dim() != 1 or cu_seqlens.numel() < 2 or cu_seqlens.dtype not in (torch.int32, torch.int64):
            raise KernelInputError(f"{fn}: cu_seqlens must be int32/int64 [N+1] offsets, got {cu_seqlens.dtype} "
                                   f"{tuple(cu_seqlens.shape)}")
        c = cu_seqlens.detach().cpu()
        if int(c[0]) != 0 or int(c[-1]) != T or bool((c[1:] < c[:-1]).any()):
            raise KernelInputError(f"{fn}: cu_seqlens must rise from 0 to T={T}, got {c.tolist()[:8]}...")
        N = cu_seqlens.numel() - 1
    if initial_state is not None and tuple(initial_state.shape) != (N, H, DK, DV):
        raise KernelInputError(f"{fn}: initial_state must be {(N, H, DK, DV)}, got {tuple(initial_state.shape)}")
    devices = {x.device for x in (q, k, v, slope)} | ({initial_state.device} if initial_state is not None else set())
    if len(devices) != 1:
        raise KernelInputError(f"{fn}: all tensors must be on one device, got {sorted(map(str, devices))}")
    return B, H, T, DK, DV, N


def squeeze_step(x: Tensor, name: str) -> Tensor:
    """Accept [B,H,D] or [B,H,1,D] for one decoding step; returns [B,H,D] with unit last stride."""
    if x.dim() == 4 and x.shape[2] == 1:
        x = x[:, :, 0]
    if x.dim() != 3:
        raise KernelInputError(f"lightning_decode: {name} must be [B,H,D] or [B,H,1,D], got {tuple(x.shape)}")
    return x if x.stride(-1) == 1 else x.contiguous()


def check_decode_args(
    q: Tensor, k: Tensor, v: Tensor, slope: Tensor, state_pool: Tensor, slots: Tensor | None, out: Tensor | None
) -> tuple[int, int, int, int]:
    """Validate one decode step ([B,H,D] inputs, fp32 pool [slots,H,Dk,Dv], int slots [B] or None for pool rows 0..B-1);
    returns (B, H, Dk, Dv)."""
    fn = "lightning_decode"
    B, H, DK = q.shape
    DV = v.shape[-1]
    if k.shape != q.shape or v.shape[:2] != (B, H):
        raise KernelInputError(f"{fn}: q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} do not agree")
    _pow2("Dk", DK, fn)
    _pow2("Dv", DV, fn)
    if tuple(slope.shape) != (H,):
        raise KernelInputError(f"{fn}: slope must be [H={H}], got {tuple(slope.shape)}")
    if state_pool.dim() != 4 or tuple(state_pool.shape[1:]) != (H, DK, DV) or state_pool.dtype != torch.float32:
        raise KernelInputError(f"{fn}: state_pool must be fp32 [slots,{H},{DK},{DV}], got {state_pool.dtype} "
                               f"{tuple(state_pool.shape)}")
    if state_pool.stride(3) != 1 or state_pool.stride(2) != DV:
        raise KernelInputError(f"{fn}: state_pool must be contiguous in its last two axes")
    if slots is None and state_pool.shape[0] < B:
        raise KernelInputError(f"{fn}: without slots the state_pool needs >= B={B} rows, got {state_pool.shape[0]}")
    if slots is not None and (tuple(slots.shape) != (B,) or slots.dtype not in (torch.int32, torch.int64)):
        raise KernelInputError(f"{fn}: slots must be int32/int64 [B={B}], got {slots.dtype} {tuple(slots.shape)}")
    if out is not None and (tuple(out.shape) != (B, H, DV) or out.stride(-1) != 1):
        raise KernelInputError(f"{fn}: out must be [B,H,Dv]={(B, H, DV)} with unit last stride, got "
                               f"{tuple(out.shape)}")
    return B, H, DK, DV
