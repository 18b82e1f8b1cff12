"""Triton lightning kernels vs the PyTorch reference: prefill, variable lengths, reverse, decode, CUDA graph, gradients.

Runs on a CUDA device; skips cleanly without one (CI has none). With TRITON_INTERPRET=1 and Triton installed the same
tests run on the CPU through Triton's interpreter (small shapes), which is how the kernels were developed.
"""
from __future__ import annotations

import importlib.util
import os

import pytest
import torch
import torch.nn.functional as F

from llm.lightning import decay_slopes, lightning_block, lightning_recurrent
from llm.lightning import lightning_decode as ref_decode

HAVE_TRITON = importlib.util.find_spec("triton") is not None
INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
if not HAVE_TRITON or not (torch.cuda.is_available() or INTERPRET):
    pytest.skip("needs CUDA + Triton (or TRITON_INTERPRET=1 with Triton)", allow_module_level=True)

pytestmark = pytest.mark.gpu
DEV = "cuda" if torch.cuda.is_available() else "cpu"
D = 128 if DEV == "cuda" else 32  # the interpreter is slow: smaller heads there
BT = None if DEV == "cuda" else 16
TOL = 2e-3  # docs/architecture.md §7: relative error <= 2e-3 in bf16 (fp32 outputs)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm())


def _inputs(seed: int, B: int, H: int, T: int, dtype: torch.dtype, layout: str = "bhtd", silu: bool = False):
    g = torch.Generator().manual_seed(seed)
    shape = (B, H, T, D) if layout == "bhtd" else (B, T, H, D)
    xs = [torch.randn(shape, generator=g) for _ in range(3)]
    if silu:
        xs = [F.silu(x) for x in xs]
    return [x.to(dtype).to(DEV) for x in xs], torch.randn(B, H, D, D, generator=g).to(DEV)


def _bhtd(x: torch.Tensor, layout: str) -> torch.Tensor:
    return x if layout == "bhtd" else x.transpose(1, 2)


def _path(dtype: torch.dtype, tma: bool, fold: bool | None = None, shape_given: bool = False,
          triton_opts: bool = False, ws: bool | None = None) -> str:
    """The kernel lightning_prefill should pick on the TMA path (Triton's interpreter cannot run Gluon): fp32 inputs
    (fp32 o) take a Gluon fold kernel unless a launch shape is asked for (on Hopper the warp-partitioned one);
    16-bit inputs the Gluon warp-partitioned kernel when asked for (ws=True, "pipe", "plain"; by default only from
    T = 8192 on, longer than these tests' inputs), else the Triton TMA kernel."""
    if not tma:
        return "pointer"
    if DEV != "cuda":
        return "tma"
    if dtype == torch.float32:  # the fold split into warpgroups on Hopper (fp32 o), unless fold=True or turned off
        if shape_given or fold is False:
            return "tma"
        split = (fold is not True and torch.cuda.get_device_capability()[0] == 9
                 and os.environ.get("LIGHTNING_FOLD_WS", "1") != "0")
        return "fold-ws" if split else "fold"
    return "ws" if ws is True or isinstance(ws, str) else "tma"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("layout", ["bhtd", "bthd"])
