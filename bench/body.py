"""Benchmark the body: ms per frame for the pose update (timeline + face behaviour + kinematic set_pose/set_face) and
the render (the character + backdrop composite), per backend and size.

Peers measured in the same run: EGL (Mesa llvmpipe headless, or a GPU) against PyBullet's TinyRenderer (ratio EGL/Tiny
< 1 means EGL is faster), and each renderer drawing the whole frame instead of the character's box (ratio box/whole).
Each configuration is timed in --repeats separate runs, interleaved so that other jobs on the machine load them alike;
the table shows the median over runs (and the runs' range) of each run's median frame, the render's CPU time (all
threads, so llvmpipe's workers count) and the load average before and after.
Usage: .venv/bin/python bench/body.py [--frames 90] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def measure(backend: str, size: tuple[int, int], frames: int, whole: bool = False) -> dict[str, float] | None:
    from fep_motion.body.errors import BodyError
    from fep_motion.body.expression import Expression
    from fep_motion.body.render import BodyRenderer
    from fep_motion.body.stills import SEAT
    from sampling.primitives import MotionCommand, MotionTimeline

    try:
        renderer = BodyRenderer(*size, backend=backend)
    except BodyError:
        return None
    if whole:  # the peer: render the whole frame, as before the character's box
        renderer.character_box = lambda: (0, 0, *size)
    tl = MotionTimeline()
    tl.command(MotionCommand("wave", {"cycles": 5}, issued_at=0.0))
    tl.command(MotionCommand("nod", {"cycles": 4}, issued_at=2.0))
    expression = Expression(seed=0, default_target=SEAT)
    times = np.arange(frames + 5) / 30.0
    upd, ren, cpu = [], [], []
    with renderer:
        for k, t in enumerate(times):
            a = time.perf_counter()
            head, face = expression.step(float(t))
            renderer.humanoid.set_pose(tl.pose(float(t)) + head)
            renderer.humanoid.set_face(face)
            b, c0 = time.perf_counter(), time.process_time()
            renderer.render(None)
            c, c1 = time.perf_counter(), time.process_time()
            if k >= 5:  # warm-up frames excluded
                upd.append(b - a)
                ren.append(c - b)
                cpu.append(c1 - c0)
    upd_ms, ren_ms = np.array(upd) * 1e3, np.array(ren) * 1e3
    total = upd_ms + ren_ms
    return {
        "update": float(np.median(upd_ms)),
        "render": float(np.median(ren_ms)),
        "cpu": float(np.median(cpu) * 1e3),
        "total": float(np.median(total)),
        "p95": float(np.percentile(total, 95)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=90, help="frames timed per configuration and run (default 90)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per configuration, interleaved (default 3)")
    args = ap.parse_args()
    configs = [(b, s, w) for s in [(320, 240), (640, 480)] for b in ("egl", "tiny") for w in (False, True)]
    load0 = os.getloadavg()
    runs: dict[tuple, list[dict[str, float]]] = {c: [] for c in configs}
    for _ in range(args.repeats):
        for config in configs:
            r = measure(config[0], config[1], args.frames, whole=config[2])
            if r is not None:
                runs[config].append(r)
    load1 = os.getloadavg()
    print(f"{os.cpu_count()} cores; load average {load0[0]:.2f} -> {load1[0]:.2f}; {args.repeats} runs x "
          f"{args.frames} frames; wave + nod timeline")
    print(f"{'backend':<8} {'size':<8} {'drawn':<6} {'update ms':>10} {'render ms':>10} {'(runs)':>13} "
          f"{'render CPU ms':>14} {'total ms':>9} {'p95 ms':>8} {'fps':>6}")
    med: dict[tuple, dict[str, float]] = {}
    for config in configs:
        backend, size, whole = config
        label, drawn = f"{size[0]}x{size[1]}", "whole" if whole else "box"
        if not runs[config]:
            print(f"{backend:<8} {label:<8} {drawn:<6} {'(backend unavailable)':>40}")
            continue
        m = med[config] = {k: float(np.median([r[k] for r in runs[config]])) for k in runs[config][0]}
        lo, hi = min(r["render"] for r in runs[config]), max(r["render"] for r in runs[config])
        print(f"{backend:<8} {label:<8} {drawn:<6} {m['update']:>10.3f} {m['render']:>10.2f} "
              f"{f'{lo:.1f}-{hi:.1f}':>13} {m['cpu']:>14.2f} {m['total']:>9.2f} {m['p95']:>8.2f} "
              f"{1000.0 / m['total']:>6.1f}")
    for size in [(320, 240), (640, 480)]:
        e, t = med.get(("egl", size, False)), med.get(("tiny", size, False))
        if e and t:
            print(f"ratio EGL/Tiny total ms per frame at {size[0]}x{size[1]}: {e['total'] / t['total']:.2f}")
        for backend in ("egl", "tiny"):
            box, whole = med.get((backend, size, False)), med.get((backend, size, True))
            if box and whole:
                print(f"ratio box/whole-frame render ms, {backend} {size[0]}x{size[1]}: "
                      f"{box['render'] / whole['render']:.2f} (CPU {box['cpu'] / whole['cpu']:.2f})")


if __name__ == "__main__":
    main()
