"""Benchmark: Triton lightning-attention kernels vs fla chunk_simple_gla, SDPA and the HBM floor, on one GPU.

Prints (1) correctness of every kernel against the fp64 PyTorch reference on fresh random inputs, (2) a variant sweep
of the prefill kernel (SWEEP, each variant in its own process), (3) the kernel table: prefill T in
{4K,16K,64K,128K} at B=1 H=64 D=128 and T=1M at H=8, bf16 and fp32 inputs, decode B in {1,8,64} at H=64 D=128 (fp32
state; beside a bare copy of the state bytes and an empty kernel in the same CUDA graph), with the copy-bandwidth
floor measured in the same run and ratios. Run it through bench/device_kernels.sh on the lent GPU (the table's header
names the card).
Usage: python bench/lightning_gpu.py [--quick] [--json OUT.json] [--skip-sdpa] [--variants [--sweep-cases fp32]]
       [--only-sweep] [--no-check] [--no-decode] [--decode-sweep-b 1] [--precision fast|split-p|exact] [--smoke-ws]
       [--smoke-fold-ws] [--check-long]
Environment: TABLE_CASES="131072:64,1048576:8" limits the table to those T:H rows; LIGHTNING_ALT='{"state_skip":
false}' times those lightning_prefill kwargs beside every row (alt_ms, alt_again_ms); CHECK_LONG_ALL=1 adds the
opt-in ws schedules to --check-long.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from functools import partial

import torch
import torch.nn.functional as F

FAILURES: list[str] = []


@dataclass
class Row:
    """One timed case: our kernel and its peers, milliseconds (nan = not run)."""

    case: str
    ours_ms: float
    floor_ms: float
    fla_ms: float = math.nan
    sdpa_ms: float = math.nan
    ref_ms: float = math.nan
    extra: dict = field(default_factory=dict)


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """‖a − b‖ / ‖b‖ in fp64 (nan-propagating: a NaN anywhere fails every check)."""
    a64, b64 = a.double(), b.double()
    return float((a64 - b64).norm() / b64.norm().clamp_min(1e-300))


def check(name: str, err: float, tol: float) -> None:
    ok = err <= tol  # NaN compares False
    print(f"  {'ok  ' if ok else 'FAIL'} {name:<58s} rel err {err:.2e} (tol {tol:.0e})", flush=True)
    if not ok:
        FAILURES.append(f"{name}: {err:.2e} > {tol:.0e}")


def bench_ms(fn, warmup: int = 25, rep: int = 100) -> float:
    """Median time of fn in ms with CUDA events (triton.testing.do_bench)."""
    import triton.testing

    return float(triton.testing.do_bench(fn, warmup=warmup, rep=rep, return_mode="median"))


def copy_bandwidth() -> float:
    """Device copy bandwidth in bytes/s (bytes read + written), from a 4 GiB device-to-device copy."""
    src = torch.randn(2**29, device="cuda")  # 2 GiB fp32
    dst = torch.empty_like(src)
    ms = bench_ms(lambda: dst.copy_(src))
    return 2 * 2**29 * 4 / (ms * 1e-3)


def slopes(h: int) -> torch.Tensor:
    from llm.lightning import decay_slopes

    return decay_slopes(h, 0, 8).cuda()  # MiniMax slopes of the first layer (the slowest-decaying heads)


def qkv(B: int, T: int, H: int, D: int, dtype: torch.dtype, layout: str, act: bool = True):
    """Fresh random inputs; silu as in the model (MiniMax lightning layer applies silu to q, k, v)."""
    shape = (B, T, H, D) if layout == "bthd" else (B, H, T, D)
    out = []
    for _ in range(3):
        x = torch.randn(shape, device="cuda", dtype=dtype)
        out.append(F.silu(x) if act else x)
    return out


# ----------------------------------------------------------------------------------------------------- correctness
def correctness() -> None:
    from llm.kernels import lightning_prefill as lp
    from llm.kernels.lightning_decode import lightning_decode, lightning_decode_step
    from llm.kernels.lightning_prefill import lightning_prefill
    from llm.kernels.lightning_train import lightning_attention_train
    from llm.lightning import lightning_block
    from llm.lightning import lightning_decode as ref_decode

    print("correctness vs fp64 reference (fresh random inputs, outputs poisoned with NaN first):", flush=True)
    H, D = 64, 128
    sl = slopes(H)
    for dtype, prec_list in ((torch.bfloat16, ("fast", "split-p", "exact")), (torch.float32, ("fast", "bf16", "ieee"))):
        for layout in ("bhtd", "bthd"):
            for act in (True, False):
                T = 4099
                q, k, v = qkv(2, T, H, D, dtype, layout, act)
                s0 = torch.randn(2, H, D, D, device="cuda")
                tr = (lambda x: x) if layout == "bhtd" else (lambda x: x.transpose(1, 2))
                ro, rs = lightning_block(tr(q).double(), tr(k).double(), tr(v).double(), sl, s0.double(), 256)
                # the defaults (fold kernel for fp32, TMA kernel for 16-bit), the pointer kernel with its launch-shape
                # options, and the Triton TMA kernel with the decay on k (fold off: what fp32 takes for steep slopes)
                combos = ([(p, None) for p in prec_list] + [(p, "ptr") for p in prec_list]
                          + [(prec_list[0], o) for o in ("ptr+fuse-off", "ptr decay-k", "tma decay-k", "tma ws-off",
                                                         "ws s4", "ws pipe", "ws plain")]
                          + [(prec_list[0], o) for o in ("ws noprep", "ws vt")
                             if os.environ.get("LIGHTNING_WS_NEW", "1") != "0"]
                          + [(prec_list[0], o) for o in ("fold ws", "fold one")
                             if dtype == torch.float32 and _fold_ws_ok()])
                for prec, opt in combos:
                    kw = {None: {}, "ptr": {"tma": False}, "ptr+fuse-off": {"tma": False, "fuse_acc": False},
                          "ptr decay-k": {"tma": False, "decay_v": False},
                          "tma decay-k": {"decay_v": False, "fold": False}, "tma ws-off": {"ws": False},
                          "ws s4": {"ws": True, "num_stages": 4}, "ws pipe": {"ws": "pipe"},
                          "ws plain": {"ws": "plain"}, "ws noprep": {"ws": "noprep"}, "ws vt": {"ws": "vt"},
                          "fold ws": {"fold": "ws"}, "fold one": {"fold": True}}[opt]
                    o, st = lightning_prefill(q, k, v, sl, s0, layout=layout, out_dtype=torch.float32,
                                              precision=prec, **kw)
                    tag = (f"prefill {str(dtype)[6:]} {layout} {'silu' if act else 'randn'} T={T} {prec}"
                           + (f" {opt}" if opt else "") + f" [{lp.LAST_PATH}]")
                    # known and documented: "fast" reaches ~2.05e-3 on N(0,1) inputs (runs 1-3); split-p meets 2e-3.
                    # fp32 inputs with bf16 products (opt-in "bf16"): the interpreter gives 3.5e-3 on N(0,1), so loose
                    loose = not act and ((prec == "fast" and dtype == torch.bfloat16) or prec == "bf16")
                    tol = 2e-5 if prec == "ieee" else 2e-3  # ieee: fp32-level (3xTF32 products)
                    check(tag + " o", rel_err(tr(o), ro), (5e-3 if prec == "bf16" else 3e-3) if loose else tol)
                    check(tag + " state", rel_err(st, rs), 5e-3 if loose and prec == "bf16" else tol)
                o, _ = lightning_prefill(q, k, v, sl, s0, layout=layout)
                check(f"prefill {str(dtype)[6:]} {layout} {'silu' if act else 'randn'} out={str(dtype)[6:]}",
                      rel_err(tr(o), ro), 4e-3 if dtype == torch.bfloat16 else 2e-3)
                del q, k, v, ro, rs
    # few heads: the two-level scan over segments (auto-picked) against the reference
    for dtype in (torch.bfloat16, torch.float32):
        q, k, v = qkv(2, 20000, 8, D, dtype, "bthd")
        s0 = torch.randn(2, 8, D, D, device="cuda")
        sl8 = slopes(8)
        ro, rs = lightning_block(*(x.transpose(1, 2).double() for x in (q, k, v)), sl8, s0.double(), 256)
        o, st = lightning_prefill(q, k, v, sl8, s0, layout="bthd", out_dtype=torch.float32)
        check(f"prefill {str(dtype)[6:]} H=8 T=20000 auto segments o", rel_err(o.transpose(1, 2), ro), 2e-3)
        check(f"prefill {str(dtype)[6:]} H=8 T=20000 auto segments state", rel_err(st, rs), 2e-3)
    # variable lengths in one launch, with initial states, reversed too
    lens = [1, 700, 0, 2049, 63, 64, 65]
    cu = torch.tensor([0] + torch.tensor(lens).cumsum(0).tolist(), device="cuda", dtype=torch.int32)
    for dtype in (torch.bfloat16, torch.float32):
        q, k, v = qkv(1, sum(lens), H, D, dtype, "bthd")
        s0 = torch.randn(len(lens), H, D, D, device="cuda")
        for rev in (False, True):
            o, st = lightning_prefill(q, k, v, sl, s0, layout="bthd", cu_seqlens=cu, out_dtype=torch.float32,
                                      reverse=rev)
            errs_o, errs_s = [], []
            for i, _ in enumerate(lens):
                a, b = int(cu[i]), int(cu[i + 1])
                sq = [x[:, a:b].transpose(1, 2).double() for x in (q, k, v)]
                if rev:
                    sq = [x.flip(2) for x in sq]
                ro, rs = lightning_block(*sq, sl, s0[i:i + 1].double(), 64)
                if rev:
                    ro = ro.flip(2)
                if b > a:
                    errs_o.append(rel_err(o[:, a:b].transpose(1, 2), ro))
                errs_s.append(rel_err(st[i:i + 1], rs))
            check(f"prefill varlen {str(dtype)[6:]} {lens} reverse={rev} o (max)", max(errs_o), 2e-3)
            check(f"prefill varlen {str(dtype)[6:]} reverse={rev} state (max)", max(errs_s), 2e-3)
    # decode: pool with slots, a padding row, untouched slots stay untouched
    for B in (1, 8, 64):
        q, k, v = (torch.randn(B, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        pool = torch.randn(B + 3, H, D, D, device="cuda")
        slots = torch.randperm(B + 3, device="cuda")[:B].to(torch.int32)
        if B > 1:
            slots[1] = -1
        before = pool.clone()
        out = torch.full((B, H, D), float("nan"), device="cuda")
        lightning_decode_step(q, k, v, sl, pool, slots, out)
        live = slots >= 0
        ro, rs = ref_decode(q[live].double(), k[live].double(), v[live].double(), sl.double(),
                            before[slots[live].long()].double())
        check(f"decode B={B} o", rel_err(out[live], ro), 2e-3)
        check(f"decode B={B} state", rel_err(pool[slots[live].long()], rs), 2e-3)
        untouched = torch.ones(B + 3, dtype=torch.bool, device="cuda")
        untouched[slots[live].long()] = False
        check(f"decode B={B} other slots unchanged", float((pool[untouched] != before[untouched]).sum()), 0.0)
        for order in ("bh", "tile", "vllm"):  # every program order, without a slot table (pool row b)
            for kern in ("gl", "triton"):  # the Gluon kernel (the default on Hopper) and the Triton one
                pool2 = before[:B].clone()
                lightning_decode_step(q, k, v, sl, pool2, None, out, block_v=32, num_warps=2, order=order,
                                      kernel=kern)
                ro2, rs2 = ref_decode(q.double(), k.double(), v.double(), sl.double(), before[:B].double())
                check(f"decode B={B} no slots order={order} {kern}", max(rel_err(out, ro2), rel_err(pool2, rs2)),
                      2e-3)
        pool3 = before.clone()  # the Triton kernel with the slot table too
        lightning_decode_step(q, k, v, sl, pool3, slots, out, kernel="triton")
        check(f"decode B={B} triton kernel", max(rel_err(out[live], ro), rel_err(pool3[slots[live].long()], rs)),
              2e-3)
    from bench.vllm_decode_peer import _check as peer_check

    peer_check()
    o1, s1 = lightning_decode(q, k, v, sl, before[:B])
    ro1, rs1 = ref_decode(q.double(), k.double(), v.double(), sl.double(), before[:B].double())
    check("decode (reference contract)", max(rel_err(o1, ro1), rel_err(s1, rs1)), 2e-3)
    # training path: gradients against autograd through the fp64 reference
    for dtype, tol in ((torch.float32, 2e-3), (torch.bfloat16, 1e-2)):
        Hs, T = 8, 515
        sls = slopes(Hs)
        q, k, v = (torch.randn(2, Hs, T, D, device="cuda", dtype=dtype) for _ in range(3))
        s0 = torch.randn(2, Hs, D, D, device="cuda")
        leaves64 = [x.double().requires_grad_() for x in (q, k, v, s0)]
        ro, rs = lightning_block(*leaves64[:3], sls, leaves64[3], 64)
        do, dst = torch.randn_like(ro), torch.randn_like(rs)
        ref = torch.autograd.grad((ro * do).sum() + (rs * dst).sum(), leaves64)
        leaves = [x.clone().requires_grad_() for x in (q, k, v, s0)]
        o, st = lightning_attention_train(*leaves[:3], sls, leaves[3])
        got = torch.autograd.grad((o * do.float()).sum() + (st * dst.float()).sum(), leaves)
        for name, g, r in zip(("dq", "dk", "dv", "dS0"), got, ref):
            check(f"backward {str(dtype)[6:]} {name}", rel_err(g, r), tol)


def check_long() -> None:
    """T = 1M at H = 8 (the two-level scan) against the fp64 reference: the auto segment count, 16 segments and one
    pass, bf16 (the ws kernel's schedules) and fp32 (the fold kernel). Slopes of the first layer (steep: the carried
    state underflows across a 64K-row segment, so only the in-segment scan is tested) and of the last (λ^SEG ≈ 1:
    every segment's start state matters)."""
    from llm.kernels import lightning_prefill as lp
    from llm.lightning import decay_slopes, lightning_block

    print("long scans vs fp64 reference (T = 1M, H = 8, [B,T,H,D], fp32 o):", flush=True)
    T, H = 1 << 20, 8
    for dtype in (torch.bfloat16, torch.float32):
        torch.manual_seed(1)
        q, k, v = qkv(1, T, H, 128, dtype, "bthd")
        s0 = torch.randn(1, H, 128, 128, device="cuda")
        for layer in (0, 7):
            sl = decay_slopes(H, layer, 8).cuda()
            ro, rs = lightning_block(*(x.transpose(1, 2).double() for x in (q, k, v)), sl, s0.double(), 256)
            variants = [{}, {"state_skip": False}, {"segments": 8}, {"segments": 1}]  # ({}: 16 segments, state_skip)
            if dtype == torch.bfloat16 and os.environ.get("CHECK_LONG_ALL"):  # the opt-in schedules too
                variants += [{"ws": "noprep"}, {"ws": "vt"}]
            for kw in variants:
                o, st = lp.lightning_prefill(q, k, v, sl, s0, layout="bthd", out_dtype=torch.float32, **kw)
                tag = (f"long {str(dtype)[6:]} T=1M H=8 layer {layer} "
                       + (" ".join(f"{a}={b}" for a, b in kw.items()) or "default") + f" [{lp.LAST_PATH}]")
                # slopes of the last layer: over 1M nearly undecayed rows the rounding of S_i (bf16, "fast") or of the
                # tf32 products builds up; the one-pass launch (segments=1) is the yardstick printed beside the others
                # fp32 (tf32 products), last layer: one pass over 1M rows reached 3.1e-3 in run H6, 16 segments 1.7e-3
                tol = 2e-3 if layer == 0 else 4e-3
                check(tag + " o", rel_err(o.transpose(1, 2), ro), tol)
                check(tag + " state", rel_err(st, rs), tol)
                del o, st
            del ro, rs
            torch.cuda.empty_cache()
        del q, k, v


def _fold_ws_ok() -> bool:
    """Whether this call runs lightning_prefill_fold_ws (bench/device_kernels.sh sets LIGHTNING_FOLD_WS_OK=0 when its
    smoke test failed)."""
    return os.environ.get("LIGHTNING_FOLD_WS_OK", "1") != "0"


def smoke_fold_ws() -> int:
    """The warp-partitioned fp32 fold kernel (lightning_prefill_fold_ws, the fp32 default) against the fp64 reference
    and beside the one-warpgroup fold kernel on small shapes: tails, both layouts, an initial state, Dk = Dv = 64, the
    two-level scan's pass 2. Run in its own process under a timeout; a failure keeps it out of the rest of the call."""
    from llm.kernels import lightning_prefill as lp
    from llm.lightning import lightning_block

    bad = 0
    for layout, B, H, T, D, segs in (("bthd", 2, 4, 1, 128, None), ("bthd", 2, 4, 64, 128, None),
                                     ("bthd", 2, 4, 203, 128, None), ("bhtd", 2, 4, 4099, 128, None),
                                     ("bthd", 1, 4, 1000, 64, None), ("bthd", 1, 8, 20000, 128, 4)):
        q, k, v = qkv(B, T, H, D, torch.float32, layout)
        s0 = torch.randn(B, H, D, D, device="cuda")
        sl = slopes(H)
        tr = (lambda x: x) if layout == "bhtd" else (lambda x: x.transpose(1, 2))
        ro, rs = lightning_block(tr(q).double(), tr(k).double(), tr(v).double(), sl, s0.double(), 64)
        of, sf = lp.lightning_prefill(q, k, v, sl, s0, layout=layout, fold=True, segments=segs)
        o, st = lp.lightning_prefill(q, k, v, sl, s0, layout=layout, fold="ws", segments=segs)
        torch.cuda.synchronize()
        eo, es = rel_err(tr(o), ro), rel_err(st, rs)
        ok = eo <= 2e-3 and es <= 2e-3 and lp.LAST_PATH == "fold-ws"
        bad += not ok
        print(f"  smoke fold=ws fp32 {layout} B={B} H={H} T={T} D={D} segments={segs}: o {eo:.2e} state {es:.2e} "
              f"[{lp.LAST_PATH}]; vs fold kernel o {rel_err(o, of):.1e} state {rel_err(st, sf):.1e} "
              f"{'ok' if ok else 'FAIL'}", flush=True)
    return 1 if bad else 0


def smoke_ws(modes: str = "") -> int:
    """The warp-partitioned Gluon kernel (lightning_prefill_ws) against the fp64 reference on small shapes: tails,
    both layouts, an initial state, fp16, and the two-level scan's pass 2. Run first, in its own process under a
    timeout (bench/device_kernels.sh), so that a hang or a wrong result turns the kernel off for the rest of the
    call."""
    from llm.kernels import lightning_prefill as lp
    from llm.lightning import lightning_block

    bad = 0
    for dtype, layout, B, H, T, segs in ((torch.bfloat16, "bthd", 2, 4, 1, None),
                                         (torch.bfloat16, "bthd", 2, 4, 64, None),
                                         (torch.bfloat16, "bthd", 2, 4, 203, None),
                                         (torch.bfloat16, "bhtd", 2, 4, 4099, None),
                                         (torch.float16, "bthd", 1, 4, 1000, None),
                                         (torch.bfloat16, "bthd", 1, 8, 20000, 4)):
        q, k, v = qkv(B, T, H, 128, dtype, layout)
        s0 = torch.randn(B, H, 128, 128, device="cuda")
        sl = slopes(H)
        tr = (lambda x: x) if layout == "bhtd" else (lambda x: x.transpose(1, 2))
        ro, rs = lightning_block(tr(q).double(), tr(k).double(), tr(v).double(), sl, s0.double(), 64)
        # the default schedule first (a failure there turns the kernel off)
        for mode in [True if m == "default" else m for m in (modes or "default,plain,pipe").split(",")]:
            o, st = lp.lightning_prefill(q, k, v, sl, s0, layout=layout, out_dtype=torch.float32, ws=mode,
                                         segments=segs)
            torch.cuda.synchronize()
            eo, es = rel_err(tr(o), ro), rel_err(st, rs)
            ok = eo <= 2e-3 and es <= 2e-3 and lp.LAST_PATH == "ws"
            bad += not ok and (mode is True or bool(modes))
            print(f"  smoke ws={mode} {str(dtype)[6:]} {layout} B={B} H={H} T={T} segments={segs}: o {eo:.2e} "
                  f"state {es:.2e} [{lp.LAST_PATH}] {'ok' if ok else 'FAIL'}", flush=True)
    return 1 if bad else 0


def model_check() -> None:
    """The model's GPU path (kernels registered) against its CPU reference: logits of a prefill and of decode steps."""

    print("model logits, GPU (Triton kernels) vs CPU reference:", flush=True)
    try:
        import llm.kernels
        from llm.config import preset
        from llm.model import MiniMaxForCausalLM
    except Exception as exc:  # noqa: BLE001 - the model is another engineer's; report and go on
        print(f"  skipped: llm.model unavailable ({exc})")
        return
    assert llm.kernels.register() and os.environ.get("FEP_MOTION_NO_KERNELS") != "1"
    cfg = preset("small")
    model = MiniMaxForCausalLM(cfg)
    model.init_weights(0)
    model.eval()
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, cfg.vocab_size, (2, 700), generator=g)
    steps = torch.randint(0, cfg.vocab_size, (2, 4), generator=g)

    def run(m, dev):
        with torch.no_grad():
            cache = m.new_cache()
            out = [m(ids.to(dev), cache=cache).logits.float().cpu()]
            for i in range(steps.shape[1]):
                out.append(m(steps[:, i:i + 1].to(dev), cache=cache).logits.float().cpu())
        return torch.cat(out, dim=1)

    ref = run(model, "cpu")
    for dtype, tol in ((torch.float32, 2e-3), (torch.bfloat16, 3e-2)):
        m = MiniMaxForCausalLM(cfg)
        m.load_state_dict(model.state_dict())
        m = m.to("cuda", dtype).eval()
        got = run(m, "cuda")
        check(f"model 'small' logits on cuda {str(dtype)[6:]} (prefill 700 + 4 decode) vs CPU fp32", rel_err(got, ref),
              tol)
        if dtype == torch.bfloat16:  # isolate the kernels: same bf16 model on the GPU with the PyTorch reference
            from llm.lightning import register_kernel

            register_kernel("cuda", None)
            got_ref = run(m, "cuda")
            llm.kernels.register()
            check("model 'small' bf16 cuda: kernels vs PyTorch reference on cuda", rel_err(got, got_ref), tol)
            print(f"  (bf16 GPU reference path vs CPU fp32: {rel_err(got_ref, ref):.2e})")
        del m
    torch.cuda.empty_cache()


