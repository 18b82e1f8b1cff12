"""Triton prefill kernel for lightning attention: one pass over q, k, v with the fp32 state kept on chip.

Math (Lightning Attention-2, arXiv:2401.04658, eqs. 8-12; MiniMax-01 report arXiv:2501.08313 §2.2.1), per block of
b rows with the state S from the previous blocks and λ = exp(-slope):
  O     = [(Q Kᵀ) ⊙ M] V + diag(λ^(i+1)) Q S,      M_ij = λ^(i-j) for i >= j else 0
  S_new = λ^b S + (diag(λ^(b-1-j)) K)ᵀ V
The grid is (value tiles, batch x heads): each program owns S[:, tile] for one (sequence, head) and walks the blocks
in order, so q, k, v are read once from HBM (the value tiles of one head run side by side and share q, k through L2)
and o is written once — the problem is bandwidth-bound at D = 128. Two kernels share the block math
(_block_out, _block_state): the TMA kernel (whole blocks by TMA descriptors into a deep shared-memory pipeline; the
default for forward scans over [B,T,H,D] tensors, contiguous [B,H,T,D] ones and q, k, v split from one fused qkv
buffer; at the copy floor on an H100) and the pointer kernel (masked pointer loads: packed cu_seqlens, reverse scans
for the backward, other strides). fp32 inputs on the TMA path go to a third kernel, written in Gluon with the decay
folded out of the scores (lightning_prefill_fold: tf32 products need on-chip transposes that Triton's layouts make
bank-conflicted).
"""
from __future__ import annotations

import os
import weakref

import torch
import triton
import triton.language as tl
from torch import Tensor

from llm.kernels.args import check_prefill_args
from llm.kernels.rows import program_rows


