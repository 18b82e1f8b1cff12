"""Decode launch shapes on the lent GPU: Gluon and Triton kernels, the shipped default, a bare copy, an empty kernel.

H = 64, D = 128, fp32 state, bf16 q, k, v; each variant is one 16-node CUDA graph on 16 distinct pools (the protocol
of bench/lightning_gpu.py's decode rows), captured once, then replayed in interleaved rounds (every variant once a
round, the copy and the empty kernel too), so that the card's clock drift falls on all of them alike; the median and
the minimum over the rounds are printed. Every variant is checked against the fp64 recurrence first (slot table with
a padding row and permuted slots, untouched slots unchanged, and without slots); a wrong variant is not timed.
Usage: python bench/lightning_decode_b1.py [--rounds 7] [--b 1,2,4,8,64] [--json OUT.json]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from functools import partial

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.lightning_gpu import _touch_kernel, bench_ms, capture_graph, rel_err

H, D, R = 64, 128, 16
VARIANTS = {  # (name, kwargs of lightning_decode_step): default = the shipped launch, triton = the Triton kernel
    # with its own default shape, gl BVxW = the Gluon kernel (llm/kernels/lightning_decode_gl.py) on BV value
    # columns and W warps a program, with its barrier after the state loads unless 'no hoist'
    1: [
        ("default", {}),
        ("triton", {"kernel": "triton"}),
        ("gl 16x8 tile no hoist", {"kernel": "gl", "block_v": 16, "num_warps": 8, "order": "tile", "hoist": False}),
        ("gl 16x2 tile", {"kernel": "gl", "block_v": 16, "num_warps": 2, "order": "tile"}),
        ("gl 32x2 tile", {"kernel": "gl", "block_v": 32, "num_warps": 2, "order": "tile"}),
        ("gl 16x4 bh", {"kernel": "gl", "block_v": 16, "num_warps": 4, "order": "bh"}),
        ("gl 8x2 tile", {"kernel": "gl", "block_v": 8, "num_warps": 2, "order": "tile"}),
        ("gl 32x4 tile", {"kernel": "gl", "block_v": 32, "num_warps": 4, "order": "tile"}),
        ("gl 16x4 tile no hoist", {"kernel": "gl", "block_v": 16, "num_warps": 4, "order": "tile", "hoist": False}),
    ],
    2: [
        ("default", {}),
        ("triton", {"kernel": "triton"}),
        ("gl 16x4 tile", {"kernel": "gl", "block_v": 16, "num_warps": 4, "order": "tile"}),
        ("gl 64x4 tile", {"kernel": "gl", "block_v": 64, "num_warps": 4, "order": "tile"}),
        ("gl 16x8 tile", {"kernel": "gl", "block_v": 16, "num_warps": 8, "order": "tile"}),
        ("gl 32x8 tile", {"kernel": "gl", "block_v": 32, "num_warps": 8, "order": "tile"}),
    ],
    4: [
        ("default", {}),
        ("triton", {"kernel": "triton"}),
        ("gl 32x4 tile", {"kernel": "gl", "block_v": 32, "num_warps": 4, "order": "tile"}),
        ("gl 16x4 tile", {"kernel": "gl", "block_v": 16, "num_warps": 4, "order": "tile"}),
        ("gl 64x8 tile", {"kernel": "gl", "block_v": 64, "num_warps": 8, "order": "tile"}),
        ("gl 128x4 tile", {"kernel": "gl", "block_v": 128, "num_warps": 4, "order": "tile"}),
    ],
    8: [
        ("default", {}),
        ("triton", {"kernel": "triton"}),
        ("gl 64x4 tile no hoist", {"kernel": "gl", "block_v": 64, "num_warps": 4, "order": "tile", "hoist": False}),
        ("gl 32x4 tile", {"kernel": "gl", "block_v": 32, "num_warps": 4, "order": "tile"}),
        ("gl 128x4 tile", {"kernel": "gl", "block_v": 128, "num_warps": 4, "order": "tile"}),
    ],
    64: [
        ("default", {}),
        ("triton", {"kernel": "triton"}),
        ("gl 64x4 tile no hoist", {"kernel": "gl", "block_v": 64, "num_warps": 4, "order": "tile", "hoist": False}),
        ("gl 128x4 tile", {"kernel": "gl", "block_v": 128, "num_warps": 4, "order": "tile"}),
        ("gl 64x8 tile", {"kernel": "gl", "block_v": 64, "num_warps": 8, "order": "tile"}),
    ],
}


def check_variant(kw: dict) -> float:
    """Largest relative error of one launch shape against the fp64 recurrence (slots incl. a padding row, untouched
    slots, and the slot-free form); inf when a slot it must not touch changed."""
    from llm.kernels.lightning_decode import lightning_decode_step
    from llm.lightning import decay_slopes
    from llm.lightning import lightning_decode as ref_decode

    sl = decay_slopes(H, 0, 8).cuda().float()
    worst = 0.0
    for B in (1, 3):
        q, k, v = (torch.randn(B, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
        pool = torch.randn(B + 2, H, D, D, device="cuda")
        before = pool.clone()
        slots = torch.tensor([2, -1, 0] if B > 1 else [2], device="cuda", dtype=torch.int32)
        out = torch.full((B, H, D), float("nan"), device="cuda")
        lightning_decode_step(q, k, v, sl, pool, slots, out, **kw)
        live = slots >= 0
        used = slots[live].long()
        ro, rs = ref_decode(q[live].double(), k[live].double(), v[live].double(), sl.double(), before[used].double())
        worst = max(worst, rel_err(out[live], ro), rel_err(pool[used], rs))
        untouched = torch.ones(B + 2, dtype=torch.bool, device="cuda")
        untouched[used] = False
        if not torch.equal(pool[untouched], before[untouched]):
            return float("inf")
        pool2 = before.clone()
        out2 = torch.full((B, H, D), float("nan"), device="cuda")
        lightning_decode_step(q, k, v, sl, pool2, None, out2, **kw)
        ro2, rs2 = ref_decode(q.double(), k.double(), v.double(), sl.double(), before[:B].double())
        worst = max(worst, rel_err(out2, ro2), rel_err(pool2[:B], rs2))
        if not torch.equal(pool2[B:], before[B:]):
            return float("inf")
    return worst


def time_batch(B: int, rounds: int, bw: float) -> dict:
    from bench.vllm_decode_peer import vllm_layout_decode
    from llm.kernels.lightning_decode import lightning_decode_step
    from llm.lightning import decay_slopes

    sl = decay_slopes(H, 0, 8).cuda().float()
    pools = [torch.randn(B, H, D, D, device="cuda") for _ in range(R)]
    dsts = [torch.empty_like(p) for p in pools]
    q, k, v = (torch.randn(B, H, D, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    slots = torch.arange(B, device="cuda", dtype=torch.int32)
    out = torch.empty(B, H, D, device="cuda")
    graphs = {}
    for name, kw in VARIANTS[B]:
        try:
            err = check_variant(kw)
        except Exception as exc:  # noqa: BLE001 (a shape that does not compile or run: reported, not timed)
            print(f"  B={B} {name:<22s} FAILED to run: {type(exc).__name__}: {str(exc)[:300]}", flush=True)
            continue
        ok = err <= 2e-3
        print(f"  B={B} {name:<22s} fp64 check rel err {err:.2e} {'ok' if ok else 'FAIL'}", flush=True)
        if not ok:
            continue
        step = partial(lightning_decode_step, q, k, v, sl, slots=slots, out=out, **kw)
        step_ns = partial(lightning_decode_step, q, k, v, sl, slots=None, out=out, **kw)
        graphs[name] = capture_graph([lambda p=p, s=step: s(p) for p in pools])
        graphs[name + " (no slots)"] = capture_graph([lambda p=p, s=step_ns: s(p) for p in pools])
    graphs["vllm-layout peer"] = capture_graph(
        [lambda p=p: vllm_layout_decode(q, k, v, p, sl, slots, out) for p in pools])
    graphs["bare copy"] = capture_graph([lambda p=p, d=d: d.copy_(p) for p, d in zip(pools, dsts)])
    touch = _touch_kernel()
    graphs["empty kernel"] = capture_graph([partial(touch[(1,)], d) for d in dsts])
    names = list(graphs)
    times = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]  # rotate: no variant always first after a pause
        for n in order:
            times[n].append(bench_ms(graphs[n].replay, warmup=10, rep=40) / R * 1e3)
    floor = 2 * B * H * D * D * 4 / bw * 1e6
    copy = statistics.median(times["bare copy"])
    print(f"  B={B}: us per step, median (min) over {rounds} interleaved rounds; floor {floor:.2f} us at "
          f"{bw / 1e12:.3f} TB/s")
    res = {}
    for n in sorted(names, key=lambda n: statistics.median(times[n])):
        m = statistics.median(times[n])
        res[n] = {"median_us": m, "min_us": min(times[n]), "all_us": times[n]}
        print(f"    {n:<34s} {m:7.2f} ({min(times[n]):7.2f})  {m / copy:5.2f}x copy  {floor / m * 100:5.1f} % of floor",
              flush=True)
    del pools, dsts, graphs
    torch.cuda.empty_cache()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--b", default="1,2,4,8,64")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    from bench.lightning_gpu import copy_bandwidth

    print(f"card {torch.cuda.get_device_name()}", flush=True)
    bw = copy_bandwidth()
    print(f"copy bandwidth {bw / 1e12:.3f} TB/s", flush=True)
    res = {int(b): time_batch(int(b), args.rounds, bw) for b in args.b.split(",")}
    bw2 = copy_bandwidth()
    print(f"copy bandwidth at the end {bw2 / 1e12:.3f} TB/s", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"bw": bw, "bw_end": bw2, "batches": res}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