@pytest.mark.parametrize("T", [1, 63, 64, 65, 203])
def test_prefill_matches_reference(dtype, layout, T):
    from llm.kernels import lightning_prefill as lp
    from llm.kernels.lightning_prefill import lightning_prefill

    H = 3
    # bf16: silu'd inputs as the model feeds them (MiniMax applies silu to q, k, v); Gaussian inputs are checked for
    # the exact mode in test_exact_precision_is_near_fp32_for_bf16_inputs (the fast mode reaches ~2e-3 there).
    (q, k, v), s0 = _inputs(T * 7 + H, 2, H, T, dtype, layout, silu=dtype == torch.bfloat16)
    slope = decay_slopes(H, 1, 4).to(DEV)
    ro, rs = lightning_block(*(_bhtd(x, layout).double() for x in (q, k, v)), slope, s0.double(), block_size=32)
    for prec in ("fast", "split-p", "exact") if dtype == torch.bfloat16 else ("fast",):
        o, st = lightning_prefill(q, k, v, slope, s0, layout=layout, out_dtype=torch.float32, precision=prec,
                                  block_t=BT)
        assert o.dtype == torch.float32 and st.dtype == torch.float32
        assert rel(_bhtd(o, layout), ro) <= TOL, prec
        assert rel(st, rs) <= TOL, prec
    # both kernels (TMA descriptors, pointers) and the launch-shape options (fused accumulators, decay applied to
    # v or to k, pipeline depth) give the reference's results
    for kw in ({"tma": True}, {"tma": False}, {"tma": True, "fuse_acc": False, "decay_v": False},
               {"tma": False, "fuse_acc": False, "decay_v": False},
               {"tma": True, "decay_v": True, "num_stages": 2}, {"tma": True, "fold": False},
               {"tma": True, "ws": False}, {"tma": True, "ws": True}):
        o, st = lightning_prefill(q, k, v, slope, s0, layout=layout, out_dtype=torch.float32, block_t=BT, **kw)
        assert rel(_bhtd(o, layout), ro) <= TOL and rel(st, rs) <= TOL, kw
        want = _path(dtype, kw["tma"], kw.get("fold"), "num_stages" in kw, "fuse_acc" in kw or "decay_v" in kw,
                     kw.get("ws"))
        assert lp.LAST_PATH == want, kw  # the asked-for kernel ran
    # default output dtype is the input dtype; no initial state means a zero state
    o, st = lightning_prefill(q, k, v, slope, layout=layout, block_t=BT)
    ro0, rs0 = lightning_recurrent(*(_bhtd(x, layout).double() for x in (q, k, v)), slope)
    assert o.dtype == dtype
    assert rel(_bhtd(o, layout), ro0) <= (4e-3 if dtype == torch.bfloat16 else TOL)
    assert rel(st, rs0) <= TOL


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("layout", ["bhtd", "bthd"])
def test_prefill_reads_views_into_a_fused_qkv_buffer(dtype, layout):
    """The model splits q, k, v from one projection ([B,T,H,3D]); the TMA kernel reads those views in place, and a
    tensor whose time rows do not map (a time slice of a longer batch) still runs, on the pointer kernel."""
    from llm.kernels import lightning_prefill as lp
    from llm.kernels.lightning_prefill import _row_map, lightning_prefill, tma_ready

    B, H, T = 2, 3, 203
    g = torch.Generator().manual_seed(4)
    qkv = F.silu(torch.randn(B, T + 9, H, 3 * D, generator=g)).to(dtype).to(DEV)
    s0 = torch.randn(B, H, D, D, generator=g).to(DEV)
    slope = decay_slopes(H, 1, 4).to(DEV)
    views = qkv.transpose(1, 2).split(D, dim=-1) if layout == "bhtd" else qkv.split(D, dim=-1)
    sliced = [x[:, :, :T] if layout == "bhtd" else x[:, :T] for x in views]  # time slice: no row map for B = 2
    for xs, mapped in ((views, True), (sliced, False)):
        t = xs[0].shape[2] if layout == "bhtd" else xs[0].shape[1]
        assert tma_ready(layout, t, H, *xs) is mapped
        assert (_row_map(xs[0], layout, t, H) is not None) is mapped
        ref_in = [(x if layout == "bhtd" else x.transpose(1, 2)).double() for x in xs]
        ro, rs = lightning_block(*ref_in, slope, s0.double(), block_size=32)
        o, st = lightning_prefill(*xs, slope, s0, layout=layout, out_dtype=torch.float32, block_t=BT, tma=True)
        assert lp.LAST_PATH == _path(dtype, mapped)
        assert rel(_bhtd(o, layout), ro) <= TOL and rel(st, rs) <= TOL, mapped


