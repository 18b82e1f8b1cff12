"""Benchmark: perception pipeline frames/s and per-stage ms on vtest.avi at 640x480, beside MediaPipe alone.

All runs see the same decoded frames in the same process, their order rotating per frame so load hits them alike.
Prints a table and the pipeline-minus-MediaPipe overhead per frame (target: <= 3 ms, docs/architecture.md §7).

    .venv/bin/python bench/perception.py [--video PATH] [--frames N] [--size 640x480]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
# This file is named like the `perception` package: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=DEFAULT_VIDEO)
    parser.add_argument("--frames", type=int, default=0, help="frames to time (0 = all)")
    parser.add_argument("--size", default="640x480", help="frame size fed to pose estimation")
    parser.add_argument("--warmup", type=int, default=10, help="first frames left out of the statistics")
    args = parser.parse_args(argv)

    import cv2
    import mediapipe as mp

    from perception.errors import PerceptionError
    from perception.pipeline import STAGES, Perception, StageTimer
    from perception.sources import Frame, open_source

    size = tuple(int(v) for v in args.size.lower().split("x"))
    try:
        source = open_source(args.video, resize=size)  # type: ignore[arg-type]
    except PerceptionError as exc:
        print(f"bench/perception.py: error: {exc}", file=sys.stderr)
        return 2

    perception = Perception(static_image_mode=False)
    # Peers: MediaPipe with the settings our estimator uses (smoothing off: our filter replaces it), and MediaPipe's
    # defaults (its own smoothing on). The order of the three calls rotates per frame so caches and load hit alike.
    peers = {
        "same settings": mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=False),
        "defaults": mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1),
    }
    peer_ms: dict[str, list[float]] = {name: [] for name in peers}
    total_ms: list[float] = []
    n = 0
    items = iter(source)
    wall0 = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        item = next(items, None)
        decode_ms = (time.perf_counter() - t0) * 1e3
        if item is None or not isinstance(item, Frame):
            if item is None or item.kind == "end":
                break
            continue
        perception.timer.add("decode", decode_ms)
        order = ["ours", *peers]
        k = n % len(order)
        for which in order[k:] + order[:k]:
            t1 = time.perf_counter()
            if which == "ours":
                perception.process(item.image, item.t, item.index)
            else:
                peers[which].process(cv2.cvtColor(item.image, cv2.COLOR_BGR2RGB))
            ms = (time.perf_counter() - t1) * 1e3
            if n >= args.warmup:
                (total_ms if which == "ours" else peer_ms[which]).append(ms)
        if n + 1 == args.warmup:
            perception.timer = StageTimer()  # per-stage statistics start after the warm-up too
        n += 1
        if args.frames and n >= args.frames:
            break
    wall = time.perf_counter() - wall0
    for pose in peers.values():
        pose.close()
    perception.close()
    source.close()

    timer = perception.timer
    print(f"perception benchmark: {args.video.name}, {n} frames ({args.warmup} warm-up left out) at {size[0]}x{size[1]}, model_complexity=1, "
          f"{wall:.1f} s wall (all runs)")
    print(f"{'stage':<28}{'mean ms':>10}{'p95 ms':>10}")
    for stage in STAGES:
        print(f"{stage:<28}{timer.mean_ms(stage):>10.2f}{timer.percentile_ms(stage, 95):>10.2f}")
    pipe = float(np.mean(total_ms))
    print(f"{'pipeline (pose..events)':<28}{pipe:>10.2f}{np.percentile(total_ms, 95):>10.2f}")
    for name, values in peer_ms.items():
        print(f"{'MediaPipe alone, ' + name:<28}{np.mean(values):>10.2f}{np.percentile(values, 95):>10.2f}")
    same = float(np.mean(peer_ms["same settings"]))
    ours = sum(timer.mean_ms(s) for s in ("filter", "features", "events"))
    print(f"frames/s: pipeline incl. decode {1e3 / (pipe + timer.mean_ms('decode')):.1f}, pipeline "
          f"{1e3 / pipe:.1f}, MediaPipe alone (same settings) {1e3 / same:.1f}")
    print(f"overhead vs MediaPipe alone (same settings): {pipe - same:+.2f} ms/frame (ratio {pipe / same:.3f}); "
          f"filter+features+events: {ours:.2f} ms/frame (target: pipeline adds <= 3 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
