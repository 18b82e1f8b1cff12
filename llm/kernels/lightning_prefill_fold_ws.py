"""Prefill kernel for fp32 inputs (tf32 products) with explicit warp partitions (Gluon): lightning_prefill_fold's
folded block math, split like lightning_prefill_ws into a state warpgroup and an output warpgroup.

Same fold as lightning_prefill_fold, per block of n rows around the centre row c = b/2 (λ = exp(-slope)):
  V'    = diag(λ^(c-j)) V
  O     = diag(λ^(i-c)) · [ ((Q Kᵀ) ⊙ C) V' + λ^(c+1) Q S ]         (C the causal 0/1 mask)
  S_new = λ^(n-1-c) · [ λ^(c+1) S + Kᵀ V' ]
Why: on the H200 the one-warpgroup fold kernel reads 67-71 % of the copy floor at T = 128K, H = 64 (runs H1-H5): per
64-row block it runs one serial chain (V' transposed into shared memory, S published, Q Kᵀ and Q S, the mask, P V',
Kᵀ V', the o store, then the next loads), about 2.9 µs against the 2.0 µs the block's bytes take. The state update
(Kᵀ V') needs only k, V' and S, so, as for 16-bit inputs (lightning_prefill_ws), it runs in its own warpgroup:
- the state partition (4 warps) holds S[:, value tile] in fp32 registers (KS chunks of 64 rows); per block it writes
  V' transposed (time contiguous, the K-major B operand tf32 wgmma needs) and Sᵀ to shared memory, then updates S
  with one wgmma per chunk whose A operand is Kᵀ loaded from the TMA tile of k into registers;
- the output partition (the default 4 warps) computes Q Kᵀ and Q S together (async wgmma), masks the scores into a
  register operand, adds P V' into the same accumulator, scales the rows and stores o through TMA (the tail block by
  masked pointer stores);
- a loader warp keeps NS = 2 blocks of q, k, v in flight through TMA (a stage is refilled once both warpgroups have
  released it).
Shared memory: 2 stages × 80 KB + V' 16 KB + Sᵀ 32 KB + o 16 KB = 224 KB of the 227 KB, so V' and Sᵀ have one
buffer each: the state partition writes V' of block i+1 once the output partition's P V' of block i is done, and Sᵀ
of block i+1 once its Q S of block i is done. Precision and accuracy are the fold kernel's (tf32 products, fp32
accumulation, the same fold): on the H200 its o was bit-identical to the fold kernel's and its state within 7e-8
(run H8's smoke test). lightning_prefill's default for fp32 inputs with an fp32 o on Hopper (fold=True keeps the
one-warpgroup kernel, LIGHTNING_FOLD_WS=0 makes that the default): forward scans and the two-level scan's pass 2; the
segment-state pass stays on the fold kernel. The fold's range condition (|slope| · (b/2 + 1) <= FOLD_MAX_EXPONENT)
applies as there. Measured on an H200 (bench/NOTES-kernels.md, run H8), T = 128K, H = 64, each in its own process:
5.23 / 5.54 ms against 6.05 / 5.96 for the fold kernel (72-77 % of the copy floor, from 66-68 %); 16K 0.564 vs 0.685;
1M at H = 8 7.93 vs 8.88. Still short of the floor: the two 80 KB stages are all the shared memory leaves, so at most
one block's loads are in flight while the other is consumed. 168 registers, 48 B of stack, 229,656 B shared memory.
"""
from __future__ import annotations

import functools

from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.hopper import (
    fence_async_shared,
    mbarrier,
    tma,
    warpgroup_mma,
    warpgroup_mma_wait,
)

from llm.kernels.lightning_prefill_ws import load_partition
from llm.kernels.rows import program_rows

BLOCK_T = 64  # rows per block (one warpgroup's wgmma M); the fold's centre row is BLOCK_T // 2
BLOCK_V = 64  # value columns per program
NUM_STAGES = 2  # q, k, v blocks in flight: 2 × 80 KB + V' 16 KB + Sᵀ 32 KB + o 16 KB = 224 KB
MAXNREG = gl.constexpr(168)  # 12 warps (3 warpgroups) × 32 × 168 ≤ 64 K registers


def fold_ws_supported(dk: int, dv: int) -> bool:
    """Head sizes the kernel tiles: Dk 64 or 128 (chunks of 64), Dv 64 or 128."""
    return dk in (64, 128) and dv in (64, 128)


