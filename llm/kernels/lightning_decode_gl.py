"""The decode step (lightning_decode's kernel) written in Gluon, so that the register layout is ours, not Triton's.

Same step and contract as llm.kernels.lightning_decode (S ← λ S + kᵀ v, o = q S, the pool updated in place, a
negative slot skips its row), same grid orders ("bh": neighbouring programs take neighbouring heads; "tile": a head's
value tiles side by side). What differs is what each thread holds and what it waits for:
- the state tile [Dk, BV] is split as RPT consecutive rows × 4 columns a thread (16-byte loads), so q and k arrive in
  the layout of the tile's rows: each thread loads its RPT values of q and k directly. Triton's own layout pass loads
  them coalesced and converts them through shared memory for some shapes (16 columns on 4 warps, 32 on 4 or 8: two or
  three barriers before the state loads, and the loads of q, k, v and the decay one after another; sm_90 SASS,
  bench/NOTES-kernels.md, runs H9 and H9b), which is what made those shapes slow;
- with `hoist` (the default) a barrier follows the state loads and precedes the loads of q, k, v: otherwise ptxas puts
  arithmetic on q, k, v and the decay between a thread's state loads, and the later ones wait for that round trip
  (16 columns on 4 warps: 5.73 µs at B = 1 without it, 4.17 with it);
- nothing divides by H (the grid's axes are head, sequence and value tile) and nothing waits behind a branch on the
  slot (a padding row's loads and stores are masked);
- q, k, v and o offsets are 32-bit (the host checks that they fit), the pool's 64-bit.
H200, H = 64, D = 128, a 16-step CUDA graph on 16 distinct pools (run H9c's table): B = 1 4.04 µs a step against 4.14
for a bare copy of the state bytes in the same protocol (the Triton kernel 4.76), B = 8 19.80 (20.00), B = 64 134.2
(136.0; 94.3 % of the copy floor).
"""
from __future__ import annotations

import functools

from triton.experimental import gluon
from triton.experimental.gluon import language as gl


def decode_gl_shape(dk: int, bv: int, num_warps: int) -> tuple[int, int, int, int] | None:
    """(rows a thread, columns a thread, threads along rows, threads along columns) of the [dk, bv] tile on num_warps
    warps, or None when the shape does not tile (fewer than one row a thread, or more than 32 threads on a row)."""
    vec = min(4, bv)
    tc = bv // vec
    if tc > 32:
        return None
    tr = 32 // tc
    if dk % (tr * num_warps):
        return None
    rpt = dk // (tr * num_warps)
    return (rpt, vec, tr, tc) if rpt >= 1 else None


@functools.cache
def _tile_layout(dk: int, bv: int, num_warps: int):
    rpt, vec, tr, tc = decode_gl_shape(dk, bv, num_warps)
    return gl.BlockedLayout(size_per_thread=[rpt, vec], threads_per_warp=[tr, tc], warps_per_cta=[num_warps, 1],
                            order=[1, 0])


def launch_decode_gl(q, k, v, out, pool, slots, slope, B: int, H: int, DK: int, DV: int, bv: int, num_warps: int,
                     order: int, hoist: bool = True):
    """Launch one step (lightning_decode_step has checked the arguments); order 0 = "bh", 1 = "tile"; hoist: a
    barrier after the loads, so that none waits behind arithmetic on an earlier one."""
    nv = DV // bv
    grid = (H, B, nv) if order == 0 else (nv, H, B)
    return _lightning_decode_gl_kernel[grid](
        q, k, v, out, pool, slots if slots is not None else pool, slope,
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), out.stride(0), out.stride(1),
        pool.stride(0), pool.stride(1),
        DK=DK, DV=DV, BV=bv, HAS_SLOTS=slots is not None, ORDER=order, BL=_tile_layout(DK, bv, num_warps),
        HOIST=hoist, num_warps=num_warps,
    )


@gluon.jit
def _lightning_decode_gl_kernel(
    Q, K, V, O, POOL, SLOTS, SLOPE,
    sq_b, sq_h, sk_b, sk_h, sv_b, sv_h, so_b, so_h, sp_n, sp_h,
    DK: gl.constexpr, DV: gl.constexpr, BV: gl.constexpr, HAS_SLOTS: gl.constexpr, ORDER: gl.constexpr,
    BL: gl.constexpr, HOIST: gl.constexpr,
):
    if ORDER == 0:
        h = gl.program_id(0)
        b = gl.program_id(1)
        iv = gl.program_id(2)
    else:
        iv = gl.program_id(0)
        h = gl.program_id(1)
        b = gl.program_id(2)
    ROWS: gl.constexpr = gl.SliceLayout(1, BL)
    COLS: gl.constexpr = gl.SliceLayout(0, BL)
    offs_k = gl.arange(0, DK, layout=ROWS)
    offs_v = iv * BV + gl.arange(0, BV, layout=COLS)
    if HAS_SLOTS:
        slot = gl.load(SLOTS + b)
    else:
        slot = b
    live = slot >= 0
    tile = offs_k[:, None] * DV + offs_v[None, :]
    p = POOL + (gl.maximum(slot, 0).to(gl.int64) * sp_n + h * sp_h) + tile
    S = gl.load(p, mask=live)
    if HOIST:  # every state load issued before the loads of q, k, v and the decay: the compiler otherwise places
        gl.thread_barrier()  # arithmetic on those between the state loads, which then wait for their round trip
    q = gl.load(Q + (b * sq_b + h * sq_h) + offs_k).to(gl.float32)
    k = gl.load(K + (b * sk_b + h * sk_h) + offs_k).to(gl.float32)
    v = gl.load(V + (b * sv_b + h * sv_h) + offs_v).to(gl.float32)
    lam = gl.exp(-gl.load(SLOPE + h).to(gl.float32))
    S = S * lam + k[:, None] * v[None, :]  # S <- lam S + k^T v
    gl.store(p, S, mask=live)
    o = gl.sum(q[:, None] * S, axis=0)  # o = q S
    gl.store(O + (b * so_b + h * so_h) + offs_v, o.to(O.dtype.element_ty), mask=live)
