"""Decode kernels for lightning attention: one token per sequence, states kept in a pool indexed by slot.

One step (MiniMax-01 report arXiv:2501.08313 §2.2.1, the recurrence):  S ← λ S + kᵀ v,  o = q S,  λ = exp(-slope).
Decay, outer product and readout are fused, and the pool is updated in place, so a step reads and writes each fp32
state once (the floor) and allocates nothing when `out` is given: the launch can be captured in a CUDA graph.
Two kernels do the step: the Gluon one (llm/kernels/lightning_decode_gl.py, its own register layout; the default on
Hopper, where it was measured) and the Triton one below (the default elsewhere, and for PDL and the "vllm" order).
"""
from __future__ import annotations

import os

import torch
import triton
import triton.language as tl
from torch import Tensor

from llm.kernels.args import check_decode_args, squeeze_step


@triton.jit
def _lightning_decode_kernel(
    Q, K, V, O, POOL, SLOTS, SLOPE,
    sq_b, sq_h, sk_b, sk_h, sv_b, sv_h, so_b, so_h, sp_n, sp_h,
    B, H,
    DK: tl.constexpr, DV: tl.constexpr, BV: tl.constexpr, PDL: tl.constexpr, HAS_SLOTS: tl.constexpr,
    ORDER: tl.constexpr,
):
    if PDL:  # programmatic dependent launch: let the next kernel start launching, wait for the previous one's writes
        tl.extra.cuda.gdc_launch_dependents()
        tl.extra.cuda.gdc_wait()
    if ORDER == 0:  # grid (B·H, value tiles): neighbouring programs take neighbouring heads
        bh = tl.program_id(0)
        iv = tl.program_id(1)
        b = bh // H
        h = bh % H
    elif ORDER == 1:  # grid (value tiles, B·H): the tiles of one head state side by side (one contiguous span)
        iv = tl.program_id(0)
        bh = tl.program_id(1)
        b = bh // H
        h = bh % H
    else:  # grid (B, H, value tiles): vLLM's launch shape
        b = tl.program_id(0)
        h = tl.program_id(1)
        iv = tl.program_id(2)
    offs_k = tl.arange(0, DK)
    offs_v = iv * BV + tl.arange(0, BV)
    bb = b.to(tl.int64)
    hh = h.to(tl.int64)
    if HAS_SLOTS:
        slot = tl.load(SLOTS + b).to(tl.int64)
    else:  # no slot table: sequence b owns pool row b (one dependent load fewer)
        slot = bb
    # the token's q, k, v and the decay do not depend on the slot: their loads overlap the slot's round trip
    q = tl.load(Q + bb * sq_b + hh * sq_h + offs_k).to(tl.float32)
    k = tl.load(K + bb * sk_b + hh * sk_h + offs_k).to(tl.float32)
    v = tl.load(V + bb * sv_b + hh * sv_h + offs_v).to(tl.float32)
    lam = tl.exp(-tl.load(SLOPE + h).to(tl.float32))
    if slot >= 0:  # a negative slot marks a padding row of the batch: nothing is read or written
        p = POOL + slot * sp_n + hh * sp_h + offs_k[:, None] * DV + offs_v[None, :]
        S = tl.load(p) * lam + k[:, None] * v[None, :]  # S ← λS + kᵀv
        tl.store(p, S)
        o = tl.sum(q[:, None] * S, axis=0)  # o = q S
        tl.store(O + bb * so_b + hh * so_h + offs_v, o.to(O.dtype.element_ty))


_ORDERS = {"bh": 0, "tile": 1, "vllm": 2}


def default_decode_config(rows: int) -> tuple[int, int, str]:
    """(block_v, num_warps, order) of the Triton kernel for a step over `rows` = B·H state rows (measured per card,
    NOTES-kernels.md); the Triton kernel is the default where the Gluon one is not (no Hopper GPU, the interpreter)."""
    if rows >= 512:  # H200 sweep: BV=64, 4 warps, one head's tiles side by side (B=64 136.0 µs vs 139.3 for the
        return 64, 4, "tile"  # H100's BV=128 w8; B=8 20.0 vs 21.0)
    if rows <= 64:  # H200 run H8, B = 1 (H = 64): 8 warps on 16 columns (8 state values a thread) 4.77 µs against
        return 16, 8, "bh"  # 5.31-5.36 for 32 columns on 4 warps (32 a thread): more loads in flight per SM
    return 32, 4, "bh"  # fewer rows: more, smaller programs for the small state (H200 B=1: 5.03 µs in run H1)


def default_decode_config_gl(rows: int) -> tuple[int, int, str]:
    """(block_v, num_warps, order) of the Gluon kernel (lightning_decode_gl, with its barrier after the state loads) for
    `rows` = B·H: 512-1024 programs of 4 warps. H200 runs H9b-H9d (µs a step at H = 64, 16-pool graph, with the slot
    table / without; the Triton kernel at its default shape; the bare copy of the state bytes):
    B = 1, 16 columns: 3.79-4.19 / 3.63-4.00 (Triton 4.76-4.78 / 4.61-4.64; copy 4.09-4.14);
    B = 2, 32 columns: 6.30 / 6.18 (7.18 / 7.26; copy 6.16); B = 4, 64 columns: 11.22 / 10.23 (11.82 / 11.74; 10.15);
    B = 8: 19.80-19.88 / 18.92 (20.00 / 20.00; 17.92); B = 64: 134.2 / 133.8 (136.0 / 136.0; 127.9)."""
    if rows <= 64:
        return 16, 4, "tile"
    if rows <= 128:
        return 32, 4, "tile"
    return 64, 4, "tile"