@pytest.mark.parametrize("layout", ["bhtd", "bthd"])
def test_fp32_inputs_take_the_folded_kernel_unless_a_slope_is_too_steep(layout):
    """fp32 inputs run a Gluon fold kernel (tf32) on Gaussian inputs, tails and an initial state; a slope whose
    scale factors would leave fp32's range sends the call to the Triton TMA kernel, with the same results."""
    from llm.kernels import lightning_prefill as lp
    from llm.kernels.lightning_prefill import lightning_prefill

    H, T = 4, 333
    (q, k, v), s0 = _inputs(21, 2, H, T, torch.float32, layout)
    ref_in = [_bhtd(x, layout).double() for x in (q, k, v)]
    gentle = decay_slopes(H, 0, 4).to(DEV)  # the steepest MiniMax slopes (layer 0)
    steep = torch.tensor([0.05, 0.5, 2.5, 8.0], device=DEV)  # λ^32 = e^-80, e^-256: outside the folded range
    for slope, path in ((gentle, _path(torch.float32, True)), (steep, "tma")):
        ro, rs = lightning_block(*ref_in, slope, s0.double(), block_size=64)
        o, st = lightning_prefill(q, k, v, slope, s0, layout=layout, block_t=BT, tma=True)
        assert lp.LAST_PATH == path
        assert torch.isfinite(o).all() and torch.isfinite(st).all()
        assert rel(_bhtd(o, layout), ro) <= TOL and rel(st, rs) <= TOL, path


def test_fold_slope_check_follows_the_tensor_not_its_address():
    """The slope range check is cached per tensor: a steep slope tensor at a freed one's address, or a slope
    tensor changed in place, is checked again (a stale "safe" would overflow the folded factors)."""
    from llm.kernels.lightning_prefill import fold_safe

    gentle = decay_slopes(4, 0, 4).to(DEV)
    assert fold_safe(gentle) and fold_safe(gentle)
    del gentle
    steep = torch.tensor([0.05, 0.5, 2.5, 8.0], device=DEV)  # may land where `gentle` was
    assert not fold_safe(steep)
    steep.clamp_(max=1.0)  # in place: a new version of the same tensor
    assert fold_safe(steep)


def test_bf16_precision_for_fp32_inputs_meets_the_bound_on_silu_inputs():
    """precision="bf16" rounds fp32 inputs to bf16 for the products: within 2e-3 on the model's silu'd inputs."""
    from llm.kernels.lightning_prefill import lightning_prefill

    H, T = 3, 203
    (q, k, v), s0 = _inputs(11, 2, H, T, torch.float32, silu=True)
    slope = decay_slopes(H, 1, 4).to(DEV)
    ro, rs = lightning_block(q.double(), k.double(), v.double(), slope, s0.double(), block_size=32)
    o, st = lightning_prefill(q, k, v, slope, s0, precision="bf16", block_t=BT)
    assert o.dtype == torch.float32
    assert rel(o, ro) <= TOL and rel(st, rs) <= TOL
    tf32, _ = lightning_prefill(q, k, v, slope, s0, block_t=BT)
    assert rel(o, tf32) > 0  # the products really ran in bf16, not tf32


def test_exact_precision_is_near_fp32_for_bf16_inputs():
    """With every intermediate split into two bf16 halves the error falls far below the fast path's."""
    from llm.kernels.lightning_prefill import lightning_prefill

    (q, k, v), _ = _inputs(3, 1, 2, 150, torch.bfloat16)
    slope = decay_slopes(2, 0, 4).to(DEV)
    ro, _ = lightning_block(q.double(), k.double(), v.double(), slope, block_size=64)
    fast, _ = lightning_prefill(q, k, v, slope, out_dtype=torch.float32, precision="fast", block_t=BT)
    exact, _ = lightning_prefill(q, k, v, slope, out_dtype=torch.float32, precision="exact", block_t=BT)
    assert rel(exact, ro) < 1e-4 < rel(fast, ro) < 5e-3


