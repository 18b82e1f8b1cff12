"""Prefill kernel for fp32 inputs (tf32 products), written in Gluon: the decay folded out of the scores, explicit
layouts.

Same recurrence as lightning_prefill (Lightning Attention-2, arXiv:2401.04658, eqs. 8-12), rewritten per block of n
rows around a centre row c (λ = exp(-slope), i, j rows of the block):
  λ^(i-j) = λ^(i-c) · λ^(c-j)  and  λ^(i+1) = λ^(i-c) · λ^(c+1), so with V' = diag(λ^(c-j)) V
  O     = diag(λ^(i-c)) · [ ((Q Kᵀ) ⊙ C) V' + λ^(c+1) Q S ]         (C the causal 0/1 mask)
  S_new = λ^(n-1-c) · [ λ^(c+1) S + Kᵀ V' ]                           (= λ^n S + Σ_j λ^(n-1-j) k_jᵀ v_j)
Why this kernel exists: tf32 tensor-core products (wgmma) take both operands K-major, and the two products that sum
over time (P·V', Kᵀ·V') have time as the strided axis of k and v, so every block must transpose tiles on chip. The
Triton kernels leave those copies to the compiler, whose register layouts give 5-8-way shared-memory bank conflicts
(ncu, bench/NOTES-kernels.md runs 16-17): 9.6-9.9 ms at T = 128K, H = 64. Here each copy has a layout chosen for it
(Gluon's bank_conflicts: 0-1 excess wavefronts): V' goes to shared memory transposed once and feeds both products,
Kᵀ is read straight from the TMA tile into the register A operand, S and o are stored from the accumulator layout;
the TMA loads of the next block run under the current one (NS stages). H100: 5.73-6.29 ms (90-99 % of the copy
floor; runs 23-24). The last, partial block runs after the loop (a separate masked copy of the block code): with a
runtime tail branch inside the loop the kernel ran at 10.5 ms whenever T was not a multiple of 16 (run 21).
The fold keeps every factor within exp(±slope·(b/2+1)) (b = 64 rows), so fp32 neither overflows nor loses more than
1e-12 of a term while that exponent stays <= FOLD_MAX_EXPONENT; lightning_prefill checks the slopes before using it.
q and k are split into KS column chunks of 64 (wgmma M = 64 for the state chunks S[chunk, value tile]).
On Hopper GPUs lightning_prefill's fp32 default is lightning_prefill_fold_ws (this fold split into state and output
warpgroups, same outputs, faster from 16K on: H200 run H8); this kernel runs there with fold=True or
LIGHTNING_FOLD_WS=0, and for the two-level scan's segment-state pass. It takes an fp32 o only (o is staged in fp32).
"""
from __future__ import annotations

from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.hopper import (
    fence_async_shared,
    mbarrier,
    tma,
    warpgroup_mma,
    warpgroup_mma_wait,
)

from llm.kernels.rows import program_rows

FOLD_MAX_EXPONENT = 60.0  # largest |slope · (b/2 + 1)| the kernel is used for (e^60 ≈ 1.1e26)
BLOCK_T = 64  # rows per block (one warpgroup's wgmma M)
BLOCK_V = 64  # value columns per program
NUM_STAGES = 2  # TMA pipeline depth: 2 stages of q, k, v use 160 KB of the 227 KB shared memory


def fold_supported(dk: int, dv: int) -> bool:
    """Head sizes the kernel tiles: Dk 64 or 128 (chunks of 64), Dv a multiple of 64 up to 128."""
    return dk in (64, 128) and dv in (64, 128)


