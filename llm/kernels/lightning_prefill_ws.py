"""Prefill kernel for 16-bit inputs with explicit warp partitions (Gluon): the state recurrence and the outputs run in
separate warpgroups of one program, so their tensor-core chains overlap on the SM.

Same math as lightning_prefill (Lightning Attention-2, arXiv:2401.04658, eqs. 8-12), per block i of b rows with
λ = exp(-slope) and S_i the state before the block:
  O_i     = [(Q_i K_iᵀ) ⊙ M] V_i + diag(λ^(t+1)) Q_i S_i,     M_tj = λ^(t-j) for t >= j else 0
  S_(i+1) = λ^n S_i + K_iᵀ diag(λ^(n-1-j)) V_i                 (n rows in the block)
Why: on the H200 the one-warpgroup Triton TMA kernel is latency-bound (ncu, bench/NOTES-kernels.md run H2: 1 warp
per scheduler, 27 % issue slots busy, DRAM 64 %, tensor pipe 37 %): every block is one dependent chain of four
small wgmma, conversions and shared-memory round trips. The state S_(i+1) depends only on k, v and S_i, not on q or
the outputs, so one warpgroup can run ahead on the recurrence while another computes the outputs:
- the state partition (4 warps) holds S[:, value tile] in fp32 registers; per block it writes S_i in 16 bits to a
  double-buffered shared tile (for Q_i S_i) and updates S with one wgmma (Kᵀ read transposed from the TMA tile of k,
  diag(decay) V from a shared tile that it filled for this block while the previous update ran);
- the output partition (4 warps, the default one) computes Q Kᵀ and Q S_i together (async wgmma), masks the scores
  into a register operand, adds P V into the same accumulator and stores o through TMA (the tail block by masked
  pointer stores);
- a loader warp keeps NS blocks of q, k, v in flight through TMA; a stage is refilled once both warpgroups released it.
Keys and queries are loaded as two 64-column chunks (Dk = 128) so that every state product is a 64-row wgmma.
Forward scans of whole sequences or segments with an optional initial state (the two-level scan's pass 2); the
segment-state pass and everything else stay on lightning_prefill's kernels. Precision is the Triton kernels' "fast"
mode with the decay on v (S_i, the scores and diag(decay) V rounded to the input dtype; fp32 accumulation).
Measured on an H200 (bench/NOTES-kernels.md, runs H4-H6), bf16, T = 128K, H = 64, each variant in its own process:
2.16-2.54 ms (79-93 % of the copy floor) against 2.65-2.93 ms for the Triton TMA kernel, 2.34 ms with the v scaling
moved under the previous update (run H6); 16K 0.271-0.274 vs 0.340-0.342 ms; 1M at H = 8 3.55 ms with 16 segments
(3.61-3.74 with 8) vs 4.12 ms. ncu at 16K (run H6): DRAM 81 % of peak, the shared pipe 49 % busy; the state
partition's recurrence is the chain that sets the pace (moving work off it helps, queueing more output products
ahead of it hurts). 168 registers a thread, no spills, 189 KB of shared memory (205 KB with an fp32 o). ncu at
128K (run H10, one launch): 2.18 ms at a 1.70 GHz mean SM clock = 92 % of the floor, DRAM bytes exactly q, k, v read
once and o written once (the two value tiles of a head share q, k in L2), shared-memory banks 26 % / 16 % busy; the
same kernel reads 2.27-2.44 ms in repeated launches, where the card's power draw lowers the clock.
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

from llm.kernels.rows import program_rows

BLOCK_T = 64  # rows per block (one warpgroup's wgmma M)
BLOCK_V = 64  # value columns per program
NUM_STAGES = 3  # q, k, v blocks in flight: 3 × 40 KB + S tiles 32 KB + decayed v 2 × 8 KB + o 16 KB (fp32 o: 32 KB)
PIPELINE_OUT = True  # the output partition stores block i-1 under block i's P·V (H200 runs H4/H5, 128K: 2.25 / 2.54
# ms vs 2.54 / 2.56 in order; bench/NOTES-kernels.md)
PREP = True  # the state partition scales block i+1's v into a second tile under the update of block i ("prep";
# "noprep" turns it off). H200 run H6, bf16 128K H = 64, same call: 2.341 ms vs 2.544 without (16K and 1M: not timed)
# (An "early" schedule, the update of block i issued before S_i is stored for the outputs, was right against fp64
# and slower in H200 run H7: bf16 128K H = 64 2.546 vs 2.387 ms, 1M 3.647 vs 3.493 ms; removed, bench/NOTES-kernels.md.)
SEGMENTS_PER_SM = 2  # the two-level scan's segment rule fills two waves of this kernel (H200, 1M at H = 8: 16 segments
# 3.35 / 3.45 / 3.55 ms vs 8 segments 3.66 / 3.61 / 3.74 in runs H4, H5, H6; fp64 checks of both in run H6)
VT = False  # opt-in ("vt"): the state partition keeps Sᵀ and feeds diag(decay) V as the wgmma's register A operand
# (Sᵀ += (diag(d) V)ᵀ K, K straight from its TMA tile), so the scaled-v tile, its store and two reads of it leave
# shared memory (24 KB less shared-memory traffic a block of ~190 KB; 172 KB of shared memory instead of 189). Right
# against fp64 and no faster in H200 run H10: bf16 128K H = 64 2.248 ms vs the default's 2.270 in the same call (ncu
# there: shared-memory banks 26 % busy reading, 16 % writing, so their traffic was not the limit). A "qreg" variant
# (q loaded once into registers for both output products) was slower (2.398 ms; with vt 2.556) and was removed.
MIN_T = 8192  # lightning_prefill's default takes this kernel from this length on (H200 run H5: 8K 0.143 vs 0.175 ms on
# the Triton TMA kernel; at 4K the host's launch cost decides: 0.207 vs 0.174 ms, though 0.076 vs 0.092 in a CUDA graph)
MAXNREG = gl.constexpr(168)  # 12 warps (3 warpgroups) × 32 × 168 ≤ 64 K registers


def ws_supported(dk: int, dv: int) -> bool:
    """Head sizes the kernel tiles: Dk 64 or 128 (chunks of 64), Dv a multiple of 64 up to 128."""
    return dk in (64, 128) and dv in (64, 128)


def launch_ws(q, k, v, o, maps, slope, s0, st, T: int, H: int, n: int, seg: int, nseg: int, num_stages: int = 0,
              mode: str = ""):
    """Launch over n sequences (or segments) × heads × value tiles; maps are lightning_prefill's row maps.

    num_stages: blocks of q, k, v in flight (0: NUM_STAGES). mode: "+"-joined schedule words, "" for the defaults:
    "pipe" / "plain" (the output partition stores block i-1 under P·V of block i, or in order), "prep" (the state
    partition scales block i+1's values into a second shared tile while its update wgmma of block i runs) or
    "noprep".
    Returns the compiled kernel (registers and shared memory are bench diagnostics)."""
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

    words = set(filter(None, mode.split("+")))
    unknown = words - {"pipe", "plain", "prep", "noprep", "vt", "novt"}
    if unknown:
        raise ValueError(f"lightning_prefill_ws: unknown schedule {sorted(unknown)} in mode {mode!r}")
    pipe = "pipe" in words or ("plain" not in words and PIPELINE_OUT)
    prep = "prep" in words or ("noprep" not in words and PREP)
    vt = "vt" in words or (VT and "novt" not in words)
    dk, dv = q.shape[-1], v.shape[-1]
    ks = dk // 64
    bt, bv = BLOCK_T, BLOCK_V
    lay_k = _layout(bt, 64, str(q.dtype))
    lay_v = _layout(bt, bv, str(q.dtype))
    lay_o = _layout(bt, bv, str(o.dtype))  # o may be fp32 (out_dtype)
    blocks = (([bt, 64], lay_k), ([bt, 64], lay_k), ([bt, bv], lay_v), ([bt, bv], lay_o))
    descs = [TensorDescriptor(x, [mp[3], mp[4]], [mp[5], 1], blk, lay)
             for x, mp, (blk, lay) in zip((q, k, v, o), maps, blocks)]
    grid = (dv // bv, n * H)
    ns = num_stages or NUM_STAGES
    esz, osz = q.element_size(), o.element_size()
    # S tiles, decayed v (two with prep; none with vt), o staging
    fixed = 2 * ks * 64 * bv * esz + (0 if vt else 1 + prep) * bt * bv * esz + 2 * bt * bv * osz + 1024
    while ns > 2 and fixed + ns * (2 * ks * bt * 64 + bt * bv) * esz > 227 * 1024:  # fp32 o takes 16 KB more
        ns -= 1
    return _lightning_prefill_ws_kernel[grid](
        *descs, o, s0 if s0 is not None else o, st if st is not None else o, slope, maps[3][5],
        *(x for mp in maps for x in mp[:3]), T, H, seg, nseg,
        DK=dk, DV=dv, BT=bt, BV=bv, KS=ks, HAS_S0=s0 is not None, STORE_ST=st is not None,
        SEGMENTED=nseg > 0, NS=ns, PIPE=pipe, PREP=prep, VT=vt, num_warps=4,
        maxnreg=MAXNREG,
    )


@functools.cache
def _layout(rows: int, cols: int, dtype: str):
    """The shared-memory layout of a [rows, cols] TMA tile (cached: building one costs ~12 µs of host time)."""
    gdt = {"torch.bfloat16": gl.bfloat16, "torch.float16": gl.float16, "torch.float32": gl.float32}[dtype]
    return gl.NVMMASharedLayout.get_default_for([rows, cols], gdt)


@gluon.jit
def _lightning_prefill_ws_kernel(
    q_desc, k_desc, v_desc, o_desc, O, S0, ST, SLOPE, so_t,
    rb_q, rh_q, ch_q, rb_k, rh_k, ch_k, rb_v, rh_v, ch_v, rb_o, rh_o, ch_o,
    T, H, SEG, NSEG,
    DK: gl.constexpr, DV: gl.constexpr, BT: gl.constexpr, BV: gl.constexpr, KS: gl.constexpr,
    HAS_S0: gl.constexpr, STORE_ST: gl.constexpr, SEGMENTED: gl.constexpr, NS: gl.constexpr, PIPE: gl.constexpr,
    PREP: gl.constexpr, VT: gl.constexpr,
):
    """Grid (value tiles, sequences × heads): shared memory, barriers, then the three partitions (module docstring)."""
    iv = gl.program_id(0)
    bh = gl.program_id(1)
    h, L, r_q, r_k, r_v, r_o, c_q, c_k, c_v, c_o = program_rows(
        bh, iv, T, H, SEG, NSEG, rb_q, rh_q, ch_q, rb_k, rh_k, ch_k, rb_v, rh_v, ch_v, rb_o, rh_o, ch_o, BV, SEGMENTED)
    dt: gl.constexpr = q_desc.dtype
    S_SH: gl.constexpr = gl.NVMMASharedLayout.get_default_for([64, BV], dt)
    q_s = gl.allocate_shared_memory(dt, [NS * KS, BT, 64], q_desc.layout)
    k_s = gl.allocate_shared_memory(dt, [NS * KS, BT, 64], k_desc.layout)
    v_s = gl.allocate_shared_memory(dt, [NS, BT, BV], v_desc.layout)
    s_s = gl.allocate_shared_memory(dt, [2 * KS, 64, BV], S_SH)  # S_i in 16 bits, two buffers of KS chunks
    # diag(decay) V (two buffers with prep; with VT it lives in registers: a placeholder of one row)
    if VT:
        a_s = gl.allocate_shared_memory(dt, [1, 8, BV], v_desc.layout)
    else:
        a_s = gl.allocate_shared_memory(dt, [1 + PREP, BT, BV], v_desc.layout)
    o_s = gl.allocate_shared_memory(o_desc.dtype, [2, BT, BV], o_desc.layout)  # 16-bit or fp32 (out_dtype)
    ready = gl.allocate_shared_memory(gl.int64, [NS, 1], mbarrier.MBarrierLayout())
    empty = gl.allocate_shared_memory(gl.int64, [NS, 1], mbarrier.MBarrierLayout())
    s_ready = gl.allocate_shared_memory(gl.int64, [2, 1], mbarrier.MBarrierLayout())
    s_free = gl.allocate_shared_memory(gl.int64, [2, 1], mbarrier.MBarrierLayout())
    for j in gl.static_range(NS):
        mbarrier.init(ready.index(j), count=1)
        mbarrier.init(empty.index(j), count=2)  # both warpgroups release a stage
    for j in gl.static_range(2):
        mbarrier.init(s_ready.index(j), count=1)
        mbarrier.init(s_free.index(j), count=1)
    s = gl.load(SLOPE + h).to(gl.float32)
    nblocks = gl.cdiv(L, BT)
    smem = (q_s, k_s, v_s, s_s, a_s, o_s)
    bars = (ready, empty, s_ready, s_free)
    gl.warp_specialize([
        (_out_partition, (smem, bars, o_desc, O, so_t, r_o, c_o, s, L, nblocks, BT, BV, KS, PIPE, VT)),
        (_state_partition, (smem, bars, S0, ST, bh, iv, s, L, nblocks, DK, DV, BT, BV, KS, HAS_S0, STORE_ST,
                            PREP, VT)),
        (load_partition, (q_s, k_s, v_s, ready, empty, q_desc, k_desc, v_desc, r_q, r_k, r_v, c_q, c_k, c_v,
                          nblocks, KS)),
    ], [4, 1], [MAXNREG, 24])
    for j in gl.static_range(NS):
        mbarrier.invalidate(ready.index(j))
        mbarrier.invalidate(empty.index(j))
    for j in gl.static_range(2):
        mbarrier.invalidate(s_ready.index(j))
        mbarrier.invalidate(s_free.index(j))


@gluon.jit
def load_partition(q_s, k_s, v_s, ready, empty, q_desc, k_desc, v_desc, r_q, r_k, r_v, c_q, c_k, c_v, nblocks,
                   KS: gl.constexpr):
    """One warp: TMA loads of q, k (KS chunks of 64 columns) and v for every block, NS blocks ahead (stage st is
    refilled once `empty[st]` says every consumer released it; `ready[st]` counts its bytes in). Also the loader of
    lightning_prefill_fold_ws."""
    NS: gl.constexpr = v_s.type.shape[0]
    BT: gl.constexpr = v_s.type.shape[1]
    nbytes: gl.constexpr = KS * (q_desc.block_type.nbytes + k_desc.block_type.nbytes) + v_desc.block_type.nbytes
    for i in range(nblocks):
        st = i % NS
        mbarrier.wait(empty.index(st), ((i // NS) & 1) ^ 1)  # a fresh barrier passes phase 1 at once
        bar = ready.index(st)
        mbarrier.expect(bar, nbytes)
        row = i * BT
        for c in gl.static_range(KS):
            tma.async_copy_global_to_shared(q_desc, [r_q + row, c_q + c * 64], bar, q_s.index(st * KS + c))
            tma.async_copy_global_to_shared(k_desc, [r_k + row, c_k + c * 64], bar, k_s.index(st * KS + c))
        tma.async_copy_global_to_shared(v_desc, [r_v + row, c_v], bar, v_s.index(st))


@gluon.jit
def _state_partition(smem, bars, S0, ST, bh, iv, s, L, nblocks, DK: gl.constexpr, DV: gl.constexpr,
                     BT: gl.constexpr, BV: gl.constexpr, KS: gl.constexpr, HAS_S0: gl.constexpr,
                     STORE_ST: gl.constexpr, PREP: gl.constexpr, VT: gl.constexpr):
    """Four warps: the state recurrence (VT: as Sᵀ with the scaled values in registers; else as S)."""
    if VT:
        _state_loop_vt(smem, bars, S0, ST, bh, iv, s, L, nblocks, DK, DV, BT, BV, KS, HAS_S0, STORE_ST)
    else:
        _state_loop(smem, bars, S0, ST, bh, iv, s, L, nblocks, DK, DV, BT, BV, KS, HAS_S0, STORE_ST, PREP)


@gluon.jit
def _state_loop_vt(smem, bars, S0, ST, bh, iv, s, L, nblocks, DK: gl.constexpr, DV: gl.constexpr,
                   BT: gl.constexpr, BV: gl.constexpr, KS: gl.constexpr, HAS_S0: gl.constexpr,
                   STORE_ST: gl.constexpr):
    """Sᵀ[tile, :] in fp32 registers (KS chunks of 64 key columns, [BV, 64] each); per block publish Sᵀ_i (16-bit,
    [BV, 64] tiles the outputs read as S through a transposed view), then Sᵀ ← λ^n Sᵀ + (diag(d) V)ᵀ K with
    (diag(d) V)ᵀ as the register A operand (loaded transposed from v's TMA tile, block i+1's under the update of
    block i) and K as the B operand straight from its TMA tile. No scaled-v tile in shared memory."""
    _q_s, k_s, v_s, s_s, _a_s, _o_s = smem
    ready, empty, s_ready, s_free = bars
    NS: gl.constexpr = v_s.type.shape[0]
    MMA: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, 64, 16])
    A_L: gl.constexpr = gl.DotOperandLayout(operand_index=0, parent=MMA, k_width=2)
    t_a = gl.arange(0, BT, layout=gl.SliceLayout(0, A_L))
    if HAS_S0:
        off = _state_offsets_t(bh, iv, DK, DV, BV, MMA)
        Ta = gl.load(S0 + off)
        if KS == 2:
            Tb = gl.load(S0 + off + 64 * DV)
        else:
            Tb = Ta
    else:
        Ta = gl.zeros([BV, 64], gl.float32, MMA)
        Tb = gl.zeros([BV, 64], gl.float32, MMA)
    va = gl.zeros([BV, BT], v_s.dtype, A_L)
    if nblocks > 0:  # an empty sequence or segment has no block 0 to wait for
        va = _values_operand(v_s, ready, 0, L, s, t_a, BT, A_L)
    for i in range(nblocks):
        st = i % NS
        sb = i % 2
        mbarrier.wait(s_free.index(sb), ((i // 2) & 1) ^ 1)
        s_s.index(sb * KS).store(Ta.to(s_s.dtype))
        if KS == 2:
            s_s.index(sb * KS + 1).store(Tb.to(s_s.dtype))
        fence_async_shared()
        gl.thread_barrier()
        mbarrier.arrive(s_ready.index(sb), count=1)
        lam_n = gl.exp(-s * gl.minimum(L - i * BT, BT).to(gl.float32))
        Ta = warpgroup_mma(va, k_s.index(st * KS), Ta * lam_n, is_async=True)
        if KS == 2:
            Tb = warpgroup_mma(va, k_s.index(st * KS + 1), Tb * lam_n, is_async=True)
        if i + 1 < nblocks:
            vn = _values_operand(v_s, ready, i + 1, L, s, t_a, BT, A_L)
        else:
            vn = va
        if KS == 2:
            Ta, Tb, va = warpgroup_mma_wait(num_outstanding=0, deps=(Ta, Tb, va))
        else:
            Ta, va = warpgroup_mma_wait(num_outstanding=0, deps=(Ta, va))
        mbarrier.arrive(empty.index(st), count=1)
        va = vn
    if STORE_ST:
        off = _state_offsets_t(bh, iv, DK, DV, BV, MMA)
        gl.store(ST + off, Ta)
        if KS == 2:
            gl.store(ST + off + 64 * DV, Tb)


@gluon.jit
def _values_operand(v_s, ready, i, L, s, t_a, BT: gl.constexpr, A_L: gl.constexpr):
    """(diag(λ^(n-1-j)) V)ᵀ of block i (rows past the sequence weighted 0) as a 16-bit register A operand [BV, BT],
    loaded through a transposed view of v's TMA tile (waits for the tile)."""
    NS: gl.constexpr = v_s.type.shape[0]
    nrem = gl.minimum(L - i * BT, BT)
    dec = gl.where(t_a < nrem, gl.exp(-s * gl.maximum(nrem - 1 - t_a, 0).to(gl.float32)), 0.0)
    mbarrier.wait(ready.index(i % NS), (i // NS) & 1)
    vt = v_s.index(i % NS).permute((1, 0)).load(A_L).to(gl.float32) * dec[None, :]
    return vt.to(v_s.dtype)


@gluon.jit
def _state_loop(smem, bars, S0, ST, bh, iv, s, L, nblocks, DK: gl.constexpr, DV: gl.constexpr,
                BT: gl.constexpr, BV: gl.constexpr, KS: gl.constexpr, HAS_S0: gl.constexpr,
                STORE_ST: gl.constexpr, PREP: gl.constexpr):
    """S[:, tile] in fp32 registers (KS chunks of 64 rows); per block publish S_i, then update it.

    PREP: diag(decay) V of block i+1 is written to the second of two shared tiles while the update of block i runs,
    so the chain from one update to the next is only: publish S, scale S by λ^n, wgmma."""
    _q_s, k_s, v_s, s_s, a_s, _o_s = smem
    ready, empty, s_ready, s_free = bars
    NS: gl.constexpr = v_s.type.shape[0]
    MMA: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, BV, 16])
    CP: gl.constexpr = gl.BlockedLayout(size_per_thread=[1, 8], threads_per_warp=[4, 8], warps_per_cta=[4, 1],
                                        order=[1, 0])
    t_cp = gl.arange(0, BT, layout=gl.SliceLayout(1, CP))
    if HAS_S0:
        off = _state_offsets(bh, iv, DK, DV, BV, MMA)
        Sa = gl.load(S0 + off)
        if KS == 2:
            Sb = gl.load(S0 + off + 64 * DV)
        else:
            Sb = Sa
    else:
        Sa = gl.zeros([64, BV], gl.float32, MMA)
        Sb = gl.zeros([64, BV], gl.float32, MMA)
    if PREP:  # noqa: SIM102 - a compile-time branch around a runtime one
        if nblocks > 0:
            _scale_values(v_s, a_s, ready, 0, L, s, t_cp, BT, CP)
    for i in range(nblocks):
        st = i % NS
        sb = i % 2
        ab = i % 2 if PREP else 0
        # publish S_i (16-bit) for the outputs of block i, once block i - 2 has released that buffer
        mbarrier.wait(s_free.index(sb), ((i // 2) & 1) ^ 1)
        s_s.index(sb * KS).store(Sa.to(s_s.dtype))
        if KS == 2:
            s_s.index(sb * KS + 1).store(Sb.to(s_s.dtype))
        fence_async_shared()  # (with prep: also block i's scaled values, stored during the previous update)
        gl.thread_barrier()
        mbarrier.arrive(s_ready.index(sb), count=1)
        if not PREP:
            _scale_values(v_s, a_s, ready, i, L, s, t_cp, BT, CP)
            fence_async_shared()
            gl.thread_barrier()
        # S_(i+1) = λ^n S_i + Kᵀ diag(λ^(n-1-j)) V  (n = rows of this block; rows past the sequence get weight 0)
        lam_n = gl.exp(-s * gl.minimum(L - i * BT, BT).to(gl.float32))
        Sa = warpgroup_mma(k_s.index(st * KS).permute((1, 0)), a_s.index(ab), Sa * lam_n, is_async=True)
        if KS == 2:
            Sb = warpgroup_mma(k_s.index(st * KS + 1).permute((1, 0)), a_s.index(ab), Sb * lam_n, is_async=True)
        if PREP:  # noqa: SIM102 - block i+1 into the other tile (its reader, the update of block i-1, is done)
            if i + 1 < nblocks:
                _scale_values(v_s, a_s, ready, i + 1, L, s, t_cp, BT, CP)
        if KS == 2:
            Sa, Sb = warpgroup_mma_wait(num_outstanding=0, deps=(Sa, Sb))
        else:
            Sa = warpgroup_mma_wait(num_outstanding=0, deps=(Sa,))
        mbarrier.arrive(empty.index(st), count=1)
    if STORE_ST:
        off = _state_offsets(bh, iv, DK, DV, BV, MMA)
        gl.store(ST + off, Sa)
        if KS == 2:
            gl.store(ST + off + 64 * DV, Sb)


@gluon.jit
def _scale_values(v_s, a_s, ready, i, L, s, t_cp, BT: gl.constexpr, CP: gl.constexpr):
    """diag(λ^(n-1-j)) V of block i (rows past the sequence weighted 0) into a_s[i % buffers]; the caller fences and
    synchronises the warpgroup before a wgmma reads it."""
    NS: gl.constexpr = v_s.type.shape[0]
    NA: gl.constexpr = a_s.type.shape[0]
    nrem = gl.minimum(L - i * BT, BT)
    dec = gl.where(t_cp < nrem, gl.exp(-s * gl.maximum(nrem - 1 - t_cp, 0).to(gl.float32)), 0.0)
    st = i % NS
    mbarrier.wait(ready.index(st), (i // NS) & 1)
    vv = v_s.index(st).load(CP).to(gl.float32) * dec[:, None]
    a_s.index(i % NA).store(vv.to(a_s.dtype))


@gluon.jit
def _out_partition(smem, bars, o_desc, O, so_t, r_o, c_o, s, L, nblocks, BT: gl.constexpr, BV: gl.constexpr,
                   KS: gl.constexpr, PIPE: gl.constexpr, VT: gl.constexpr):
    """The default four warps: O_i = [(Q Kᵀ) ⊙ M] V + diag(λ^(t+1)) Q S_i for every block, stored through TMA.

    PIPE: block i-1's outputs are stored while the tensor cores run P·V of block i (else after it, in order)."""
    q_s, k_s, v_s, s_s, _a_s, o_s = smem
    ready, empty, s_ready, s_free = bars
    NS: gl.constexpr = v_s.type.shape[0]
    MMA: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, BV, 16])
    MMA_T: gl.constexpr = gl.NVMMADistributedLayout(version=[3, 0], warps_per_cta=[4, 1], instr_shape=[16, BT, 16])
    A_L: gl.constexpr = gl.DotOperandLayout(operand_index=0, parent=MMA, k_width=2)
    t_r = gl.arange(0, BT, layout=gl.SliceLayout(1, MMA_T))
    t_c = gl.arange(0, BT, layout=gl.SliceLayout(0, MMA_T))
    diff = t_r[:, None] - t_c[None, :]
    m = gl.where(diff >= 0, gl.exp(-s * gl.maximum(diff, 0).to(gl.float32)), 0.0)  # λ^(t-j), causal
    t_o = gl.arange(0, BT, layout=gl.SliceLayout(1, MMA))
    q_decay = gl.exp(-s * (t_o + 1).to(gl.float32))
    nfull = L // BT
    o_prev = gl.zeros([BT, BV], gl.float32, MMA)
    for i in range(nblocks):
        st = i % NS
        qk, acc = _issue_scores(q_s, k_s, s_s, ready, s_ready, i, KS, MMA, MMA_T, VT)
        qk = warpgroup_mma_wait(num_outstanding=KS, deps=(qk,))
        p = _scores_operand(qk, m, t_c, L, i, nfull, q_s.dtype, A_L)
        acc = warpgroup_mma_wait(num_outstanding=0, deps=(acc,))
        mbarrier.arrive(s_free.index(i % 2), count=1)
        o = warpgroup_mma(p, v_s.index(st), acc * q_decay[:, None], is_async=True)
        if PIPE:  # block i-1's outputs (always a whole block) go out while P·V of block i runs
            if i > 0:
                _store_block(o_prev, o_s, o_desc, r_o, c_o, i - 1, BT)
            o, p = warpgroup_mma_wait(num_outstanding=0, deps=(o, p))
            mbarrier.arrive(empty.index(st), count=1)
            o_prev = o
        else:
            o, p = warpgroup_mma_wait(num_outstanding=0, deps=(o, p))
            mbarrier.arrive(empty.index(st), count=1)
            if i < nfull:
                _store_block(o, o_s, o_desc, r_o, c_o, i, BT)
            else:
                _store_rows(o, O, so_t, r_o, c_o, i, L - i * BT, BT, BV, MMA)
    if PIPE:  # the last block's outputs
        last = nblocks - 1
        if last >= 0:
            if last < nfull:
                _store_block(o_prev, o_s, o_desc, r_o, c_o, last, BT)
            else:
                _store_rows(o_prev, O, so_t, r_o, c_o, last, L - last * BT, BT, BV, MMA)
    tma.store_wait(pendings=0)


@gluon.jit
def _issue_scores(q_s, k_s, s_s, ready, s_ready, i, KS: gl.constexpr, MMA: gl.constexpr, MMA_T: gl.constexpr,
                  VT: gl.constexpr):
    """Once block i's q, k and S_i are in shared memory: Q Kᵀ and Q S_i as async wgmma (KS commit groups each).

    VT: S_i is published as Sᵀ tiles, read through a transposed view."""
    NS: gl.constexpr = q_s.type.shape[0] // KS
    BT: gl.constexpr = q_s.type.shape[1]
    BV: gl.constexpr = MMA.instr_shape[1]
    st = i % NS
    sb = i % 2
    mbarrier.wait(ready.index(st), (i // NS) & 1)
    mbarrier.wait(s_ready.index(sb), (i // 2) & 1)
    zt = gl.zeros([BT, BT], gl.float32, MMA_T)
    z = gl.zeros([BT, BV], gl.float32, MMA)
    qa = q_s.index(st * KS)
    qb = q_s.index(st * KS + KS - 1)
    qk = warpgroup_mma(qa, k_s.index(st * KS).permute((1, 0)), zt, use_acc=False, is_async=True)
    if KS == 2:
        qk = warpgroup_mma(qb, k_s.index(st * KS + 1).permute((1, 0)), qk, is_async=True)
    if VT:
        sa = s_s.index(sb * KS).permute((1, 0))
        sbb = s_s.index(sb * KS + KS - 1).permute((1, 0))
    else:
        sa = s_s.index(sb * KS)
        sbb = s_s.index(sb * KS + KS - 1)
    acc = warpgroup_mma(qa, sa, z, use_acc=False, is_async=True)
    if KS == 2:
        acc = warpgroup_mma(qb, sbb, acc, is_async=True)
    return qk, acc


@gluon.jit
def _scores_operand(qk, m, t_c, L, i, nfull, dt: gl.constexpr, A_L: gl.constexpr):
    """The decay-masked scores of block i as the 16-bit register A operand of P·V."""
    BT: gl.constexpr = qk.type.shape[0]
    sc = qk * m
    if i >= nfull:  # the tail block: key columns past the sequence belong to the next rows
        sc = gl.where((t_c < L - i * BT)[None, :], sc, 0.0)
    return gl.convert_layout(sc.to(dt), A_L)


@gluon.jit
def _store_block(o, o_s, o_desc, r_o, c_o, i, BT: gl.constexpr):
    """Outputs of whole block i through shared memory and a TMA store (two staging buffers, one store in flight)."""
    buf = o_s.index(i % 2)
    tma.store_wait(pendings=1)  # the store that last used this buffer (two blocks ago) is done
    buf.store(o.to(o_s.dtype))
    fence_async_shared()
    gl.thread_barrier()
    tma.async_copy_shared_to_global(o_desc, [r_o + i * BT, c_o], buf)


@gluon.jit
def _store_rows(o, O, so_t, r_o, c_o, i, nrem, BT: gl.constexpr, BV: gl.constexpr, MMA: gl.constexpr):
    """Outputs of the last, partial block i (nrem rows) by masked pointer stores: rows past it belong to others."""
    t_o = gl.arange(0, BT, layout=gl.SliceLayout(1, MMA))
    rows = (r_o + i * BT + t_o).to(gl.int64)
    cols = gl.arange(0, BV, layout=gl.SliceLayout(0, MMA))
    gl.store(O + rows[:, None] * so_t + c_o + cols[None, :], o.to(O.dtype.element_ty), mask=(t_o < nrem)[:, None])


@gluon.jit
def _state_offsets_t(bh, iv, DK: gl.constexpr, DV: gl.constexpr, BV: gl.constexpr, MMA: gl.constexpr):
    """Element offsets of Sᵀ[value tile, 0:64] (i.e. S[0:64, tile] transposed) in an fp32 [N·H, DK, DV] state."""
    v_row = iv * BV + gl.arange(0, BV, layout=gl.SliceLayout(1, MMA))
    d_col = gl.arange(0, 64, layout=gl.SliceLayout(0, MMA))
    return bh.to(gl.int64) * DK * DV + d_col[None, :] * DV + v_row[:, None]


@gluon.jit
def _state_offsets(bh, iv, DK: gl.constexpr, DV: gl.constexpr, BV: gl.constexpr, MMA: gl.constexpr):
    """Element offsets of S[0:64, value tile] of program (bh, iv) in an fp32 [N·H, DK, DV] state tensor."""
    d_row = gl.arange(0, 64, layout=gl.SliceLayout(1, MMA))
    v_col = iv * BV + gl.arange(0, BV, layout=gl.SliceLayout(0, MMA))
    return bh.to(gl.int64) * DK * DV + d_row[:, None] * DV + v_col[None, :]