def launch_fold_ws(q, k, v, o, maps, slope, s0, st, T: int, H: int, n: int, seg: int, nseg: int):
    """Launch over n sequences (or segments) × heads × value tiles; maps are lightning_prefill's row maps.

    Returns the compiled kernel (registers and shared memory are bench diagnostics)."""
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

    dk, dv = q.shape[-1], v.shape[-1]
    ks = dk // 64
    bt, bv = BLOCK_T, BLOCK_V
    lay = _layout(bt, 64)  # q, k chunks, v and o tiles are all [64, 64] fp32
    descs = [TensorDescriptor(x, [mp[3], mp[4]], [mp[5], 1], [bt, 64], lay) for x, mp in zip((q, k, v, o), maps)]
    grid = (dv // bv, n * H)
    return _lightning_prefill_fold_ws_kernel[grid](
        *descs, o, s0 if s0 is not None else o, st if st is not None else o, slope, maps[3][5],
        *(x for mp in maps for x in mp[:3]), T, H, seg, nseg,
        DK=dk, DV=dv, BT=bt, BV=bv, KS=ks, HAS_S0=s0 is not None, STORE_ST=st is not None,
        SEGMENTED=nseg > 0, NS=NUM_STAGES, num_warps=4, maxnreg=MAXNREG,
    )


@functools.cache
def _layout(rows: int, cols: int):
    """The shared-memory layout of a [rows, cols] fp32 TMA tile (cached: building one costs host time)."""
    return gl.NVMMASharedLayout.get_default_for([rows, cols], gl.float32)


@gluon.jit
def _lightning_prefill_fold_ws_kernel(
    q_desc, k_desc, v_desc, o_desc, O, S0, ST, SLOPE, so_t,
    rb_q, rh_q, ch_q, rb_k, rh_k, ch_k, rb_v, rh_v, ch_v, rb_o, rh_o, ch_o,
    T, H, SEG, NSEG,
    DK: gl.constexpr, DV: gl.constexpr, BT: gl.constexpr, BV: gl.constexpr, KS: gl.constexpr,
    HAS_S0: gl.constexpr, STORE_ST: gl.constexpr, SEGMENTED: gl.constexpr, NS: gl.constexpr,
):
    """Grid (value tiles, sequences × heads): shared memory, barriers, then the three partitions (module docstring)."""
    iv = gl.program_id(0)
    bh = gl.program_id(1)
    h, L, r_q, r_k, r_v, r_o, c_q, c_k, c_v, c_o = program_rows(
        bh, iv, T, H, SEG, NSEG, rb_q, rh_q, ch_q, rb_k, rh_k, ch_k, rb_v, rh_v, ch_v, rb_o, rh_o, ch_o, BV, SEGMENTED)
    DH: gl.constexpr = DK // KS
    VT_SH: gl.constexpr = gl.NVMMASharedLayout.get_default_for([BV, BT], gl.float32)
    S_SH: gl.constexpr = gl.NVMMASharedLayout.get_default_for([BV, DH], gl.float32)
    q_s = gl.allocate_shared_memory(gl.float32, [NS * KS, BT, DH], q_desc.layout)
    k_s = gl.allocate_shared_memory(gl.float32, [NS * KS, BT, DH], k_desc.layout)
    v_s = gl.allocate_shared_memory(gl.float32, [NS, BT, BV], v_desc.layout)
    vt_s = gl.allocate_shared_memory(gl.float32, [BV, BT], VT_SH)  # V' transposed (time contiguous)
    s_s = gl.allocate_shared_memory(gl.float32, [KS, BV, DH], S_SH)  # Sᵀ chunks of the block's start state
    o_s = gl.allocate_shared_memory(gl.float32, [BT, BV], o_desc.layout)
    ready = gl.allocate_shared_memory(gl.int64, [NS, 1], mbarrier.MBarrierLayout())
    empty = gl.allocate_shared_memory(gl.int64, [NS, 1], mbarrier.MBarrierLayout())
    # pub: the state partition wrote V' and Sᵀ of a block; s_free / vt_free: the output partition is done with them
    pub = gl.allocate_shared_memory(gl.int64, [3, 1], mbarrier.MBarrierLayout())
    for j in gl.static_range(NS):
        mbarrier.init(ready.index(j), count=1)
        mbarrier.init(empty.index(j), count=2)  # both warpgroups release a stage
    for j in gl.static_range(3):
        mbarrier.init(pub.index(j), count=1)
    s = gl.load(SLOPE + h).to(gl.float32)
    nblocks = gl.cdiv(L, BT)
    smem = (q_s, k_s, v_s, vt_s, s_s, o_s)
    bars = (ready, empty, pub)
    gl.warp_specialize([
        (_out_partition, (smem, bars, o_desc, O, so_t, r_o, c_o, s, L, nblocks, BT, BV, KS)),
        (_state_partition, (smem, bars, S0, ST, bh, iv, s, L, nblocks, DK, DV, BT, BV, KS, HAS_S0, STORE_ST)),
        (load_partition, (q_s, k_s, v_s, ready, empty, q_desc, k_desc, v_desc, r_q, r_k, r_v, c_q, c_k, c_v,
                          nblocks, KS)),
    ], [4, 1], [MAXNREG, 24])
    for j in gl.static_range(NS):
        mbarrier.invalidate(ready.index(j))
        mbarrier.invalidate(empty.index(j))
    for j in gl.static_range(3):
        mbarrier.invalidate(pub.index(j))


@gluon.jit
def _state_partition(smem, bars, S0, ST, bh, iv, s, L, nblocks, DK: gl.constexpr, DV: gl.constexpr,
                     BT: gl.constexpr, BV: gl.constexpr, KS: gl.constexpr, HAS_S0: gl.constexpr,
                     STORE_ST: gl.constexpr):
    """Four warps: S[:, tile] in fp32 registers (KS chunks); per block publish V' and Sᵀ, then S ← the fold update."""
    _q_s, k_s, v_s, vt_s, s_s, _o_s = smem
    ready, empty, pub = bars
    NS: gl.constexpr = v_s.type.shape[0]
    DH: gl.constexpr = DK // KS
    C: gl.constexpr = BT // 2
    MMA: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, BV, 8])
    A_L: gl.constexpr = gl.DotOperandLayout(operand_index=0, parent=MMA, k_width=1)
    # v → V'ᵀ copy: 4 consecutive rows (t) per thread, so each lane's transposed store is one 16-byte chunk
    CP: gl.constexpr = gl.BlockedLayout(size_per_thread=[4, 1], threads_per_warp=[2, 16], warps_per_cta=[4, 1],
                                        order=[0, 1])
    t_cp = gl.arange(0, BT, layout=gl.SliceLayout(1, CP))
    vscale = gl.exp(-s * (C - t_cp).to(gl.float32))  # λ^(c-j) on the rows of v
    lam_c1 = gl.exp(-s * (C + 1))
    lam_out = gl.exp(-s * (BT - 1 - C))
    if HAS_S0:
        off = _state_offsets(bh, iv, DK, DV, DH, BV, MMA)
        Sa = gl.load(S0 + off)
        if KS == 2:
            Sb = gl.load(S0 + off + DH * DV)
        else:
            Sb = Sa
    else:
        Sa = gl.zeros([DH, BV], gl.float32, MMA)
        Sb = gl.zeros([DH, BV], gl.float32, MMA)
    for i in range(nblocks):
        st = i % NS
        nrem = gl.minimum(L - i * BT, BT)
        # V' of block i, transposed, once the output partition's P V' of block i-1 is done
        mbarrier.wait(ready.index(st), (i // NS) & 1)
        vv = v_s.index(st).load(CP) * gl.where(t_cp < nrem, vscale, 0.0)[:, None]  # rows past the sequence: 0
        mbarrier.wait(pub.index(2), (i & 1) ^ 1)  # a fresh barrier passes phase 1 at once
        vt_s.store(gl.permute(vv, (1, 0)))
        # Sᵀ (the block's start state) once the output partition's Q S of block i-1 is done
        mbarrier.wait(pub.index(1), (i & 1) ^ 1)
        s_s.index(0).store(gl.permute(Sa, (1, 0)))
        if KS == 2:
            s_s.index(1).store(gl.permute(Sb, (1, 0)))
        fence_async_shared()
        gl.thread_barrier()
        mbarrier.arrive(pub.index(0), count=1)
        # S_(i+1) = λ^(n-1-c) [λ^(c+1) S_i + Kᵀ V']  (n = rows of this block)
        kat = k_s.index(st * KS).permute((1, 0)).load(A_L)
        Sa = warpgroup_mma(kat, vt_s.permute((1, 0)), Sa * lam_c1, is_async=True)
        if KS == 2:
            kbt = k_s.index(st * KS + 1).permute((1, 0)).load(A_L)
            Sb = warpgroup_mma(kbt, vt_s.permute((1, 0)), Sb * lam_c1, is_async=True)
        # the stage is no longer read (Kᵀ is in registers, V' in its own tile): release it under the update
        gl.thread_barrier()
        mbarrier.arrive(empty.index(st), count=1)
        if KS == 2:
            Sa, Sb, kat, kbt = warpgroup_mma_wait(num_outstanding=0, deps=(Sa, Sb, kat, kbt))
        else:
            Sa, kat = warpgroup_mma_wait(num_outstanding=0, deps=(Sa, kat))
        lam = lam_out * gl.exp(-s * (nrem - BT).to(gl.float32))  # a tail block has n = nrem < b rows
        Sa = Sa * lam
        if KS == 2:
            Sb = Sb * lam
    if STORE_ST:
        off = _state_offsets(bh, iv, DK, DV, DH, BV, MMA)
        gl.store(ST + off, Sa)
        if KS == 2:
            gl.store(ST + off + DH * DV, Sb)


@gluon.jit
def _out_partition(smem, bars, o_desc, O, so_t, r_o, c_o, s, L, nblocks, BT: gl.constexpr, BV: gl.constexpr,
                   KS: gl.constexpr):
    """The default four warps: O = diag(λ^(i-c)) [((Q Kᵀ) ⊙ C) V' + λ^(c+1) Q S] for every block, stored by TMA."""
    q_s, k_s, v_s, vt_s, s_s, o_s = smem
    ready, empty, pub = bars
    NS: gl.constexpr = v_s.type.shape[0]
    C: gl.constexpr = BT // 2
    MMA: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, BV, 8])
    MMA_T: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, BT, 8])
    A_L: gl.constexpr = gl.DotOperandLayout(operand_index=0, parent=MMA, k_width=1)
    t_row = gl.arange(0, BT, layout=gl.SliceLayout(1, MMA))
    rowscale = gl.exp(-s * (t_row - C).to(gl.float32))  # λ^(i-c) on the rows of o
    t_rq = gl.arange(0, BT, layout=gl.SliceLayout(1, MMA_T))
    t_cq = gl.arange(0, BT, layout=gl.SliceLayout(0, MMA_T))
    lam_c1 = gl.exp(-s * (C + 1))
    nfull = L // BT
    for i in range(nblocks):
        st = i % NS
        nrem = gl.minimum(L - i * BT, BT)
        mbarrier.wait(ready.index(st), (i // NS) & 1)
        mbarrier.wait(pub.index(0), i & 1)
        zt = gl.zeros([BT, BT], gl.float32, MMA_T)
        z = gl.zeros([BT, BV], gl.float32, MMA)
        qk = warpgroup_mma(q_s.index(st * KS), k_s.index(st * KS).permute((1, 0)), zt, use_acc=False, is_async=True)
        if KS == 2:
            qk = warpgroup_mma(q_s.index(st * KS + 1), k_s.index(st * KS + 1).permute((1, 0)), qk, is_async=True)
        acc = warpgroup_mma(q_s.index(st * KS), s_s.index(0).permute((1, 0)), z, use_acc=False, is_async=True)
        if KS == 2:
            acc = warpgroup_mma(q_s.index(st * KS + 1), s_s.index(1).permute((1, 0)), acc, is_async=True)
        qk = warpgroup_mma_wait(num_outstanding=KS, deps=(qk,))
        # causal, and key columns past the sequence (the tail block's rows of the next head or sequence) dropped;
        # (i >> 30) = 0 keeps the mask inside the loop rather than hoisted into live registers
        keep = (t_rq[:, None] >= t_cq[None, :] + (i >> 30)) & (t_cq < nrem)[None, :]
        p = gl.convert_layout(gl.where(keep, qk, 0.0), A_L)
        acc = warpgroup_mma_wait(num_outstanding=0, deps=(acc,))
        mbarrier.arrive(pub.index(1), count=1)  # Sᵀ may be overwritten
        mbarrier.arrive(empty.index(st), count=1)  # q, k read (P V' reads V', not the stage)
        o = warpgroup_mma(p, vt_s.permute((1, 0)), acc * lam_c1, is_async=True)
        o, p = warpgroup_mma_wait(num_outstanding=0, deps=(o, p))
        mbarrier.arrive(pub.index(2), count=1)  # V' may be overwritten
        o = o * rowscale[:, None]
        if i < nfull:
            tma.store_wait(pendings=0)  # the previous block's store has read o_s
            o_s.store(o)
            fence_async_shared()
            gl.thread_barrier()
            tma.async_copy_shared_to_global(o_desc, [r_o + i * BT, c_o], o_s)
        else:  # the last, partial block: masked pointer stores (rows past it belong to others)
            rows = (r_o + i * BT + t_row).to(gl.int64)
            cols = gl.arange(0, BV, layout=gl.SliceLayout(0, MMA))
            gl.store(O + rows[:, None] * so_t + c_o + cols[None, :], o.to(O.dtype.element_ty),
                     mask=(t_row < nrem)[:, None])
    tma.store_wait(pendings=0)


@gluon.jit
def _state_offsets(bh, iv, DK: gl.constexpr, DV: gl.constexpr, DH: gl.constexpr, BV: gl.constexpr,
                   MMA: gl.constexpr):
    """Element offsets of S[0:DH, value tile] of program (bh, iv) in an fp32 [N·H, DK, DV] state tensor."""
    d_row = gl.arange(0, DH, layout=gl.SliceLayout(1, MMA))
    v_col = iv * BV + gl.arange(0, BV, layout=gl.SliceLayout(0, MMA))
    return bh.to(gl.int64) * DK * DV + d_row[:, None] * DV + v_col[None, :]