# ----------------------------------------------------------------------------------------------------------- timing
def fla_fn(q, k, v, sl):
    from fla.ops.simple_gla import chunk_simple_gla

    g = (-sl).float()
    return lambda: chunk_simple_gla(q, k, v, g_gamma=g, scale=1.0, output_final_state=True)


def prefill_rows(bw: float, quick: bool, skip_sdpa: bool, precision: str) -> list[Row]:
    from llm.kernels.lightning_prefill import lightning_prefill

    try:
        import fla  # noqa: F401
        have_fla = True
    except Exception as exc:  # noqa: BLE001 - report and go on without the peer
        print(f"fla unavailable: {exc}")
        have_fla = False
    cases = [(4096, 64), (16384, 64), (65536, 64), (131072, 64), (1 << 20, 8)]
    if quick:
        cases = [(16384, 64), (131072, 64)]
    if os.environ.get("TABLE_CASES"):  # e.g. "131072:64,1048576:8": only these rows
        cases = [tuple(int(x) for x in c.split(":")) for c in os.environ["TABLE_CASES"].split(",")]
    rows = []
    for dtype in (torch.bfloat16, torch.float32):
        # LIGHTNING_ALT: lightning_prefill kwargs (JSON) timed beside every row of this dtype, e.g. {"ws": "vt"};
        # keys that do not apply to the dtype are dropped (ws for fp32)
        alt = json.loads(os.environ.get("LIGHTNING_ALT", "{}"))
        if dtype == torch.float32:
            alt.pop("ws", None)
        for T, H in cases:
            D = 128
            q, k, v = qkv(1, T, H, D, dtype, "bthd")
            sl = slopes(H)
            nbytes = 4 * q.numel() * q.element_size()
            floor = nbytes / bw * 1e3
            ours = bench_ms(lambda q=q, k=k, v=v, sl=sl: lightning_prefill(q, k, v, sl, layout="bthd",
                                                                           precision=precision))
            row = Row(f"prefill {str(dtype)[6:]} T={T // 1024}K H={H}", ours, floor)
            if alt:  # the alternative timed right after ours (and again at the row's end)
                row.extra["alt_ms"] = bench_ms(lambda q=q, k=k, v=v, sl=sl, alt=alt: lightning_prefill(
                    q, k, v, sl, layout="bthd", precision=precision, **alt))
            if dtype == torch.float32 and T <= 131072:  # the fp32-accurate mode's cost (3xTF32, Triton TMA kernel)
                row.extra["ieee_ms"] = bench_ms(lambda q=q, k=k, v=v, sl=sl: lightning_prefill(
                    q, k, v, sl, layout="bthd", precision="ieee"))
            if dtype == torch.float32 and _fold_ws_ok():  # the one-warpgroup fold kernel (the default before H8)
                row.extra["fold_one_warpgroup_ms"] = bench_ms(lambda q=q, k=k, v=v, sl=sl: lightning_prefill(
                    q, k, v, sl, layout="bthd", precision=precision, fold=True))
            o_ours, st_ours = lightning_prefill(q, k, v, sl, layout="bthd", precision=precision)
            if have_fla:
                try:
                    fn = fla_fn(q, k, v, sl)
                    o_fla, st_fla = fn()
                    row.extra["ours_vs_fla_rel"] = rel_err(o_ours, o_fla)
                    row.extra["state_vs_fla_rel"] = rel_err(st_ours, st_fla)
                    del o_fla, st_fla
                    torch.cuda.synchronize()
                    row.fla_ms = bench_ms(fn)
                except Exception as exc:  # noqa: BLE001
                    print(f"  fla failed at {row.case}: {str(exc).splitlines()[0][:200]}")
            del o_ours, st_ours
            # the same kernel in [B,H,T,D] layout
            qh, kh, vh = (x.transpose(1, 2).contiguous() for x in (q, k, v))
            del q, k, v
            row.extra["ours_bhtd_ms"] = bench_ms(lambda qh=qh, kh=kh, vh=vh, sl=sl: lightning_prefill(
                qh, kh, vh, sl, precision=precision))
            if dtype == torch.bfloat16 and not skip_sdpa and T <= 131072:
                try:
                    row.sdpa_ms = bench_ms(lambda qh=qh, kh=kh, vh=vh: F.scaled_dot_product_attention(
                        qh, kh, vh, is_causal=True), warmup=1, rep=1 if T >= 65536 else 20)
                except Exception as exc:  # noqa: BLE001
                    print(f"  sdpa failed at {row.case}: {str(exc).splitlines()[0][:200]}")
            del qh, kh, vh
            torch.cuda.empty_cache()
            # the same call again at the end of the row (after fla and the [B,H,T,D] timing): does the row's first
            # reading depend on what ran before it? (bf16 128K read 3.0-3.15 ms here and 2.25-2.55 isolated, H4-H8)
            q, k, v = qkv(1, T, H, D, dtype, "bthd")
            row.extra["ours_again_ms"] = bench_ms(lambda q=q, k=k, v=v, sl=sl: lightning_prefill(
                q, k, v, sl, layout="bthd", precision=precision))
            if alt:
                row.extra["alt_again_ms"] = bench_ms(lambda q=q, k=k, v=v, sl=sl, alt=alt: lightning_prefill(
                    q, k, v, sl, layout="bthd", precision=precision, **alt))
            del q, k, v
            torch.cuda.empty_cache()
            rows.append(row)
            print(f"  {row.case}: ours {ours:.3f} ms, fla {row.fla_ms:.3f} ms, floor {floor:.3f} ms, "
                  f"sdpa {row.sdpa_ms:.1f} ms {row.extra}", flush=True)
    return rows