def _gluon_decode_here(device: torch.device) -> bool:
    """The Gluon decode kernel is the default on Hopper (where it was measured), not under Triton's interpreter."""
    if device.type != "cuda" or os.environ.get("TRITON_INTERPRET") == "1":
        return False
    if os.environ.get("LIGHTNING_DECODE_GL") == "0":  # the Triton kernel everywhere (a fallback switch)
        return False
    idx = device.index if device.index is not None else torch.cuda.current_device()
    if idx not in _CAPS:
        _CAPS[idx] = torch.cuda.get_device_capability(idx)
    if _CAPS[idx][0] != 9:
        return False
    try:
        import triton.experimental.gluon  # noqa: F401
    except ImportError:  # a Triton without Gluon
        return False
    return True


_CAPS: dict[int, tuple[int, int]] = {}


def lightning_decode_step(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    slope: Tensor,
    state_pool: Tensor,
    slots: Tensor | None,
    out: Tensor | None = None,
    *,
    block_v: int | None = None,
    num_warps: int | None = None,
    order: str | None = None,
    pdl: bool = False,
    kernel: str | None = None,
    hoist: bool | None = None,
) -> Tensor:
    """One decoding step for a batch, updating `state_pool[slots[b]]` in place; returns o [B,H,Dv] (fp32 unless `out`).

    q, k [B,H,Dk], v [B,H,Dv] (or with a T=1 axis), slope [H], state_pool fp32 [num_slots,H,Dk,Dv] (contiguous in the
    last two axes), slots int [B] (a negative slot skips that row), or None when sequence b owns pool row b (no slot
    table to read first). With `out` given nothing is allocated, so the call can be captured in a CUDA graph and
    replayed with new contents of q, k, v and slots. block_v, num_warps and order ("bh", "tile" or "vllm": how
    programs map to rows and value tiles) override the measured launch shape. pdl=True launches with programmatic
    dependent launch (Hopper+): the step's blocks are scheduled while the previous kernel drains and wait on it
    (griddepcontrol) before reading anything. It pays only when the previous kernel launches its dependents early
    (another decode step does; a projection GEMM does not), so it is off by default. kernel: "gl" (the Gluon kernel,
    lightning_decode_gl; the default on Hopper) or "triton" (the default elsewhere; "gl" falls back to it for the
    "vllm" order, with pdl, under the interpreter, for shapes it does not tile); hoist (Gluon only, default True): a
    barrier after the state loads (bench/NOTES-kernels.md, run H9b).
    """
    q, k, v = squeeze_step(q, "q"), squeeze_step(k, "k"), squeeze_step(v, "v")
    B, H, DK, DV = check_decode_args(q, k, v, slope, state_pool, slots, out)
    if out is None:
        out = torch.empty(B, H, DV, dtype=torch.float32, device=q.device)
    if kernel is None:
        kernel = "gl" if _gluon_decode_here(q.device) else "triton"
    if kernel == "gl" and not pdl and order != "vllm" and os.environ.get("TRITON_INTERPRET") != "1" \
            and max(x.numel() for x in (q, k, v, out)) < 2**31:  # 32-bit offsets for q, k, v and o
        from llm.kernels.lightning_decode_gl import decode_gl_shape, launch_decode_gl

        bv0, nw0, order0 = default_decode_config_gl(B * H)
        bv = min(block_v or bv0, DV)
        nw = num_warps or nw0
        if decode_gl_shape(DK, bv, nw) is not None and DV % bv == 0:
            launch_decode_gl(q, k, v, out, state_pool, slots, slope, B, H, DK, DV, bv, nw, _ORDERS[order or order0],
                             hoist=True if hoist is None else hoist)
            return out
    bv0, nw0, order0 = default_decode_config(B * H)
    bv = min(block_v or bv0, DV)
    num_warps = num_warps or nw0
    mode = _ORDERS[order or order0]
    nv = triton.cdiv(DV, bv)
    grid = {0: (B * H, nv), 1: (nv, B * H), 2: (B, H, nv)}[mode]
    _lightning_decode_kernel[grid](
        q, k, v, out, state_pool, slots if slots is not None else state_pool, slope,
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), out.stride(0), out.stride(1),
        state_pool.stride(0), state_pool.stride(1),
        B, H, DK=DK, DV=DV, BV=bv, PDL=pdl, HAS_SLOTS=slots is not None, ORDER=mode, num_warps=num_warps,
        **({"launch_pdl": True} if pdl else {}),
    )
    return out


def lightning_decode(q: Tensor, k: Tensor, v: Tensor, slope: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
    """Same contract as llm.lightning.lightning_decode: returns (o fp32 [B,H,Dv], new state); `state` is not changed."""
    new_state = state.to(torch.float32).contiguous().clone()
    o = lightning_decode_step(q, k, v, slope.to(torch.float32).contiguous(), new_state, None)
    return o, new_state