@pytest.mark.parametrize("tma", [True, False])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("segments", [2, 3, 7])
def test_two_level_scan_over_segments_equals_one_pass(dtype, segments, tma):
    """Splitting each sequence into segments run in parallel (for few heads) gives the same outputs and state (pass 2
    on the default kernel: the warp-partitioned one for bf16, the fold one for fp32)."""
    from llm.kernels import lightning_prefill as lp
    from llm.kernels.lightning_prefill import lightning_prefill

    H, T = 2, 211
    (q, k, v), s0 = _inputs(segments, 2, H, T, dtype, "bthd", silu=True)
    slope = decay_slopes(H, 3, 4).to(DEV)  # deep layer: slow decay, so early segments matter late
    ro, rs = lightning_block(*(x.transpose(1, 2).double() for x in (q, k, v)), slope, s0.double(), block_size=64)
    o, st = lightning_prefill(q, k, v, slope, s0, layout="bthd", out_dtype=torch.float32, segments=segments,
                              block_t=BT, tma=tma)
    assert lp.LAST_PATH == _path(dtype, tma)
    assert rel(o.transpose(1, 2), ro) <= TOL
    assert rel(st, rs) <= TOL


@pytest.mark.skipif(DEV != "cuda", reason="Gluon kernels do not run in Triton's interpreter")
@pytest.mark.parametrize("mode", [True, "plain", "noprep", "vt"])
@pytest.mark.parametrize("layout", ["bhtd", "bthd"])
@pytest.mark.parametrize("T", [1, 64, 65, 203])
def test_warp_partitioned_kernel_matches_reference(T, layout, mode):
    """lightning_prefill_ws (its schedules, among them the opt-in "vt": the state kept as Sᵀ): tails, both layouts,
    an initial state, bf16 or fp32 outputs,
    fp16 inputs, and the two-level scan's pass 2 (segments) against the fp64 reference."""
    from llm.kernels import lightning_prefill as lp

    H = 3
    (q, k, v), s0 = _inputs(T + 17, 2, H, T, torch.bfloat16, layout, silu=True)
    slope = decay_slopes(H, 1, 4).to(DEV)
    ro, rs = lightning_block(*(_bhtd(x, layout).double() for x in (q, k, v)), slope, s0.double(), block_size=32)
    for out_dtype, segments in ((torch.float32, None), (None, None), (torch.float32, 3)):
        o, st = lp.lightning_prefill(q, k, v, slope, s0, layout=layout, out_dtype=out_dtype, ws=mode,
                                     segments=segments)
        assert lp.LAST_PATH == "ws"
        tol = 4e-3 if out_dtype is None else TOL  # a bf16 o adds its own rounding
        assert rel(_bhtd(o, layout), ro) <= tol and rel(st, rs) <= TOL, (out_dtype, segments)
    o, st = lp.lightning_prefill(q.half(), k.half(), v.half(), slope, s0, layout=layout, out_dtype=torch.float32,
                                 ws=mode)
    ro, rs = lightning_block(*(_bhtd(x.half(), layout).double() for x in (q, k, v)), slope, s0.double(), 32)
    assert lp.LAST_PATH == "ws" and rel(_bhtd(o, layout), ro) <= TOL and rel(st, rs) <= TOL


@pytest.mark.skipif(DEV != "cuda", reason="Gluon kernels do not run in Triton's interpreter")
@pytest.mark.parametrize("layout", ["bhtd", "bthd"])
@pytest.mark.parametrize("T", [1, 64, 65, 203])
def test_warp_partitioned_fold_kernel_matches_reference(T, layout):
    """lightning_prefill_fold_ws (fp32 inputs, fold="ws"): tails, both layouts, an initial state and the two-level
    scan's pass 2 against the fp64 reference; a 16-bit o takes the Triton TMA kernel (the fold kernels stage o in fp32:
    a bf16 o failed to compile in the one-warpgroup kernel, H200 run H8)."""
    from llm.kernels import lightning_prefill as lp

    if torch.cuda.get_device_capability()[0] != 9:
        pytest.skip("the warp-partitioned kernels are Hopper-only")
    H = 3
    (q, k, v), s0 = _inputs(T + 29, 2, H, T, torch.float32, layout, silu=True)
    slope = decay_slopes(H, 1, 4).to(DEV)
    ro, rs = lightning_block(*(_bhtd(x, layout).double() for x in (q, k, v)), slope, s0.double(), block_size=32)
    for segments in (None, 3):
        o, st = lp.lightning_prefill(q, k, v, slope, s0, layout=layout, fold="ws", segments=segments)
        assert lp.LAST_PATH == "fold-ws"
        assert rel(_bhtd(o, layout), ro) <= TOL and rel(st, rs) <= TOL, segments
    o, st = lp.lightning_prefill(q, k, v, slope, s0, layout=layout, fold="ws", out_dtype=torch.bfloat16)
    assert lp.LAST_PATH == "tma" and o.dtype == torch.bfloat16
    assert rel(_bhtd(o, layout), ro) <= 4e-3 and rel(st, rs) <= TOL