SWEEP = {  # (dtype, T, H) → lightning_prefill kwargs; the first of each case is the shipped default (H200 set;
    # earlier sweeps in bench/NOTES-kernels.md). "_qkv": q, k, v as views of one [1, T, H, 3D] buffer (the model).
    # bf16: the default is the warp-partitioned Gluon kernel (lightning_prefill_ws); "ws": False is the Triton TMA
    # kernel that was the default before (BV=64 w4 s4, decay on v, fused accumulators).
    "bf16:131072:64": [{}, {"ws": False}, {"_qkv": True}, {}],  # the default again, later in the call
    # lightning_prefill_ws's opt-in "vt" (Sᵀ, the scaled values as a register operand; run H10: 2.248 vs 2.270 ms)
    "bf16:131072:64:vt": [{}, {"ws": "vt"}, {}, {"ws": "vt"}],
    # (run H7: noprep 2.48-2.49 ms and "early", since removed, 2.55 against the default's 2.39-2.41)
    "bf16:16384:64": [{}, {"ws": "noprep"}, {"ws": False}],
    "bf16:8192:64": [{"ws": True}, {}],
    "bf16:4096:64": [{"ws": True}, {}],
    # fp32: the default is the warp-partitioned fold kernel (from H200 run H8); fold=True the one-warpgroup one
    "fp32:131072:64": [{}, {"fold": True}, {"_qkv": True}, {"fold": True, "_qkv": True}, {}, {"fold": True}],
    "fp32:16384:64": [{}, {"fold": True}],
    "fp32:1048576:8": [{}, {"fold": True}],
    "bf16:1048576:8": [{}, {"segments": 8}, {"ws": "noprep"}, {"ws": False}],
    # state_skip (the default since run H10): the segment-state pass walks only the rows that weigh over 2^-40 in a
    # segment's state (H10: bf16 2.341 vs 3.463 ms, fp32 5.501 vs 8.084)
    "bf16:1048576:8:skip": [{}, {"state_skip": False}],
    "fp32:1048576:8:skip": [{}, {"state_skip": False}],
}


