"""Benchmark the body: ms per frame for the pose update (timeline + face behaviour + kinematic set_pose/set_face) and
the render (the character + backdrop composite), per backend and size.

Peer comparison measured in the same run: EGL (Mesa llvmpipe headless, or a GPU) against PyBullet's TinyRenderer;
the ratio EGL/Tiny < 1 means EGL is faster. Usage: .venv/bin/python bench/body.py [--frames 90]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def measure(backend: str, size: tuple[int, int], frames: int) -> dict[str, float] | None:
    from fep_motion.body.errors import BodyError
    from fep_motion.body.expression import Expression
    from fep_motion.body.render import BodyRenderer
    from fep_motion.body.stills import SEAT
    from sampling.primitives import MotionCommand, MotionTimeline

    try:
        renderer = BodyRenderer(*size, backend=backend)
    except BodyError:
        return None
    tl = MotionTimeline()
    tl.command(MotionCommand("wave", {"cycles": 5}, issued_at=0.0))
    tl.command(MotionCommand("nod", {"cycles": 4}, issued_at=2.0))
    expression = Expression(seed=0, default_target=SEAT)
    times = np.arange(frames + 5) / 30.0
    upd, ren = [], []
    with renderer:
        for k, t in enumerate(times):
            a = time.perf_counter()
            head, face = expression.step(float(t))
            renderer.humanoid.set_pose(tl.pose(float(t)) + head)
            renderer.humanoid.set_face(face)
            b = time.perf_counter()
            renderer.render(None)
            c = time.perf_counter()
            if k >= 5:  # warm-up frames excluded
                upd.append(b - a)
                ren.append(c - b)
    upd_ms, ren_ms = np.array(upd) * 1e3, np.array(ren) * 1e3
    total = upd_ms + ren_ms
    return {
        "update": float(np.median(upd_ms)),
        "render": float(np.median(ren_ms)),
        "total": float(np.median(total)),
        "p95": float(np.percentile(total, 95)),
        "backend": renderer.backend,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=90, help="frames timed per configuration (default 90)")
    args = ap.parse_args()
    sizes = [(320, 240), (640, 480)]
    rows = {}
    print(
        f"{'backend':<8} {'size':<8} {'update ms':>10} {'render ms':>10} {'total ms':>9} {'p95 ms':>8} {'fps':>6}"
    )
    for size in sizes:
        for backend in ("egl", "tiny"):
            r = measure(backend, size, args.frames)
            rows[(backend, size)] = r
            label = f"{size[0]}x{size[1]}"
            if r is None:
                print(f"{backend:<8} {label:<8} {'(backend unavailable)':>40}")
                continue
            print(
                f"{backend:<8} {label:<8} {r['update']:>10.3f} {r['render']:>10.2f} {r['total']:>9.2f} "
                f"{r['p95']:>8.2f} {1000.0 / r['total']:>6.1f}"
            )
    for size in sizes:
        e, t = rows[("egl", size)], rows[("tiny", size)]
        if e and t:
            print(f"ratio EGL/Tiny total ms per frame at {size[0]}x{size[1]}: {e['total'] / t['total']:.2f}")


if __name__ == "__main__":
    main()