@pytest.mark.skipif(DEV != "cuda", reason="the skip's loop bound comes from a load: Triton's interpreter cannot run it")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_state_skip_drops_only_rows_that_weigh_nothing(dtype):
    """state_skip: the two-level scan's segment-state pass walks only the last ⌈STATE_SKIP_LN / slope⌉ rows of a
    segment (whole blocks). Steep heads skip most of a segment, the shallowest none; o and the final state agree with
    the fp64 reference and, within rounding, with the full pass (fp32 inputs: the skipping pass runs on the Triton
    TMA kernel, the full one on the fold kernel)."""
    from llm.kernels import lightning_prefill as lp

    H, T, segments = 4, 9001, 4  # 2251-row segments; slopes 0.25 ... 0.0039: 111 ... 7098 rows kept
    (q, k, v), s0 = _inputs(41, 1, H, T, dtype, "bthd", silu=True)
    slope = decay_slopes(H, 0, 8).to(DEV)
    ro, rs = lightning_block(*(x.transpose(1, 2).double() for x in (q, k, v)), slope, s0.double(), block_size=64)
    ofull, sfull = lp.lightning_prefill(q, k, v, slope, s0, layout="bthd", out_dtype=torch.float32,
                                        segments=segments, state_skip=False)
    o, st = lp.lightning_prefill(q, k, v, slope, s0, layout="bthd", out_dtype=torch.float32, segments=segments,
                                 state_skip=True)
    assert rel(o.transpose(1, 2), ro) <= TOL and rel(st, rs) <= TOL
    near = 1e-4 if dtype == torch.bfloat16 else TOL  # fp32: the full pass is the fold kernel's (other tf32 products)
    assert rel(o, ofull) <= near and rel(st, sfull) <= near


@pytest.mark.parametrize("reverse", [False, True])
def test_varlen_packed_sequences_each_get_their_own_state(reverse):
    from llm.kernels import lightning_prefill as lp
    from llm.kernels.lightning_prefill import lightning_prefill

    H, lens = 2, [5, 40, 0, 17, 33]
    cu = torch.tensor([0] + torch.tensor(lens).cumsum(0).tolist(), dtype=torch.int32, device=DEV)
    (q, k, v), _ = _inputs(11, 1, H, sum(lens), torch.bfloat16, "bthd", silu=True)
    s0 = torch.randn(len(lens), H, D, D, generator=torch.Generator().manual_seed(5)).to(DEV)
    slope = decay_slopes(H, 0, 2).to(DEV)
    o, st = lightning_prefill(q, k, v, slope, s0, layout="bthd", cu_seqlens=cu, out_dtype=torch.float32,
                              reverse=reverse, block_t=BT, tma=True)
    assert lp.LAST_PATH == "pointer"  # packed sequences (and reverse scans) always take the pointer kernel
    for i, n in enumerate(lens):
        a, b = int(cu[i]), int(cu[i + 1])
        seg = [x[:, a:b].transpose(1, 2).double() for x in (q, k, v)]
        if reverse:
            seg = [x.flip(2) for x in seg]
        ro, rs = lightning_recurrent(*seg, slope, s0[i:i + 1].double())
        if reverse:
            ro = ro.flip(2)
        if n:
            assert rel(o[:, a:b].transpose(1, 2), ro) <= TOL
        assert rel(st[i:i + 1], rs) <= TOL  # an empty sequence keeps its initial state


@pytest.mark.parametrize("opts", [{}, {"pdl": True}, {"kernel": "triton"}, {"kernel": "triton", "order": "tile"},
                                  {"kernel": "gl"}, {"kernel": "gl", "order": "bh", "hoist": False},
                                  {"kernel": "gl", "block_v": 64, "num_warps": 4, "order": "tile", "hoist": True},
                                  {"kernel": "gl", "block_v": 8, "num_warps": 8, "order": "bh"}])