@triton.jit(do_not_specialize=["T", "SEG", "NSEG"])  # T = 1 must not compile a separate (constant-folded) kernel
def _lightning_prefill_kernel(
    Q, K, V, O, S0, ST, SLOPE, CU,
    sq_b, sq_h, sq_t, sk_b, sk_h, sk_t, sv_b, sv_h, sv_t, so_b, so_h, so_t,
    T, H, SEG, NSEG,
    DK: tl.constexpr, DV: tl.constexpr, BT: tl.constexpr, BV: tl.constexpr,
    CDT: tl.constexpr, PREC: tl.constexpr, SPLIT_STATE: tl.constexpr, SPLIT_P: tl.constexpr, SPLIT_K: tl.constexpr,
    HAS_S0: tl.constexpr, STORE_ST: tl.constexpr, VARLEN: tl.constexpr, REVERSE: tl.constexpr,
    SEGMENTED: tl.constexpr, STATE_ONLY: tl.constexpr, FUSE_ACC: tl.constexpr,
    DECAY_V: tl.constexpr,
):
    iv = tl.program_id(0)
    bh = tl.program_id(1)
    n = bh // H
    h = bh % H
    if VARLEN:
        bos = tl.load(CU + n).to(tl.int64)
        L = tl.load(CU + n + 1) - tl.load(CU + n)
        batch = tl.zeros([], dtype=tl.int64)
    elif SEGMENTED:  # sequence n // NSEG, its segment n % NSEG of SEG rows (two-level scan, see _segmented)
        batch = (n // NSEG).to(tl.int64)
        bos = (n % NSEG).to(tl.int64) * SEG
        L = tl.minimum(SEG, T - (n % NSEG) * SEG)
        if STATE_ONLY:  # the last segment's own state is never used (see _segmented): walk no rows
            L = L * ((n % NSEG) != NSEG - 1).to(tl.int32)
    else:
        bos = tl.zeros([], dtype=tl.int64)
        L = T
        batch = n.to(tl.int64)
    hh = h.to(tl.int64)
    q_base = Q + batch * sq_b + hh * sq_h + bos * sq_t
    k_base = K + batch * sk_b + hh * sk_h + bos * sk_t
    v_base = V + batch * sv_b + hh * sv_h + bos * sv_t
    o_base = O + batch * so_b + hh * so_h + bos * so_t

    offs_t, offs_k, offs_v, s, m, q_decay, state_off, S = _program_start(SLOPE, S0, h, bh, iv, DK, DV, BT, BV, HAS_S0)

    zero64 = tl.zeros([], dtype=tl.int64)
    if REVERSE:
        step = -1
    else:
        step = 1
    for start in range(0, L, BT):
        if REVERSE:
            row0 = zero64 + (L - 1 - start)
        else:
            row0 = zero64 + start
        valid = (start + offs_t) < L
        rel = (offs_t * step)[:, None]
        if not STATE_ONLY:  # the segment-state pass of the two-level scan reads only k and v
            q = tl.load(q_base + row0 * sq_t + rel * sq_t + offs_k[None, :], mask=valid[:, None], other=0.0)
        k = tl.load(k_base + row0 * sk_t + rel * sk_t + offs_k[None, :], mask=valid[:, None], other=0.0).to(CDT)
        v = tl.load(v_base + row0 * sv_t + rel * sv_t + offs_v[None, :], mask=valid[:, None], other=0.0).to(CDT)
        if not STATE_ONLY:
            o = _block_out(q, k, v, S, m, q_decay, CDT, PREC, SPLIT_STATE, SPLIT_P, FUSE_ACC)
            tl.store(o_base + row0 * so_t + rel * so_t + offs_v[None, :], o.to(O.dtype.element_ty),
                     mask=valid[:, None])
        S = _block_state(k, v, S, s, tl.minimum(L - start, BT), offs_t, CDT, PREC, SPLIT_K, FUSE_ACC, DECAY_V)

    if STORE_ST:
        tl.store(ST + state_off, S)


@triton.jit(do_not_specialize=["T", "SEG", "NSEG"])
def _lightning_prefill_tma_kernel(
    QD, KD, VD, OD, Q, K, V, O, S0, ST, SLOPE,
    sq_t, sk_t, sv_t, so_t,
    rb_q, rh_q, ch_q, rb_k, rh_k, ch_k, rb_v, rh_v, ch_v, rb_o, rh_o, ch_o,
    T, H, SEG, NSEG,
    DK: tl.constexpr, DV: tl.constexpr, BT: tl.constexpr, BV: tl.constexpr,
    CDT: tl.constexpr, PREC: tl.constexpr, SPLIT_STATE: tl.constexpr, SPLIT_P: tl.constexpr, SPLIT_K: tl.constexpr,
    HAS_S0: tl.constexpr, STORE_ST: tl.constexpr, FUSE_ACC: tl.constexpr, DECAY_V: tl.constexpr,
    SEGMENTED: tl.constexpr, STATE_ONLY: tl.constexpr, NS: tl.constexpr, WS: tl.constexpr,
    SKIP_LN: tl.constexpr = 0.0,
):
    """The one-pass kernel with q, k, v, o moved by TMA descriptors over each tensor seen as rows of time × columns.

    Row (sequence n, head h, time t) of tensor X is n·rb_X + h·rh_X + t and its head starts at column h·ch_X (see
    _row_map: a [B,T,H,D] tensor, a contiguous [B,H,T,D] one, or q, k, v split from one fused qkv buffer as the model
    makes them). Whole blocks go through the descriptors (the copy engine fills shared memory straight from HBM and
    the tensor cores read q and k from there; WS lets Triton give the loads their own warp); the tail block (fewer
    than b rows) takes masked pointer loads, so a block never reads rows of the next sequence, head or segment. Same
    math and grid as _lightning_prefill_kernel (forward only).
    """
    iv = tl.program_id(0)
    bh = tl.program_id(1)
    h, L, r_q, r_k, r_v, r_o, c_q, c_k, c_v, c_o = program_rows(
        bh, iv, T, H, SEG, NSEG, rb_q, rh_q, ch_q, rb_k, rh_k, ch_k, rb_v, rh_v, ch_v, rb_o, rh_o, ch_o, BV, SEGMENTED)
    if STATE_ONLY:  # the last segment's own state is never used (see _segmented): walk no rows
        L = L * (((bh // H) % NSEG) != NSEG - 1).to(tl.int32)
    offs_t, offs_k, _, s, m, q_decay, state_off, S = _program_start(SLOPE, S0, h, bh, iv, DK, DV, BT, BV, HAS_S0)
    if STATE_ONLY and SKIP_LN > 0:  # rows more than SKIP_LN / slope before the segment's end weigh under e^-SKIP_LN
        # in its state (λ^(L-1-t)): skip the whole blocks before them; the decay is relative to each block's end, so
        # the rows kept are summed exactly as before (state_skip in lightning_prefill)
        keep = SKIP_LN / tl.maximum(s, 1e-30)  # (CUDA only: Triton's interpreter cannot bound a loop by a load)
        skip = (tl.maximum(L.to(tl.float32) - keep, 0.0) / BT).to(tl.int32) * BT
        L = L - skip
        r_k = r_k + skip
        r_v = r_v + skip
    nfull = L // BT
    for i in tl.range(0, nfull, num_stages=NS, warp_specialize=WS):
        k = KD.load([r_k + i * BT, c_k]).to(CDT)
        v = VD.load([r_v + i * BT, c_v]).to(CDT)
        if not STATE_ONLY:  # the segment-state pass of the two-level scan reads only k and v
            q = QD.load([r_q + i * BT, c_q])
            o = _block_out(q, k, v, S, m, q_decay, CDT, PREC, SPLIT_STATE, SPLIT_P, FUSE_ACC)
            OD.store([r_o + i * BT, c_o], o.to(OD.dtype))
        S = _block_state(k, v, S, s, tl.full([], BT, tl.int32), offs_t, CDT, PREC, SPLIT_K, FUSE_ACC, DECAY_V)
    start = nfull * BT
    if start < L:  # the tail block through masked pointer loads (row pointers of the same row maps)
        nrem = L - start
        valid = (offs_t < nrem)[:, None]
        t = (start + offs_t).to(tl.int64)[:, None]
        offs_bv = tl.arange(0, BV)[None, :]
        k = tl.load(K + (r_k + t) * sk_t + c_k + offs_k[None, :], mask=valid, other=0.0).to(CDT)
        v = tl.load(V + (r_v + t) * sv_t + c_v + offs_bv, mask=valid, other=0.0).to(CDT)
        if not STATE_ONLY:
            q = tl.load(Q + (r_q + t) * sq_t + c_q + offs_k[None, :], mask=valid, other=0.0)
            o = _block_out(q, k, v, S, m, q_decay, CDT, PREC, SPLIT_STATE, SPLIT_P, FUSE_ACC)
            tl.store(O + (r_o + t) * so_t + c_o + offs_bv, o.to(O.dtype.element_ty), mask=valid)
        S = _block_state(k, v, S, s, nrem, offs_t, CDT, PREC, SPLIT_K, FUSE_ACC, DECAY_V)
    if STORE_ST:
        tl.store(ST + state_off, S)


@triton.jit
def _program_start(SLOPE, S0, h, bh, iv, DK: tl.constexpr, DV: tl.constexpr, BT: tl.constexpr, BV: tl.constexpr,
                   HAS_S0: tl.constexpr):
    """A program's offsets, decay terms and starting state S[:, tile] (zero or the initial state)."""
    offs_t = tl.arange(0, BT)
    offs_k = tl.arange(0, DK)
    offs_v = iv * BV + tl.arange(0, BV)
    s = tl.load(SLOPE + h).to(tl.float32)
    # intra-block decay mask M_ij = λ^(i-j) (i >= j), and the inter-block row decay λ^(i+1)  (LA-2 eqs. 9-10)
    m = _decay_mask(offs_t[:, None] - offs_t[None, :], s)
    q_decay = tl.exp(-s * (offs_t + 1).to(tl.float32))
    state_off = bh.to(tl.int64) * DK * DV + offs_k[:, None] * DV + offs_v[None, :]
    if HAS_S0:
        S = tl.load(S0 + state_off).to(tl.float32)
    else:
        S = tl.zeros([DK, BV], dtype=tl.float32)
    return offs_t, offs_k, offs_v, s, m, q_decay, state_off, S


@triton.jit
def _decay_mask(diff, s):
    """M_ij = λ^(i-j) for i >= j else 0 (LA-2 eq. 9), λ = exp(-s)."""
    return tl.where(diff >= 0, tl.exp(-s * tl.maximum(diff, 0).to(tl.float32)), 0.0)


@triton.jit
def _block_out(q, k, v, S, m, q_decay, CDT: tl.constexpr, PREC: tl.constexpr, SPLIT_STATE: tl.constexpr,
               SPLIT_P: tl.constexpr, FUSE_ACC: tl.constexpr):
    """Outputs of one block: [(Q Kᵀ) ⊙ M] V + diag(λ^(i+1)) Q S (LA-2 eqs. 9-10), fp32 [b, BV]."""
    q = q.to(CDT)
    if FUSE_ACC and not SPLIT_STATE:  # inter-block term first, then P·V accumulates into it (one acc tile)
        acc = tl.dot(q, S.to(CDT), input_precision=PREC) * q_decay[:, None]
        qk = tl.dot(q, tl.trans(k), input_precision=PREC) * m
        if SPLIT_P:
            p_hi = qk.to(CDT)
            acc = tl.dot(p_hi, v, acc, input_precision=PREC)
            o = tl.dot((qk - p_hi.to(tl.float32)).to(CDT), v, acc, input_precision=PREC)
        else:
            o = tl.dot(qk.to(CDT), v, acc, input_precision=PREC)
    else:
        qk = tl.dot(q, tl.trans(k), input_precision=PREC) * m
        if SPLIT_P:
            p_hi = qk.to(CDT)
            o = tl.dot(p_hi, v, input_precision=PREC)
            o += tl.dot((qk - p_hi.to(tl.float32)).to(CDT), v, input_precision=PREC)
        else:
            o = tl.dot(qk.to(CDT), v, input_precision=PREC)
        # fp32 state, split into hi + lo 16-bit halves for "exact"
        if SPLIT_STATE:
            s_hi = S.to(CDT)
            s_lo = (S - s_hi.to(tl.float32)).to(CDT)
            inter = tl.dot(q, s_hi, input_precision=PREC) + tl.dot(q, s_lo, input_precision=PREC)
        else:
            inter = tl.dot(q, S.to(CDT), input_precision=PREC)
        o += inter * q_decay[:, None]
    return o


@triton.jit
def _block_state(k, v, S, s, nrem, offs_t, CDT: tl.constexpr, PREC: tl.constexpr, SPLIT_K: tl.constexpr,
                 FUSE_ACC: tl.constexpr, DECAY_V: tl.constexpr):
    """State after one block of nrem rows: λ^n S + (diag(λ^(n-1-j)) K)ᵀ V (LA-2 eq. 11; a tail block has n < b).

    DECAY_V applies the row decay to the [b, BV] value tile instead of the [b, Dk] keys — the same product,
    Kᵀ diag(d) V — so the keys feed the tensor cores unmodified and a 4x smaller tile is scaled and rounded.
    """
    dec = tl.where(offs_t < nrem, tl.exp(-s * tl.maximum(nrem - 1 - offs_t, 0).to(tl.float32)), 0.0)
    lam_n = tl.exp(-s * nrem.to(tl.float32))
    if DECAY_V:
        af = v.to(tl.float32) * dec[:, None]
        a = af.to(CDT)
        if FUSE_ACC:  # the decayed state is the accumulator of Kᵀ·V (same sum, one tile fewer)
            S = tl.dot(tl.trans(k), a, S * lam_n, input_precision=PREC)
        else:
            S = S * lam_n + tl.dot(tl.trans(k), a, input_precision=PREC)
        if SPLIT_K:
            S += tl.dot(tl.trans(k), (af - a.to(tl.float32)).to(CDT), input_precision=PREC)
    else:
        kdf = k.to(tl.float32) * dec[:, None]
        kd = kdf.to(CDT)
        if FUSE_ACC:
            S = tl.dot(tl.trans(kd), v, S * lam_n, input_precision=PREC)
        else:
            S = S * lam_n + tl.dot(tl.trans(kd), v, input_precision=PREC)
        if SPLIT_K:
            S += tl.dot(tl.trans((kdf - kd.to(tl.float32)).to(CDT)), v, input_precision=PREC)
    return S


STATE_SKIP_LN = 40 * 0.6931471805599453  # state_skip: rows weighing under e^-this = 2^-40 in a segment's state
STATE_SKIP = True  # state_skip's default (LIGHTNING_STATE_SKIP=0 turns it off). H200 run H10, T = 1M, H = 8,
# first-layer slopes, 16 segments: bf16 2.341 vs 3.463 ms, fp32 5.501 vs 8.084 (bench/NOTES-kernels.md)
_EXACT = ("exact", "ieee")  # 16-bit inputs: every fp32 intermediate split into two 16-bit halves


def _products(wide: bool, precision: str) -> str:
    """Triton's input_precision for the kernel's products: fp32 operands take tf32, or with precision="ieee" three
    tf32 products per product (hi·hi + hi·lo + lo·hi, fp32-level error); 16-bit operands are exact ("ieee")."""
    if not wide:
        return "ieee"
    return "tf32x3" if precision == "ieee" else "tf32"


def _tl_dtype(dtype: torch.dtype):
    return {torch.bfloat16: tl.bfloat16, torch.float16: tl.float16, torch.float32: tl.float32}[dtype]


def _as_bhtd_strides(x: Tensor, layout: str) -> tuple[int, int, int]:
    """(batch, head, time) strides of a [B,H,T,D] or [B,T,H,D] tensor."""
    if layout == "bhtd":
        return x.stride(0), x.stride(1), x.stride(2)
    return x.stride(0), x.stride(2), x.stride(1)


def default_config(dk: int, dv: int, dtype: torch.dtype, tma: bool = False, precision: str = "fast",
                   fold: bool = False) -> dict:
    """Launch shape measured best on an H100 at D = 128, T = 128K, H = 64 (bench/NOTES-kernels.md, runs 1-24).

    tma: the TMA kernel's shape (contiguous inputs, forward scans), else the pointer kernel's; fold: the fp32
    folded-decay kernel's (lightning_prefill_fold). per_sm: programs of that shape that fit one SM (shared memory),
    which the segment rule uses.
    """
    if dtype == torch.float32 and precision == "bf16":  # run 7: 8.15 ms (TMA) vs 9.37 (pointer, no decay_v)
        return {"block_t": 64, "block_v": 64, "num_warps": 8, "num_stages": 2, "fuse_acc": False,
                "decay_v": tma, "per_sm": 1}
    if dtype == torch.float32 and precision == "ieee":  # 3xTF32 (H200, 128K: b=64 s2 49.3 ms, b=32 s2/s3 58-59)
        if tma:
            return {"block_t": 64, "block_v": 64, "num_warps": 8, "num_stages": 2, "fuse_acc": False,
                    "decay_v": False, "per_sm": 1}
        return {"block_t": 32, "block_v": 64, "num_warps": 8, "num_stages": 2, "fuse_acc": False,
                "decay_v": False, "per_sm": 1}
    if dtype == torch.float32 and fold:  # runs 18-24: the Gluon fold kernel's fixed shape, 229 KB shared memory
        return {"block_t": 64, "block_v": 64, "num_warps": 4, "num_stages": 2, "fuse_acc": False,
                "decay_v": False, "per_sm": 1}
    if dtype == torch.float32:
        if tma:  # run 8: b = 32, 8 warps, 4 stages 9.8 ms (3 stages 10.7) vs 17.0 for the pointer kernel
            return {"block_t": 32, "block_v": 64, "num_warps": 8, "num_stages": 4, "fuse_acc": False,
                    "decay_v": False, "per_sm": 1}
        # run 3: w8 14.3 ms, w4 16.2 ms (198 spills); run 4: fused accumulators 15.0 = 15.0; run 6: decay_v 22.6
        return {"block_t": 64, "block_v": 64, "num_warps": 8, "num_stages": 2, "fuse_acc": False,
                "decay_v": False, "per_sm": 1}
    if tma:  # run 7: BV = 64, 4 stages, decay on v: 2.87 ms (99 % of copy bandwidth) vs 4.30 for the pointer default
        return {"block_t": 64, "block_v": 64, "num_warps": 4, "num_stages": 4, "fuse_acc": True, "decay_v": True,
                "per_sm": 1}
    # run 4: fused accumulators 4.40 ms vs 4.91 (bit-identical o); run 6: decay on v 3.77 vs 4.04
    return {"block_t": 64, "block_v": 32, "num_warps": 4, "num_stages": 3, "fuse_acc": True, "decay_v": True,
            "per_sm": 2}


def lightning_prefill(
    q: Tensor,
    k: Tensor,
    v: Tensor,
    slope: Tensor,
    initial_state: Tensor | None = None,
    *,
    layout: str = "bhtd",
    cu_seqlens: Tensor | None = None,
    out_dtype: torch.dtype | None = None,
    output_final_state: bool = True,
    reverse: bool = False,
    precision: str = "fast",
    block_t: int | None = None,
    block_v: int | None = None,
    num_warps: int | None = None,
    num_stages: int | None = None,
    segments: int | None = None,
    fuse_acc: bool | None = None,
    decay_v: bool | None = None,
    tma: bool | None = None,
    warp_specialize: bool = False,
    fold: bool | str | None = None,
    ws: bool | str | None = None,
    state_skip: bool | None = None,
) -> tuple[Tensor, Tensor | None]:
    """Lightning attention over whole sequences on the GPU: returns (o, final fp32 state [N,H,Dk,Dv] or None).

    q, k [B,H,T,Dk] (layout "bhtd") or [B,T,H,Dk] ("bthd"), v likewise with Dv; bf16, fp16 or fp32 (mixed dtypes are
    computed in fp32). slope [H]; initial_state fp32 [N,H,Dk,Dv]. With cu_seqlens (int32/int64 [N+1]) the inputs hold
    N sequences packed along T with B = 1, and each gets its own state. o has out_dtype (default: q's dtype).
    reverse=True scans each sequence from its end (the backward pass uses it). precision, 16-bit inputs:
    "fast" rounds the fp32 intermediates (decay-weighted scores, state, decayed keys) to the input dtype for the
    tensor cores; "split-p" keeps the scores as two 16-bit halves; "exact" (or "ieee") splits all three (fp32-level
    results, more matrix work). fp32 inputs: by default ("fast", any mode but the two below) tf32 products, rel. err
    about 1.5e-3 against fp64, not fp32 accuracy; "ieee" gives fp32-level accuracy (about 1e-6) with three tf32
    products per product (3xTF32) on the Triton kernels, at the cost measured in bench/NOTES-kernels.md; "bf16"
    rounds the fp32 values to bf16 in registers for bf16 products (fp32 bytes, the bf16 path's math). fuse_acc
    accumulates P·V into the inter-block term's tile (one accumulator); decay_v scales the value tile instead of the
    keys in the state update (same product). tma (default: on CUDA) runs the TMA-descriptor kernel for forward scans
    whose tensors map to time rows (_row_map: [B,T,H,D], contiguous [B,H,T,D], or views into one fused qkv buffer);
    cu_seqlens, reverse scans and other strides take the pointer kernel, and tma=False forces it (LAST_PATH says
    which ran). fold (default: on for fp32 q, k, v and o with tf32 products on the TMA path, Dk and Dv 64 or 128,
    slopes within the folded form's range and no launch shape given) runs a Gluon fold kernel: on a Hopper GPU the
    fold split into state and output warpgroups (lightning_prefill_fold_ws, LAST_PATH "fold-ws"), else the
    one-warpgroup kernel (lightning_prefill_fold, "fold"); both have fixed shapes and give the same outputs. "ws" asks
    for the split one, True for the one-warpgroup one (either skips the slope check), False keeps the Triton TMA
    kernel; the environment variable LIGHTNING_FOLD_WS=0 makes the one-warpgroup kernel the default. ws
    (default: on for 16-bit q, k, v of one dtype with precision "fast" on the TMA path, Dk and Dv 64 or 128, T >= 8192
    (lightning_prefill_ws.MIN_T: shorter scans are bound by the host's launch cost), no launch shape given) runs
    lightning_prefill_ws's Gluon kernel with separate state and output warpgroups (LAST_PATH "ws"); False keeps
    the Triton TMA kernel; True (or a schedule string, lightning_prefill_ws.launch_ws's mode: e.g. "pipe" / "plain",
    "noprep") runs it at any T; the environment variable LIGHTNING_WS=0 turns the default off, LIGHTNING_WS_MODE
    sets the schedule of the default. warp_specialize lets Triton split the TMA loop into producer and consumer warps.
    block_t, block_v, num_warps, num_stages override the measured shape. segments > 1 splits each sequence into that
    many parts run in parallel (a two-level scan; None picks it when the one-pass grid would leave SMs idle, e.g. few
    heads). state_skip (default on, STATE_SKIP; the environment variable LIGHTNING_STATE_SKIP=0 turns it off): the
    two-level scan's segment-state pass (the Triton TMA kernel) walks only the last ⌈STATE_SKIP_LN / slope⌉ rows of
    each segment (whole blocks), the rows before them weighing under e^-STATE_SKIP_LN = 2^-40 in the segment's state;
    steep heads then read a fraction of k and v twice instead of all of it, shallow heads are unchanged. fp32 inputs
    take that kernel for the pass only where the steepest head skips a block (else the fold kernel's full pass). CUDA
    tensors only (Triton's interpreter cannot run the skip).
    """
    B, H, T, DK, DV, N = check_prefill_args(q, k, v, slope, initial_state, layout, cu_seqlens, precision)
    q, k, v = (x if x.stride(-1) == 1 else x.contiguous() for x in (q, k, v))
    dtypes = {q.dtype, k.dtype, v.dtype}
    cdt = q.dtype if len(dtypes) == 1 else torch.float32
    o_shape = (B, H, T, DV) if layout == "bhtd" else (B, T, H, DV)
    o = torch.empty(o_shape, dtype=out_dtype or q.dtype, device=q.device)
    s0 = None if initial_state is None else initial_state.to(torch.float32).contiguous()
    cu = cu_seqlens.to(device=q.device, dtype=torch.int32).contiguous() if cu_seqlens is not None else None
    slope32 = slope.to(torch.float32).contiguous()
    # the TMA kernel for forward scans whose tensors map to time rows (tma=False forces the pointer kernel)
    use_tma = ((tma is True or (tma is None and q.is_cuda)) and cu is None and not reverse
               and tma_ready(layout, T, H, q, k, v, o))
    # fp32 inputs (all three; mixed dtypes keep the TMA kernel's casts) with tf32 products: the Gluon fold kernel
    shape_given = any(x is not None for x in (block_t, block_v, num_warps, num_stages))
    # (an fp32 o only: the fold kernels stage o in fp32, and a 16-bit o failed to compile there, H200 run H8)
    use_fold = (use_tma and fold is not False and dtypes == {torch.float32} and precision not in ("bf16", "ieee")
                and o.dtype == torch.float32 and fold_ready(DK, DV)
                and (fold in (True, "ws") or (not shape_given and fold_safe(slope32))))
    # the fold split into warp partitions (the default on Hopper; H200 run H8: 128K H = 64 5.23-5.62 ms against
    # 5.96-6.09 for the one-warpgroup kernel): forward scans and pass 2 of the two-level scan
    use_fold_ws = (use_fold and fold is not True and (fold == "ws" or os.environ.get("LIGHTNING_FOLD_WS", "1") != "0")
                   and fold_ws_ready(DK, DV, q.device))
    triton_opts = shape_given or fuse_acc is not None or decay_v is not None or warp_specialize
    use_ws = (use_tma and ws is not False and len(dtypes) == 1 and cdt in (torch.bfloat16, torch.float16)
              and precision == "fast" and ws_ready(DK, DV, q.device)
              and (ws is True or isinstance(ws, str)
                   or (not triton_opts and T >= _ws_min_t() and os.environ.get("LIGHTNING_WS", "1") != "0")))
    cfg = default_config(DK, DV, cdt, use_tma, precision, use_fold)
    launch = _Launch(q, k, v, o, slope32, cu, layout, T, H, DK, DV, cdt, precision, reverse,
                     block_t or cfg["block_t"], min(block_v or cfg["block_v"], DV),
                     num_warps or cfg["num_warps"], num_stages or cfg["num_stages"],
                     cfg["fuse_acc"] if fuse_acc is None else fuse_acc,
                     cfg["decay_v"] if decay_v is None else decay_v, use_tma, warp_specialize, use_fold, use_ws,
                     num_stages or 0, ws if isinstance(ws, str) else os.environ.get("LIGHTNING_WS_MODE", ""),
                     use_fold_ws,  # (state_skip: not under Triton's interpreter, which cannot run its loop bound)
                     (_state_skip_default() if state_skip is None else state_skip) and q.is_cuda)
    nseg = 1 if cu is not None or reverse else (
        segments or auto_segments(N, H, DV // launch.bv, T, launch.bt, q, _ws_per_sm() if use_ws else cfg["per_sm"]))
    if nseg <= 1:
        st = torch.empty(N, H, DK, DV, dtype=torch.float32, device=q.device) if output_final_state else None
        launch(N, s0, st)
        return o, st
    return o, _segmented(launch, N, nseg, s0, slope32)


def auto_segments(n: int, h: int, nv: int, t: int, bt: int, like: Tensor, per_sm: int = 2) -> int:
    """Segments per sequence for the two-level scan: only when sequences x heads x value tiles leave SMs idle.

    The two-level scan reads k and v once more (1.5x the floor's bytes), so it pays only when the one-pass grid
    leaves most SMs idle (H100, run 2: H = 8 at T = 1M 56 → 6.2 ms; at H = 64 it cost 30 %, bench/NOTES-kernels.md).
    """
    if not like.is_cuda:
        return 1
    sms = _sm_count(like.device)
    programs = n * h * nv
    if 2 * programs >= sms:
        return 1
    # fill one wave: per_sm programs per SM (run 3: 9 segments = 288 programs, 2 waves: +30 %)
    want = (per_sm * sms) // programs
    return max(1, min(want, t // (16 * bt)))


_FOLD_SAFE: dict[int, tuple[weakref.ref, int, bool]] = {}


def fold_ready(dk: int, dv: int) -> bool:
    """Whether the Gluon fold kernel can run here: Gluon importable, not Triton's interpreter, head sizes it tiles."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        return False
    try:
        from llm.kernels.lightning_prefill_fold import fold_supported
    except ImportError:  # a Triton without Gluon
        return False
    return fold_supported(dk, dv)


def fold_ws_ready(dk: int, dv: int, device: torch.device) -> bool:
    """Whether lightning_prefill_fold_ws can run here: a Hopper GPU, Gluon importable, head sizes it tiles."""
    if not fold_ready(dk, dv) or device.type != "cuda" or _capability(device)[0] != 9:
        return False
    from llm.kernels.lightning_prefill_fold_ws import fold_ws_supported

    return fold_ws_supported(dk, dv)


def ws_ready(dk: int, dv: int, device: torch.device) -> bool:
    """Whether the Gluon warp-partitioned kernel can run here: a Hopper GPU (its wgmma and TMA), Gluon importable, not
    Triton's interpreter, head sizes it tiles."""
    if os.environ.get("TRITON_INTERPRET") == "1" or device.type != "cuda" or _capability(device)[0] != 9:
        return False
    try:
        from llm.kernels.lightning_prefill_ws import ws_supported
    except ImportError:  # a Triton without Gluon
        return False
    return ws_supported(dk, dv)


_CAPS: dict[int, tuple[int, int]] = {}


def _capability(device: torch.device) -> tuple[int, int]:
    idx = device.index if device.index is not None else torch.cuda.current_device()
    if idx not in _CAPS:
        _CAPS[idx] = torch.cuda.get_device_capability(idx)
    return _CAPS[idx]


def _ws_per_sm() -> int:
    from llm.kernels.lightning_prefill_ws import SEGMENTS_PER_SM

    return SEGMENTS_PER_SM


def _ws_min_t() -> int:
    from llm.kernels.lightning_prefill_ws import MIN_T

    return MIN_T


def _state_skip_default() -> bool:
    env = os.environ.get("LIGHTNING_STATE_SKIP")
    return STATE_SKIP if env is None else env != "0"


def _skips_rows(slope: Tensor, seg: int, bt: int) -> bool:
    """Whether state_skip drops a whole block of a seg-row segment for the steepest head (one device sync per slope
    tensor, cached like fold_safe's)."""
    hit = _SLOPE_MAX.get(id(slope))
    if hit is None or hit[0]() is not slope or hit[1] != slope._version:
        if len(_SLOPE_MAX) > 256:
            _SLOPE_MAX.clear()
        hit = (weakref.ref(slope), slope._version, float(slope.max()) if slope.numel() else 0.0)
        _SLOPE_MAX[id(slope)] = hit
    return hit[2] > 0 and seg - STATE_SKIP_LN / hit[2] >= bt


_SLOPE_MAX: dict[int, tuple] = {}


def fold_safe(slope: Tensor) -> bool:
    """Whether the fold kernel's scale factors λ^(±(b/2+1)) stay in range for every slope.

    One device sync per slope tensor, then cached for that very tensor object (a weak reference, so a new tensor at a
    reused address or id is checked afresh) until it is modified in place: the model's slopes are fixed buffers.
    """
    from llm.kernels.lightning_prefill_fold import BLOCK_T, FOLD_MAX_EXPONENT

    hit = _FOLD_SAFE.get(id(slope))
    if hit is not None and hit[0]() is slope and hit[1] == slope._version:
        return hit[2]
    if len(_FOLD_SAFE) > 256:
        _FOLD_SAFE.clear()
    bound = FOLD_MAX_EXPONENT / (BLOCK_T // 2 + 1)
    ok = bool(slope.abs().max() <= bound) if slope.numel() else True
    _FOLD_SAFE[id(slope)] = (weakref.ref(slope), slope._version, ok)
    return ok


_SMS: dict[int, int] = {}


def _sm_count(device: torch.device) -> int:
    idx = device.index if device.index is not None else torch.cuda.current_device()
    if idx not in _SMS:
        _SMS[idx] = torch.cuda.get_device_properties(idx).multi_processor_count
    return _SMS[idx]


LAST_COMPILED = None  # the last launched compiled kernel (its n_regs, n_spills, shared memory: bench diagnostics)
LAST_PATH = ""  # "ws", "fold-ws", "fold", "tma" or "pointer": which kernel the last launch used (tests and diagnostics)


class _Launch:
    """The fixed arguments of one prefill call; calling it launches the kernel for N sequences (or segments)."""

    def __init__(self, q, k, v, o, slope, cu, layout, T, H, DK, DV, cdt, precision, reverse, bt, bv, nw, ns,
                 fuse_acc=False, decay_v=False, tma=False, ws=False, fold=False, ws_kernel=False, ws_stages=0,
                 ws_mode="", fold_ws=False, state_skip=False):
        self.q, self.k, self.v, self.o, self.slope, self.cu, self.layout = q, k, v, o, slope, cu, layout
        self.T, self.H, self.DK, self.DV, self.cdt, self.precision, self.reverse = T, H, DK, DV, cdt, precision, reverse
        self.bt, self.bv, self.nw, self.ns = bt, bv, nw, ns
        self.fuse_acc, self.decay_v, self.tma, self.ws, self.fold = fuse_acc, decay_v, tma, ws, fold
        # lightning_prefill_ws (all but the segment-state pass); ws_mode "pipe" / "plain" / "" (its default)
        self.ws_kernel, self.ws_stages, self.ws_mode = ws_kernel, ws_stages, ws_mode
        self.fold_ws = fold_ws  # lightning_prefill_fold_ws for all but the segment-state pass
        self.state_skip = state_skip  # the segment-state pass skips rows that weigh under e^-STATE_SKIP_LN

    def __call__(self, n: int, s0: Tensor | None, st: Tensor | None, seg: int = 0, nseg: int = 0,
                 state_only: bool = False) -> None:
        lay, cdt, prec = self.layout, self.cdt, self.precision
        if cdt == torch.float32 and prec == "bf16":  # fp32 bytes, bf16 tensor-core products, fp32 accumulation
            cdt = torch.bfloat16
        wide = cdt == torch.float32
        grid = (triton.cdiv(self.DV, self.bv), n * self.H)
        global LAST_COMPILED, LAST_PATH
        if self.ws_kernel and not state_only:
            from llm.kernels.lightning_prefill_ws import launch_ws

            LAST_PATH = "ws"
            maps = [_row_map(x, self.layout, self.T, self.H) for x in (self.q, self.k, self.v, self.o)]
            LAST_COMPILED = launch_ws(self.q, self.k, self.v, self.o, maps, self.slope, s0, st, self.T, self.H, n,
                                      seg, nseg, self.ws_stages, self.ws_mode)
            return
        if self.fold_ws and not state_only:
            from llm.kernels.lightning_prefill_fold_ws import launch_fold_ws

            LAST_PATH = "fold-ws"
            maps = [_row_map(x, self.layout, self.T, self.H) for x in (self.q, self.k, self.v, self.o)]
            LAST_COMPILED = launch_fold_ws(self.q, self.k, self.v, self.o, maps, self.slope, s0, st, self.T, self.H,
                                           n, seg, nseg)
            return
        LAST_PATH = "fold" if self.fold else "tma" if self.tma else "pointer"
        if self.fold and not (state_only and self.state_skip):  # (a skipping state pass runs the Triton TMA kernel)
            LAST_COMPILED = self._launch_fold(n, s0, st, seg, nseg, state_only)
            return
        if self.tma:
            LAST_COMPILED = self._launch_tma(grid, s0, st, cdt, wide, prec, seg, nseg, state_only)
            return
        LAST_COMPILED = _lightning_prefill_kernel[grid](
            self.q, self.k, self.v, self.o, s0 if s0 is not None else self.o, st if st is not None else self.o,
            self.slope, self.cu if self.cu is not None else self.o,
            *_as_bhtd_strides(self.q, lay), *_as_bhtd_strides(self.k, lay), *_as_bhtd_strides(self.v, lay),
            *_as_bhtd_strides(self.o, lay),
            self.T, self.H, seg, nseg,
            DK=self.DK, DV=self.DV, BT=self.bt, BV=self.bv,
            CDT=_tl_dtype(cdt), PREC=_products(wide, prec),
            SPLIT_STATE=prec in _EXACT and not wide, SPLIT_P=prec in ("split-p", *_EXACT) and not wide,
            SPLIT_K=prec in _EXACT and not wide,
            HAS_S0=s0 is not None, STORE_ST=st is not None, VARLEN=self.cu is not None, REVERSE=self.reverse,
            SEGMENTED=nseg > 0, STATE_ONLY=state_only, FUSE_ACC=self.fuse_acc,
            DECAY_V=self.decay_v, num_warps=self.nw, num_stages=self.ns,
        )

    def _launch_tma(self, grid, s0, st, cdt, wide, prec, seg, nseg, state_only):
        from triton.tools.tensor_descriptor import TensorDescriptor

        xs = (self.q, self.k, self.v, self.o)
        maps = [_row_map(x, self.layout, self.T, self.H) for x in xs]
        blocks = ([self.bt, self.DK], [self.bt, self.DK], [self.bt, self.bv], [self.bt, self.bv])
        descs = [TensorDescriptor(x, [rows, cols], [stride, 1], blk)
                 for x, (_, _, _, rows, cols, stride), blk in zip(xs, maps, blocks)]
        return _lightning_prefill_tma_kernel[grid](
            *descs, *xs, s0 if s0 is not None else self.o, st if st is not None else self.o, self.slope,
            *(mp[5] for mp in maps), *(v for mp in maps for v in mp[:3]), self.T, self.H, seg, nseg,
            DK=self.DK, DV=self.DV, BT=self.bt, BV=self.bv,
            CDT=_tl_dtype(cdt), PREC=_products(wide, prec),
            SPLIT_STATE=prec in _EXACT and not wide, SPLIT_P=prec in ("split-p", *_EXACT) and not wide,
            SPLIT_K=prec in _EXACT and not wide, HAS_S0=s0 is not None, STORE_ST=st is not None,
            FUSE_ACC=self.fuse_acc, DECAY_V=self.decay_v, SEGMENTED=nseg > 0, STATE_ONLY=state_only,
            NS=self.ns, WS=self.ws, SKIP_LN=STATE_SKIP_LN if state_only and self.state_skip else 0.0,
            num_warps=self.nw, num_stages=self.ns,
        )


    def _launch_fold(self, n, s0, st, seg, nseg, state_only):
        from llm.kernels.lightning_prefill_fold import launch_fold

        maps = [_row_map(x, self.layout, self.T, self.H) for x in (self.q, self.k, self.v, self.o)]
        return launch_fold(self.q, self.k, self.v, self.o, maps, self.slope, s0, st, self.T, self.H, n, seg, nseg,
                           state_only)


def _row_map(x: Tensor, layout: str, T: int, H: int) -> tuple[int, int, int, int, int, int] | None:
    """x as a 2-D matrix of time rows for a TMA descriptor: (rb, rh, ch, rows, cols, row stride), or None.

    Row of (sequence b, head h, time t) = b·rb + h·rh + t, head h's columns start at h·ch. Two memory orders map:
    time-major rows shared by all heads (a [B,T,H,D] tensor, or q/k/v split from one fused qkv projection: any head
    stride) and head-major (a contiguous [B,H,T,D] tensor).
    """
    sb, sh, st = _as_bhtd_strides(x, layout)
    B, D = x.shape[0], x.shape[-1]
    if x.stride(-1) != 1:
        return None
    if sh == T * st and (B == 1 or sb == H * sh):  # head-major: row (b·H + h)·T + t, columns 0..D
        return H * T, T, 0, B * H * T, D, st
    if B == 1 or sb == T * st:  # time-major: row b·T + t, head h at column h·sh
        return T, 0, sh, B * T, (H - 1) * sh + D, st
    return None


def tma_ready(layout: str, T: int, H: int, *xs: Tensor) -> bool:
    """TMA descriptors need a row map (_row_map), 16-byte aligned bases and row strides and Triton's descriptor API."""
    try:
        from triton.tools.tensor_descriptor import TensorDescriptor  # noqa: F401
    except ImportError:
        return False
    for x in xs:
        mp = _row_map(x, layout, T, H)
        if (mp is None or x.data_ptr() % 16 or (mp[5] * x.element_size()) % 16 or mp[3] >= 2**31
                or mp[4] >= 2**31):
            return False
    return True


def _segmented(launch: _Launch, n: int, nseg: int, s0: Tensor | None, slope: Tensor) -> Tensor:
    """Two-level scan: each of nseg segments per sequence runs in parallel from its own start state.

    Pass 1 computes each segment's state from zero (k, v only; the last segment's is never needed, so on the Triton
    kernels its programs walk no rows and store zeros); the start state of segment p is then
    Σ_{j<p} λ^(SEG·(p-1-j)) S_loc[j] + λ^(SEG·p) S0 (the recurrence unrolled over whole segments, LA-2 eq. 11 with
    the segment as the block), one small einsum; pass 2 is the one-pass kernel on every segment.
    """
    H, DK, DV, T = launch.H, launch.DK, launch.DV, launch.T
    seg = -(-T // nseg)
    seg = -(-seg // launch.bt) * launch.bt
    nseg = -(-T // seg)
    dev = launch.q.device
    loc = torch.empty(n * nseg, H, DK, DV, dtype=torch.float32, device=dev)
    if launch.fold and launch.state_skip:  # fp32: the skipping pass is the Triton TMA kernel's; the fold kernel's
        launch.state_skip = _skips_rows(slope, seg, launch.bt)  # full pass where no head would skip a block
    launch(n * nseg, None, loc, seg, nseg, state_only=True)
    p = torch.arange(nseg, device=dev, dtype=torch.float32)
    gap = p[:, None] - 1 - p[None, :]  # p-1-j
    lam_seg = -slope.double() * seg  # log λ^SEG per head
    m = torch.where(gap >= 0, torch.exp(lam_seg[:, None, None] * gap.clamp(min=0).double()), 0.0).float()
    start = torch.einsum("hpj,njhkv->nphkv", m, loc.view(n, nseg, H, DK, DV))
    if s0 is not None:
        start += torch.exp(lam_seg[None, :] * p.double()[:, None]).float()[None, :, :, None, None] * s0[:, None]
    end = torch.empty_like(loc)
    launch(n * nseg, start.reshape(n * nseg, H, DK, DV).contiguous(), end, seg, nseg)
    return end.view(n, nseg, H, DK, DV)[:, -1].contiguous()