def launch_fold(q, k, v, o, maps, slope, s0, st, T: int, H: int, n: int, seg: int, nseg: int, state_only: bool):
    """Launch the kernel over n sequences (or segments) × heads × value tiles; maps are lightning_prefill's row maps.

    Returns the compiled kernel (its registers and shared memory are bench diagnostics).
    """
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

    dk, dv = q.shape[-1], v.shape[-1]
    ks = dk // 64
    bt, bv = BLOCK_T, BLOCK_V
    lay_q = gl.NVMMASharedLayout.get_default_for([bt, dk // ks], gl.float32)
    lay_v = gl.NVMMASharedLayout.get_default_for([bt, bv], gl.float32)
    blocks = (([bt, dk // ks], lay_q), ([bt, dk // ks], lay_q), ([bt, bv], lay_v), ([bt, bv], lay_v))
    descs = [TensorDescriptor(x, [mp[3], mp[4]], [mp[5], 1], blk, lay)
             for x, mp, (blk, lay) in zip((q, k, v, o), maps, blocks)]
    grid = (dv // bv, n * H)
    return _lightning_prefill_fold_kernel[grid](
        *descs, o, s0 if s0 is not None else o, st if st is not None else o, slope, maps[3][5],
        *(x for mp in maps for x in mp[:3]), T, H, seg, nseg,
        DK=dk, DV=dv, BT=bt, BV=bv, KS=ks, HAS_S0=s0 is not None, STORE_ST=st is not None,
        SEGMENTED=nseg > 0, STATE_ONLY=state_only, NS=NUM_STAGES, num_warps=4,
    )


@gluon.jit
def _lightning_prefill_fold_kernel(
    q_desc, k_desc, v_desc, o_desc, O, S0, ST, SLOPE, so_t,
    rb_q, rh_q, ch_q, rb_k, rh_k, ch_k, rb_v, rh_v, ch_v, rb_o, rh_o, ch_o,
    T, H, SEG, NSEG,
    DK: gl.constexpr, DV: gl.constexpr, BT: gl.constexpr, BV: gl.constexpr, KS: gl.constexpr,
    HAS_S0: gl.constexpr, STORE_ST: gl.constexpr, SEGMENTED: gl.constexpr, STATE_ONLY: gl.constexpr,
    NS: gl.constexpr,
):
    """Grid (value tiles, sequences × heads); one warpgroup walks its sequence block by block (module docstring).

    Row (sequence n, head h, time t) of a tensor is n·rb + h·rh + t with the head's columns from h·ch (the row maps
    of lightning_prefill._row_map). The last block, when shorter than b, is read through the same descriptors: its
    key and value rows past the sequence are zeroed on chip, its scores masked, and its outputs stored by row mask.
    """
    DH: gl.constexpr = DK // KS
    C: gl.constexpr = BT // 2
    # register layouts (one warpgroup): wgmma accumulators, the register A operand, the v → vᵀ copy
    MMA: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, BV, 8])
    MMA_T: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, BT, 8])
    A_L: gl.constexpr = gl.DotOperandLayout(operand_index=0, parent=MMA, k_width=1)
    CP: gl.constexpr = gl.BlockedLayout(size_per_thread=[4, 1], threads_per_warp=[2, 16], warps_per_cta=[4, 1],
                                        order=[0, 1])
    VT_SH: gl.constexpr = gl.NVMMASharedLayout.get_default_for([BV, BT], gl.float32)
    S_SH: gl.constexpr = gl.NVMMASharedLayout.get_default_for([BV, DH], gl.float32)

    iv = gl.program_id(0)
    bh = gl.program_id(1)
    h, L, r_q, r_k, r_v, r_o, c_q, c_k, c_v, c_o = program_rows(
        bh, iv, T, H, SEG, NSEG, rb_q, rh_q, ch_q, rb_k, rh_k, ch_k, rb_v, rh_v, ch_v, rb_o, rh_o, ch_o, BV, SEGMENTED)

    s = gl.load(SLOPE + h).to(gl.float32)
    t_cp = gl.arange(0, BT, layout=gl.SliceLayout(1, CP))
    vscale = gl.exp(-s * (C - t_cp).to(gl.float32))  # λ^(c-j) on the rows of v
    t_row = gl.arange(0, BT, layout=gl.SliceLayout(1, MMA))
    rowscale = gl.exp(-s * (t_row - C).to(gl.float32))  # λ^(i-c) on the rows of o
    t_rq = gl.arange(0, BT, layout=gl.SliceLayout(1, MMA_T))
    t_cq = gl.arange(0, BT, layout=gl.SliceLayout(0, MMA_T))
    lam_c1 = gl.exp(-s * (C + 1))
    lam_out = gl.exp(-s * (BT - 1 - C))

    # state S[chunk] = S[chunk·DH:(chunk+1)·DH, value tile], fp32 accumulators (the int64 offsets are rebuilt after
    # the loop rather than held across it, where they would take 64 of the 255 registers)
    if HAS_S0:
        st_off = _state_offsets(bh, iv, DK, DV, DH, BV, MMA)
        Sa = gl.load(S0 + st_off)
        if KS == 2:
            Sb = gl.load(S0 + st_off + DH * DV)
        else:
            Sb = Sa
    else:
        Sa = gl.zeros([DH, BV], gl.float32, MMA)
        Sb = gl.zeros([DH, BV], gl.float32, MMA)

    # shared memory: NS stages of q, k (KS chunks each), v; vᵀ, S copies and the o staging tile
    q_s = gl.allocate_shared_memory(gl.float32, [NS * KS, BT, DH], q_desc.layout)
    k_s = gl.allocate_shared_memory(gl.float32, [NS * KS, BT, DH], k_desc.layout)
    v_s = gl.allocate_shared_memory(gl.float32, [NS, BT, BV], v_desc.layout)
    vt_s = gl.allocate_shared_memory(gl.float32, [BV, BT], VT_SH)
    s_s = gl.allocate_shared_memory(gl.float32, [KS, BV, DH], S_SH)
    o_s = gl.allocate_shared_memory(gl.float32, [BT, BV], o_desc.layout)
    bars = gl.allocate_shared_memory(gl.int64, [NS, 1], mbarrier.MBarrierLayout())
    for i in gl.static_range(NS):
        mbarrier.init(bars.index(i), count=1)
    if STATE_ONLY:
        nbytes: gl.constexpr = KS * k_desc.block_type.nbytes + v_desc.block_type.nbytes
    else:
        nbytes: gl.constexpr = KS * (q_desc.block_type.nbytes + k_desc.block_type.nbytes) + v_desc.block_type.nbytes
    nblocks = gl.cdiv(L, BT)
    for j in gl.static_range(NS):  # prologue: the first NS blocks in flight
        if j < nblocks:
            _issue(q_desc, k_desc, v_desc, q_s, k_s, v_s, bars.index(j), j, j * BT, r_q, r_k, r_v, c_q, c_k, c_v,
                   nbytes, DH, KS, STATE_ONLY)
    nfull = L // BT
    for i in range(nfull):  # whole blocks; the last block, when shorter than b, after the loop (masked)
        Sa, Sb = _fold_block(q_desc, k_desc, v_desc, o_desc, q_s, k_s, v_s, vt_s, s_s, o_s, bars, O, so_t,
                             r_q, r_k, r_v, r_o, c_q, c_k, c_v, c_o, i, nblocks, BT, Sa, Sb, s,
                             vscale, rowscale, t_cp, t_row, t_rq, t_cq, lam_c1, lam_out,
                             False, NS, KS, DH, BT, BV, STATE_ONLY, nbytes, MMA, MMA_T, A_L, CP)
    if nfull < nblocks:
        Sa, Sb = _fold_block(q_desc, k_desc, v_desc, o_desc, q_s, k_s, v_s, vt_s, s_s, o_s, bars, O, so_t,
                             r_q, r_k, r_v, r_o, c_q, c_k, c_v, c_o, nfull, nblocks, L - nfull * BT, Sa, Sb, s,
                             vscale, rowscale, t_cp, t_row, t_rq, t_cq, lam_c1, lam_out,
                             True, NS, KS, DH, BT, BV, STATE_ONLY, nbytes, MMA, MMA_T, A_L, CP)
    tma.store_wait(pendings=0)
    for i in gl.static_range(NS):
        mbarrier.invalidate(bars.index(i))
    if STORE_ST:
        st_off = _state_offsets(bh, iv, DK, DV, DH, BV, MMA)
        gl.store(ST + st_off, Sa)
        if KS == 2:
            gl.store(ST + st_off + DH * DV, Sb)


@gluon.jit
def _fold_block(q_desc, k_desc, v_desc, o_desc, q_s, k_s, v_s, vt_s, s_s, o_s, bars, O, so_t,
                r_q, r_k, r_v, r_o, c_q, c_k, c_v, c_o, i, nblocks, nrem, Sa, Sb, s,
                vscale, rowscale, t_cp, t_row, t_rq, t_cq, lam_c1, lam_out,
                tail: gl.constexpr, NS: gl.constexpr, KS: gl.constexpr, DH: gl.constexpr, BT: gl.constexpr,
                BV: gl.constexpr, STATE_ONLY: gl.constexpr, nbytes: gl.constexpr, MMA: gl.constexpr,
                MMA_T: gl.constexpr, A_L: gl.constexpr, CP: gl.constexpr):
    """Block i of nrem rows (b unless tail): outputs, the state update, then the TMA loads of block i + NS into the
    stage it frees."""
    st = i % NS
    mbarrier.wait(bars.index(st), (i // NS) & 1)
    if tail:  # zero the key rows past the sequence (they belong to the next head or sequence)
        for c in gl.static_range(KS):
            kk = k_s.index(st * KS + c).load(CP)
            kk = gl.where((t_cp < nrem)[:, None], kk, 0.0)
            k_s.index(st * KS + c).store(kk)
    # V' = diag(λ^(c-j)) V, stored transposed (time contiguous): the B operand of P·V' and Kᵀ·V'
    v = v_s.index(st).load(CP) * vscale[:, None]
    if tail:
        v = gl.where((t_cp < nrem)[:, None], v, 0.0)
    vt_s.store(gl.permute(v, (1, 0)))
    if not STATE_ONLY:
        s_s.index(0).store(gl.permute(Sa, (1, 0)))
        if KS == 2:
            s_s.index(1).store(gl.permute(Sb, (1, 0)))
    fence_async_shared()
    gl.thread_barrier()
    if not STATE_ONLY:
        zt = gl.zeros([BT, BT], gl.float32, MMA_T)
        z = gl.zeros([BT, BV], gl.float32, MMA)
        qk = warpgroup_mma(q_s.index(st * KS), k_s.index(st * KS).permute((1, 0)), zt, use_acc=False,
                           is_async=True)
        if KS == 2:
            qk = warpgroup_mma(q_s.index(st * KS + 1), k_s.index(st * KS + 1).permute((1, 0)), qk,
                               is_async=True)
        acc = warpgroup_mma(q_s.index(st * KS), s_s.index(0).permute((1, 0)), z, use_acc=False,
                            is_async=True)
        if KS == 2:
            acc = warpgroup_mma(q_s.index(st * KS + 1), s_s.index(1).permute((1, 0)), acc, is_async=True)
        qk = warpgroup_mma_wait(num_outstanding=KS, deps=(qk,))
        keep = t_rq[:, None] >= t_cq[None, :] + (i >> 30)  # (i >> 30) = 0: keeps the mask in the loop, not hoisted
        if tail:
            keep = keep & (t_cq < nrem)[None, :]
        p = gl.convert_layout(gl.where(keep, qk, 0.0), A_L)
        acc = warpgroup_mma_wait(num_outstanding=0, deps=(acc,))
        o = warpgroup_mma(p, vt_s.permute((1, 0)), acc * lam_c1, is_async=True)
    kat = k_s.index(st * KS).permute((1, 0)).load(A_L)
    Sa = warpgroup_mma(kat, vt_s.permute((1, 0)), Sa * lam_c1, is_async=True)
    if not STATE_ONLY:
        o, p = warpgroup_mma_wait(num_outstanding=1, deps=(o, p))
        o = o * rowscale[:, None]
        if tail:
            rows = (r_o + i * BT + t_row).to(gl.int64)
            cols = gl.arange(0, BV, layout=gl.SliceLayout(0, MMA))
            gl.store(O + rows[:, None] * so_t + c_o + cols[None, :], o.to(O.dtype.element_ty),
                     mask=(t_row < nrem)[:, None])
        else:
            tma.store_wait(pendings=0)
            o_s.store(o.to(o_desc.dtype))
            fence_async_shared()
            tma.async_copy_shared_to_global(o_desc, [r_o + i * BT, c_o], o_s)
    if KS == 2:
        kbt = k_s.index(st * KS + 1).permute((1, 0)).load(A_L)
        Sb = warpgroup_mma(kbt, vt_s.permute((1, 0)), Sb * lam_c1, is_async=True)
        Sa, Sb, kat, kbt = warpgroup_mma_wait(num_outstanding=0, deps=(Sa, Sb, kat, kbt))
        Sb = Sb * lam_out
    else:
        Sa, kat = warpgroup_mma_wait(num_outstanding=0, deps=(Sa, kat))
    Sa = Sa * lam_out
    if tail:  # the last block had n = nrem rows: S_new = λ^(n-1-c)(...), not λ^(b-1-c)
        fix = gl.exp(-s * (nrem - BT).to(gl.float32))
        Sa = Sa * fix
        Sb = Sb * fix
    gl.thread_barrier()
    nxt = i + NS
    if nxt < nblocks:
        _issue(q_desc, k_desc, v_desc, q_s, k_s, v_s, bars.index(st), st, nxt * BT, r_q, r_k, r_v, c_q, c_k,
               c_v, nbytes, DH, KS, STATE_ONLY)
    return Sa, Sb


@gluon.jit
def _state_offsets(bh, iv, DK: gl.constexpr, DV: gl.constexpr, DH: gl.constexpr, BV: gl.constexpr,
                   MMA: gl.constexpr):
    """Element offsets of S[0:DH, value tile] of program (bh, iv) in an fp32 [N·H, DK, DV] state tensor."""
    d_row = gl.arange(0, DH, layout=gl.SliceLayout(1, MMA))
    v_col = iv * BV + gl.arange(0, BV, layout=gl.SliceLayout(0, MMA))
    return bh.to(gl.int64) * DK * DV + d_row[:, None] * DV + v_col[None, :]


@gluon.jit
def _issue(q_desc, k_desc, v_desc, q_s, k_s, v_s, bar, st, row, r_q, r_k, r_v, c_q, c_k, c_v,
           nbytes: gl.constexpr, DH: gl.constexpr, KS: gl.constexpr, STATE_ONLY: gl.constexpr):
    """Start the TMA loads of one block (rows row.. of this program's sequence) into stage st."""
    mbarrier.expect(bar, nbytes)
    for c in gl.static_range(KS):
        tma.async_copy_global_to_shared(k_desc, [r_k + row, c_k + c * DH], bar, k_s.index(st * KS + c))
        if not STATE_ONLY:
            tma.async_copy_global_to_shared(q_desc, [r_q + row, c_q + c * DH], bar, q_s.index(st * KS + c))
    tma.async_copy_global_to_shared(v_desc, [r_v + row, c_v], bar, v_s.index(st))