def test_decode_updates_only_its_slots(opts):
    """Both kernels (Triton; Gluon, the default on Hopper, whose padding rows are masked rather than branched around;
    under Triton's interpreter kernel="gl" runs the Triton kernel), also with programmatic dependent launch."""
    from llm.kernels.lightning_decode import lightning_decode_step

    if opts.get("pdl") and DEV != "cuda":
        pytest.skip("griddepcontrol needs a GPU")

    B, H = 4, 3
    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(B, H, D, generator=g).to(torch.bfloat16).to(DEV) for _ in range(3))
    pool = torch.randn(6, H, D, D, generator=g).to(DEV)
    slots = torch.tensor([4, -1, 0, 2], dtype=torch.int32, device=DEV)
    slope = decay_slopes(H, 2, 4).to(DEV)
    before = pool.clone()
    o = lightning_decode_step(q, k, v, slope, pool, slots, **opts)
    live = [0, 2, 3]
    ro, rs = ref_decode(q[live].double(), k[live].double(), v[live].double(), slope, before[[4, 0, 2]].double())
    assert rel(o[live], ro) <= TOL
    assert rel(pool[[4, 0, 2]], rs) <= TOL
    assert torch.equal(pool[[1, 3, 5]], before[[1, 3, 5]])  # padding row (slot -1) and unused slots untouched


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a GPU")
def test_decode_replays_under_cuda_graph():
    from llm.kernels.lightning_decode import lightning_decode_step

    B, H = 8, 4
    slope = decay_slopes(H, 0, 2).cuda()
    q, k, v = (torch.randn(B, H, D, device="cuda") for _ in range(3))
    pool = torch.randn(B, H, D, D, device="cuda")
    slots = torch.arange(B, device="cuda", dtype=torch.int32)
    out = torch.empty(B, H, D, device="cuda")
    lightning_decode_step(q, k, v, slope, pool.clone(), slots, out)  # compile outside the capture
    graph = torch.cuda.CUDAGraph()
    start = pool.clone()
    with torch.cuda.graph(graph):
        lightning_decode_step(q, k, v, slope, pool, slots, out)
    pool.copy_(start)
    state = start.double()
    for _ in range(3):  # new token contents each replay, state carried in the pool
        for x in (q, k, v):
            x.copy_(torch.randn_like(x))
        graph.replay()
        ro, state = ref_decode(q.double(), k.double(), v.double(), slope, state)
        assert rel(out, ro) <= TOL
    assert rel(pool, state) <= TOL


@pytest.mark.parametrize("dtype,tol", [(torch.float32, TOL), (torch.bfloat16, 1e-2)])
def test_backward_matches_reference_autograd(dtype, tol):
    from llm.kernels.lightning_train import lightning_attention_train

    B, H, T = 2, 2, 77
    (q, k, v), s0 = _inputs(21, B, H, T, dtype)
    slope = decay_slopes(H, 1, 3).to(DEV)
    leaves64 = [x.double().requires_grad_() for x in (q, k, v, s0)]
    ro, rs = lightning_recurrent(*leaves64[:3], slope, leaves64[3])
    g = torch.Generator().manual_seed(9)
    do, dst = torch.randn(ro.shape, generator=g).to(DEV), torch.randn(rs.shape, generator=g).to(DEV)
    ref = torch.autograd.grad((ro * do).sum() + (rs * dst).sum(), leaves64)
    leaves = [x.clone().requires_grad_() for x in (q, k, v, s0)]
    o, st = lightning_attention_train(*leaves[:3], slope, leaves[3])
    got = torch.autograd.grad((o * do.float()).sum() + (st * dst.float()).sum(), leaves)
    for name, a, b in zip(("dq", "dk", "dv", "dS0"), got, ref):
        assert a.dtype == (dtype if name != "dS0" else torch.float32)
        assert rel(a, b) <= tol, name