def sweep_one(case: str, idx: int, bw: float) -> dict:
    """Time one SWEEP variant ([B,T,H,D] inputs) and compare its o with the default's on the same inputs."""
    from llm.kernels import lightning_prefill as lp

    dtype_name, T, H = case.split(":")[:3]  # a fourth field only names a set of variants
    T, H = int(T), int(H)
    dtype = {"bf16": torch.bfloat16, "fp32": torch.float32}[dtype_name]
    torch.manual_seed(0)
    q, k, v = qkv(1, T, H, 128, dtype, "bthd")
    sl = slopes(H)
    floor = 4 * q.numel() * q.element_size() / bw * 1e3
    o_ref, _ = lp.lightning_prefill(q, k, v, sl, layout="bthd", out_dtype=torch.float32)
    kw = dict(SWEEP[case][idx])
    if kw.pop("_qkv", False):  # the same values, read as views into one fused buffer as the model's projection gives
        fused = torch.cat([q, k, v], dim=-1)
        del q, k, v
        q, k, v = fused.split(128, dim=-1)
    tag = (f"{dtype_name} T={T // 1024}K H={H} " + ("qkv-views " if q.stride(2) != 128 else "")
           + (" ".join(f"{a}={b}" for a, b in kw.items()) or "default"))
    fn = lambda: lp.lightning_prefill(q, k, v, sl, layout="bthd", **kw)
    o, _ = lp.lightning_prefill(q, k, v, sl, layout="bthd", out_dtype=torch.float32, **kw)
    ck = lp.LAST_COMPILED
    diag = (f"regs {getattr(ck, 'n_regs', '?')} spills {getattr(ck, 'n_spills', '?')} "
            f"smem {getattr(getattr(ck, 'metadata', None), 'shared', '?')}")
    agree = rel_err(o, o_ref)
    del o
    ms = bench_ms(fn)
    try:  # the same call replayed from a CUDA graph: the device time without the host's launch cost
        graph_ms = _graph_ms([fn])
    except Exception as exc:  # noqa: BLE001 - report and go on
        print(f"graph capture failed: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
        graph_ms = math.nan
    return {"variant": tag, "ms": ms, "graph_ms": graph_ms, "floor_ms": floor, "diag": diag, "vs_default": agree,
            "unix_s": time.time()}


def variant_sweep(bw: float, cases: str | None = None) -> list[dict]:
    """Every SWEEP variant in its own process (an illegal access poisons a CUDA context), one line each.

    cases: comma-separated prefixes of the SWEEP keys to run (e.g. "fp32"); None runs them all."""
    import subprocess

    out = []
    for name, vs in SWEEP.items():
        if cases and not any(name.startswith(c) for c in cases.split(",")):
            continue
        for idx in range(len(vs)):
            cmd = [sys.executable, __file__, "--sweep-one", f"{name}:{idx}:{bw}"]
            try:
                res = subprocess.run(cmd, capture_output=True, text=True, timeout=150, check=False)
                line = [x for x in res.stdout.splitlines() if x.startswith("SWEEP ")]
                rec = json.loads(line[-1][6:]) if line else {
                    "variant": f"{name} {vs[idx]}", "error": (res.stderr.strip().splitlines() or ["?"])[-1][:300]}
            except subprocess.TimeoutExpired:
                rec = {"variant": f"{name} {vs[idx]}", "error": "timeout"}
            if "ms" in rec:
                print(f"  {rec['variant']:<60s} {rec['ms']:7.3f} ms ({rec['floor_ms'] / rec['ms'] * 100:5.1f}% BW), "
                      f"graph {rec.get('graph_ms', math.nan):7.3f} ms; {rec['diag']} vs default "
                      f"{rec['vs_default']:.1e}", flush=True)
            else:
                print(f"  {rec['variant']:<96s} failed: {rec['error']}", flush=True)
            out.append(rec)
    return out


def capture_graph(steps: list) -> torch.cuda.CUDAGraph:
    """A CUDA graph that runs each callable once, in order (captured after two warm-up calls, replayed once)."""
    for f in steps[:2]:
        f()
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for f in steps:
            f()
    g.replay()
    torch.cuda.synchronize()
    return g


def _graph_ms(steps: list) -> float:
    """Per-step time of a CUDA graph that runs each callable once, in order."""
    return bench_ms(capture_graph(steps).replay) / len(steps)


def _touch_kernel():
    """An empty Triton kernel (one store): the per-node launch cost peer of the decode rows."""
    import triton
    import triton.language as tl

    @triton.jit
    def touch(X):
        tl.store(X, 0.0)

    return touch


DECODE_CONFIGS = [  # (block_v, num_warps, order) swept per batch size beside the shipped default
    (8, 1, "bh"), (16, 1, "bh"), (32, 1, "bh"), (16, 2, "bh"), (32, 2, "bh"), (32, 4, "bh"), (64, 4, "bh"),
    (128, 8, "bh"), (16, 1, "tile"), (32, 2, "tile"), (32, 4, "tile"), (64, 4, "tile"), (128, 8, "tile"),
    (32, 4, "vllm"),
    # fewer state elements per thread (16 or 8, where the shapes above hold 32-64): more loads in flight per SM at B = 1
    # (run H8: (16, 8, bh) 4.77 µs, the B = 1 default since; (32, 8) 5.55-5.64, (16, 4) 5.42-5.51, (8, 4) 5.46)
    (32, 8, "bh"), (16, 4, "bh"), (16, 8, "bh"), (8, 2, "bh"), (8, 4, "bh"), (32, 8, "tile"), (16, 4, "tile"),
    (16, 8, "tile"), (16, 16, "bh"), (8, 8, "bh"), (32, 16, "bh"), (8, 16, "bh"),
]


def _decode_graph_ms(step, pools: list) -> float:
    """Per-step time of a 16-node CUDA graph of step(pool), one node per pool (distinct pools: L2 cannot hold them)."""
    return _graph_ms([lambda p=p: step(p) for p in pools])


def decode_rows(bw: float, sweep: bool | str = True) -> list[Row]:
    """Decode per step at H=64 D=128 fp32 state; a CUDA graph of 16 steps on 16 distinct pools (L2 cannot hold them).

    Row = the shipped default with a slot table; beside it (same graph protocol): the default without slots (pool row
    b for sequence b, the model's contract), the vLLM-layout peer (bench/vllm_decode_peer.py), a bare copy of the
    state bytes, an empty kernel, PDL, and the launch-shape sweep (sweep: True for every B, or a comma-separated
    list of the batch sizes to sweep)."""
    from bench.vllm_decode_peer import vllm_layout_decode
    from llm.kernels.lightning_decode import lightning_decode_step
    from llm.lightning import lightning_decode as ref_decode

    H, D, R = 64, 128, 16
    sl = slopes(H)
    rows = []
    for B in (1, 8, 64):
        pools = [torch.randn(B, H, D, D, device="cuda") for _ in range(R)]
        q, k, v = (torch.randn(B, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        slots = torch.arange(B, device="cuda", dtype=torch.int32)
        out = torch.empty(B, H, D, device="cuda")
        floor = (2 * B * H * D * D * 4) / bw * 1e3
        # step(pool): partials bind this batch size's tensors (a graph node is step(pool), one per pool)
        step = partial(lightning_decode_step, q, k, v, sl, slots=slots, out=out)
        step_ns = partial(lightning_decode_step, q, k, v, sl, slots=None, out=out)
        peer_step = partial(vllm_layout_decode, q, k, v, slope=sl, slots=slots, out=out)
        ours = _decode_graph_ms(step, pools)
        no_slots = _decode_graph_ms(step_ns, pools)
        pdl = _decode_graph_ms(partial(step, pdl=True), pools)  # PDL runs the Triton kernel (the Gluon one has none)
        triton_k = _decode_graph_ms(partial(step, kernel="triton"), pools)  # the Triton kernel at its own default shape
        triton_ns = _decode_graph_ms(partial(step_ns, kernel="triton"), pools)
        peer = _decode_graph_ms(peer_step, pools)
        # the same two kernels on ONE pool replayed 16 times: the state stays in L2 when it fits (B <= 8 on an H200)
        ours_l2 = _decode_graph_ms(step, [pools[0]] * R)
        peer_l2 = _decode_graph_ms(peer_step, [pools[0]] * R)
        eager = bench_ms(partial(step, pools[0]))
        print(f"  decode B={B}: default {ours * 1e3:.2f} us/step, no slots {no_slots * 1e3:.2f}, pdl {pdl * 1e3:.2f}, "
              f"vllm-layout peer {peer * 1e3:.2f}; one pool (L2): ours {ours_l2 * 1e3:.2f}, peer {peer_l2 * 1e3:.2f}; "
              f"eager {eager * 1e3:.1f}; Triton kernel {triton_k * 1e3:.2f} (no slots {triton_ns * 1e3:.2f})",
              flush=True)
        best = (ours, "default")
        swept = sweep is True or (isinstance(sweep, str) and str(B) in sweep.split(","))
        for bv, nw, order in DECODE_CONFIGS if swept else []:
            kw = {"block_v": bv, "num_warps": nw, "order": order}
            ms = _decode_graph_ms(partial(step, **kw), pools)
            ms_ns = _decode_graph_ms(partial(step_ns, **kw), pools)
            print(f"    BV={bv:<3d} warps={nw} order={order:<4s}: {ms * 1e3:7.2f} us/step, no slots "
                  f"{ms_ns * 1e3:7.2f}", flush=True)
            if ms < best[0]:
                best = (ms, f"BV={bv} w{nw} {order}")
        ref = bench_ms(partial(ref_decode, q, k, v, sl, pools[0]))
        # peers in the same 16-node graph: a copy of the same bytes (each pool to its own buffer: read + write the
        # state once, what a step must move) and an empty kernel (the per-node launch cost)
        dsts = [torch.empty_like(p) for p in pools]
        copy_ms = _graph_ms([lambda p=p, d=d: d.copy_(p) for p, d in zip(pools, dsts)])
        touch = _touch_kernel()
        empty_ms = _graph_ms([partial(touch[(1,)], d) for d in dsts])
        print(f"  decode B={B}: graph of state copies {copy_ms * 1e3:.2f} us/step, empty kernels "
              f"{empty_ms * 1e3:.2f} us/step; best swept {best[0] * 1e3:.2f} ({best[1]})", flush=True)
        rows.append(Row(f"decode B={B} H=64 fp32 state", ours, floor, ref_ms=ref,
                        extra={"eager_ms": eager, "no_slots_ms": no_slots, "vllm_layout_ms": peer,
                               "one_pool_ms": ours_l2, "vllm_layout_one_pool_ms": peer_l2,
                               "graph_with_pdl_ms": pdl, "graph_state_copy_ms": copy_ms, "triton_kernel_ms": triton_k,
                               "triton_kernel_no_slots_ms": triton_ns,
                               "graph_empty_kernel_ms": empty_ms, "best_swept_ms": best[0],
                               "best_swept": best[1]}))
        del pools, dsts
        torch.cuda.empty_cache()
    return rows


def print_table(rows: list[Row], bw: float, card: str) -> None:
    print(f"\n{card}; copy bandwidth {bw / 1e12:.2f} TB/s; floor = bytes of q,k,v read + o written (prefill) or "
          f"state read + written (decode) / copy bandwidth; peer = fla chunk_simple_gla (prefill) or the vLLM-layout "
          f"decode kernel (bench/vllm_decode_peer.py); decode: 16-step CUDA graph on 16 distinct pools")
    hdr = (f"| {'case':<28s} | {'ours':>9s} | {'floor':>8s} | {'% of BW':>7s} | {'peer':>8s} | "
           f"{'peer/ours':>9s} | {'copy':>8s} | {'SDPA ms':>8s} | {'torch ref':>10s} |")
    print(hdr)
    print("|" + "|".join("-" * (len(c)) for c in hdr.split("|")[1:-1]) + "|")
    for r in rows:
        dec = r.case.startswith("decode")
        fmt = (lambda x: f"{x * 1e3:.2f}us") if dec else (lambda x: f"{x:.3f}")
        peer = r.extra.get("vllm_layout_ms", math.nan) if dec else r.fla_ms
        copy = r.extra.get("graph_state_copy_ms", math.nan)
        print(f"| {r.case:<28s} | {fmt(r.ours_ms):>9s} | {fmt(r.floor_ms):>8s} | "
              f"{r.floor_ms / r.ours_ms * 100:6.1f}% | {'-' if math.isnan(peer) else fmt(peer):>8s} | "
              f"{peer / r.ours_ms:9.2f} | {'-' if math.isnan(copy) else fmt(copy):>8s} | "
              f"{r.sdpa_ms:8.1f} | {'-' if math.isnan(r.ref_ms) else fmt(r.ref_ms):>10s} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two prefill lengths only")
    ap.add_argument("--skip-sdpa", action="store_true", help="do not time softmax attention (0.5 s a call at 128K)")
    ap.add_argument("--variants", action="store_true", help="also sweep prefill block shapes at T=128K")
    ap.add_argument("--no-check", action="store_true", help="skip the correctness section")
    ap.add_argument("--precision", default="fast", help="prefill precision for the table (fast, split-p, exact)")
    ap.add_argument("--json", default=None, help="write all numbers here")
    ap.add_argument("--sweep-one", default=None, help=argparse.SUPPRESS)  # NAME:INDEX:BW, used by variant_sweep
    ap.add_argument("--no-decode", action="store_true", help="skip the decode rows")
    ap.add_argument("--no-decode-sweep", action="store_true", help="decode rows without the launch-shape sweep")
    ap.add_argument("--decode-sweep-b", default=None, help="sweep decode launch shapes at these B only (e.g. 1)")
    ap.add_argument("--sweep-cases", default=None,
                    help="with --variants: only SWEEP cases with these prefixes (fp32,bf16)")
    ap.add_argument("--only-sweep", action="store_true",
                    help="no prefill table: correctness (unless --no-check), the sweep and decode")
    ap.add_argument("--smoke-ws", action="store_true", help="only check the warp-partitioned kernel (exit 1 if wrong)")
    ap.add_argument("--smoke-fold-ws", action="store_true",
                    help="only check the warp-partitioned fp32 fold kernel (exit 1 if wrong)")
    ap.add_argument("--smoke-modes", default="", help="with --smoke-ws: comma-separated schedules (default first)")
    ap.add_argument("--check-long", action="store_true", help="also check T = 1M, H = 8 against fp64 (segments)")
    args = ap.parse_args(argv)
    if args.smoke_ws:
        return smoke_ws(args.smoke_modes)
    if args.smoke_fold_ws:
        return smoke_fold_ws()
    if args.sweep_one:
        case, idx, bw = args.sweep_one.rsplit(":", 2)
        print("SWEEP " + json.dumps(sweep_one(case, int(idx), float(bw))), flush=True)
        return 0
    if not torch.cuda.is_available():
        print("lightning_gpu: error: no CUDA device (run it on the lent GPU: bench/device_kernels.sh)", file=sys.stderr)
        return 2
    card = torch.cuda.get_device_name()
    import triton

    print(f"card {card}, torch {torch.__version__}, triton {triton.__version__}", flush=True)
    t0 = time.time()
    if not args.no_check:
        correctness()
        model_check()
    if args.check_long:
        check_long()
    bw = copy_bandwidth()
    print(f"copy bandwidth {bw / 1e12:.3f} TB/s", flush=True)
    sweep = variant_sweep(bw, args.sweep_cases) if args.variants else []
    rows = []
    if not args.only_sweep:
        print("prefill:", flush=True)
        rows = prefill_rows(bw, args.quick, args.skip_sdpa, args.precision)
    if not args.no_decode:
        print("decode:", flush=True)
        rows += decode_rows(bw, sweep=args.decode_sweep_b or not args.no_decode_sweep)
    bw2 = copy_bandwidth()
    print_table(rows, bw, card)
    print(f"copy bandwidth re-measured at the end: {bw2 / 1e12:.3f} TB/s; total {time.time() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"card": card, "bw": bw, "bw_end": bw2, "rows": [asdict(r) for r in rows], "sweep": sweep,
                       "failures": FAILURES}, fh, indent=1)
    if FAILURES:
        print(f"CORRECTNESS FAILURES ({len(FAILURES)}): " + "; ".join(FAILURES))
        return 1
    print("all correctness checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
