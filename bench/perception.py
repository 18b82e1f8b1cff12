"""Benchmark: perception pipeline frames/s and per-stage ms on vtest.avi at 640x480, beside MediaPipe alone.

All runs see the same decoded frames in the same process, their order rotating per frame so load hits them alike.
Prints a table and the pipeline-minus-MediaPipe overhead per frame (target: <= 3 ms, docs/architecture.md §7).
Then the false events: nobody in vtest.avi faces the camera, so every head event there is false; reported per minute
of footage without and with the attention gate (perception.gate), beside the detectors' onset F1 on the synthetic
streams of the tests (perception.synthetic, perception.scoring) without and with it.

    .venv/bin/python bench/perception.py [--video PATH] [--frames N] [--size 640x480]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

DEFAULT_VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
# This file is named like the `perception` package: keep its own folder off the import path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

if TYPE_CHECKING:
    from perception.events import EventDetector
    from perception.types import HumanEvent, Observation


HEAD_KINDS = ("nod", "shake")
# The synthetic streams the detector tests score (tests/test_perception_events*.py): name, spec, seeds, kinds.
SYNTHETIC_SETS: tuple[tuple[str, dict, tuple[int, ...], tuple[str, ...]], ...] = (
    ("mixed, seeds 11-14", {}, (11, 12, 13, 14), ("nod", "shake", "gesture")),
    ("1-cycle nods, seeds 21-23", {"kinds": ("nod",), "nod_cycle_weights": (1, 0, 0, 0)}, (21, 22, 23), ("nod",)),
    ("2-4-cycle nods, seeds 21-23", {"kinds": ("nod",), "nod_cycle_weights": (0, 1, 1, 1)}, (21, 22, 23), ("nod",)),
)


def _ungated(detector: EventDetector, obs: Observation) -> list[HumanEvent]:
    """Detection reports of the ungated detectors on a copy of obs (obs.events stays the pipeline's)."""
    import dataclasses

    return [e for e in detector.update(dataclasses.replace(obs, events=[])) if not e.complete]


def synthetic_f1() -> list[tuple[str, str, float, float, int]]:
    """(set, kind, F1 without the gate, F1 with it, true events) on the tests' synthetic streams, within 0.2 s."""
    from perception.events import EventDetector
    from perception.pipeline import Perception
    from perception.scoring import detected_onsets, score_onsets
    from perception.synthetic import SyntheticSpec, generate

    rows = []
    for name, spec_kwargs, seeds, kinds in SYNTHETIC_SETS:
        runs = []
        for seed in seeds:
            stream = generate(SyntheticSpec(duration_s=60.0, **spec_kwargs), seed)
            perception, ungated = Perception(create_pose=False), EventDetector()
            gated, raw = [], []
            for frame in stream.frames:
                _, obs = perception.process_pose(frame)
                gated += obs.events
                raw += _ungated(ungated, obs)
            gated += perception.flush(stream.frames[-1].t)
            raw += ungated.flush(stream.frames[-1].t)
            runs.append((stream.truth, raw, gated))
        for kind in kinds:
            scores = []
            for which in (1, 2):  # sessions pooled on separate time axes, as the tests do
                truth = [e.t_onset + 1e3 * k for k, run in enumerate(runs) for e in run[0] if e.kind == kind]
                found = [t + 1e3 * k for k, run in enumerate(runs) for t in detected_onsets(run[which], kind)]
                scores.append(score_onsets(found, truth, kind, tolerance_s=0.2).f1)
            rows.append((name, kind, scores[0], scores[1], len(truth)))
    return rows


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
    from perception.events import EventDetector
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
    ungated = EventDetector()  # the same detectors without the gate, fed the pipeline's observations (untimed)
    events: dict[str, list[HumanEvent]] = {"gated": [], "ungated": []}
    t_first = t_last = None
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
                _, obs = perception.process(item.image, item.t, item.index)
            else:
                peers[which].process(cv2.cvtColor(item.image, cv2.COLOR_BGR2RGB))
            ms = (time.perf_counter() - t1) * 1e3
            if n >= args.warmup:
                (total_ms if which == "ours" else peer_ms[which]).append(ms)
        events["gated"] += [e for e in obs.events if not e.complete]
        events["ungated"] += _ungated(ungated, obs)
        t_first = item.t if t_first is None else t_first
        t_last = item.t
        if n + 1 == args.warmup:
            perception.timer = StageTimer()  # per-stage statistics start after the warm-up too
        n += 1
        if args.frames and n >= args.frames:
            break
    wall = time.perf_counter() - wall0
    if t_last is not None:
        events["gated"] += [e for e in perception.flush(t_last) if not e.complete]
        events["ungated"] += [e for e in ungated.flush(t_last) if not e.complete]
    minutes = ((t_last - t_first) + 1.0 / source.fps) / 60.0 if t_last is not None else float("nan")
    for pose in peers.values():
        pose.close()
    perception.close()
    source.close()

    timer = perception.timer
    print(f"perception benchmark: {args.video.name}, {n} frames ({args.warmup} warm-up left out) at "
          f"{size[0]}x{size[1]}, model_complexity=1, {wall:.1f} s wall (all runs)")
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

    print(f"\nfalse events on {args.video.name} ({minutes:.2f} min of footage; nobody faces the camera, so every head "
          "event is false)")
    print(f"{'detectors':<28}{'nods':>6}{'shakes':>8}{'head/min':>10}{'gestures':>10}")
    for name in ("ungated", "gated"):
        count = {k: sum(e.kind == k for e in events[name]) for k in ("nod", "shake", "gesture")}
        label = "without the gate (before)" if name == "ungated" else "with the gate (now)"
        print(f"{label:<28}{count['nod']:>6}{count['shake']:>8}{(count['nod'] + count['shake']) / minutes:>10.2f}"
              f"{count['gesture']:>10}")
    print("\nonset F1 within 0.2 s on the synthetic streams of the detector tests (frontal person, 1.4 m)")
    print(f"{'streams':<30}{'kind':<9}{'events':>7}{'F1 before':>11}{'F1 now':>9}")
    for name, kind, before, now, n_true in synthetic_f1():
        print(f"{name:<30}{kind:<9}{n_true:>7}{before:>11.3f}{now:>9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