@pytest.mark.skipif(not torch.cuda.is_available(), reason="the dispatch routes CUDA tensors only")
def test_model_dispatch_uses_kernel_on_cuda_and_matches_reference():
    import llm.kernels
    from llm.lightning import lightning_attention, registered_kernel

    assert llm.kernels.register()
    assert registered_kernel("cuda") is llm.kernels.cuda_lightning_attention
    (q, k, v), s0 = _inputs(4, 2, 4, 300, torch.bfloat16, silu=True)
    slope = decay_slopes(4, 0, 4).cuda()
    o, st = lightning_attention(q, k, v, slope, s0)
    ro, rs = lightning_block(q.double(), k.double(), v.double(), slope, s0.double())
    assert o.dtype == torch.float32 and rel(o, ro) <= TOL and rel(st, rs) <= TOL
    o1, st1 = lightning_attention(q[:, :, :1], k[:, :, :1], v[:, :, :1], slope, st)  # one token: decode kernel
    ro1, rs1 = ref_decode(q[:, :, 0].double(), k[:, :, 0].double(), v[:, :, 0].double(), slope, st.double())
    assert o1.shape == (2, 4, 1, D) and rel(o1[:, :, 0], ro1) <= TOL and rel(st1, rs1) <= TOL


def test_selfcheck_command_core_passes_on_this_device():
    """What `fep-motion kernels check` runs: every kernel within 2e-3 of the fp64 reference."""
    from llm.kernels.selfcheck import run_selfcheck

    size = ({"seq_len": 1000, "heads": 8, "head_dim": 128} if DEV == "cuda"
            else {"seq_len": 90, "heads": 2, "head_dim": 32})
    results = run_selfcheck(**size, device=DEV)
    assert len(results) == 8 and all(r.ok for r in results), [r for r in results if not r.ok]


@pytest.mark.parametrize("order,kernel", [("bh", "triton"), ("tile", "triton"), ("vllm", None), ("bh", "gl"),
                                          ("tile", "gl")])
def test_decode_without_slot_table_in_every_program_order(order, kernel):
    """slots=None: sequence b owns pool row b (the model's contract); rows past B stay untouched in every grid order."""
    from llm.kernels.lightning_decode import lightning_decode_step

    B, H = 3, 5
    g = torch.Generator().manual_seed(7)
    q, k, v = (torch.randn(B, H, D, generator=g).to(torch.bfloat16).to(DEV) for _ in range(3))
    pool = torch.randn(B + 1, H, D, D, generator=g).to(DEV)
    slope = decay_slopes(H, 1, 4).to(DEV)
    before = pool.clone()
    o = lightning_decode_step(q, k, v, slope, pool, None, block_v=D // 2, num_warps=2, order=order, kernel=kernel)
    ro, rs = ref_decode(q.double(), k.double(), v.double(), slope, before[:B].double())
    assert rel(o, ro) <= 1e-5 and rel(pool[:B], rs) <= 1e-5  # fp32 arithmetic throughout
    assert torch.equal(pool[B:], before[B:])


@pytest.mark.skipif(DEV != "cuda", reason="3xTF32 products need the GPU's tensor cores")
@pytest.mark.parametrize("layout", ["bhtd", "bthd"])
def test_ieee_precision_gives_fp32_accuracy_for_fp32_inputs(layout):
    """The default for fp32 inputs is tf32 (about 1e-3); precision="ieee" must reach fp32-level error on any input."""
    from llm.kernels import lightning_prefill as lp

    (q, k, v), s0 = _inputs(11, 2, 4, 333, torch.float32, layout)
    slope = decay_slopes(4, 0, 2).to(DEV)
    ro, rs = lightning_block(*(_bhtd(x, layout).double() for x in (q, k, v)), slope, s0.double(), 64)
    fast, _ = lp.lightning_prefill(q, k, v, slope, s0, layout=layout)
    ieee, st = lp.lightning_prefill(q, k, v, slope, s0, layout=layout, precision="ieee")
    assert lp.LAST_PATH == "tma"
    err_fast, err_ieee = rel(_bhtd(fast, layout), ro), rel(_bhtd(ieee, layout), ro)
    assert err_ieee <= 2e-5 and rel(st, rs) <= 2e-5
    assert err_ieee < err_fast / 10
