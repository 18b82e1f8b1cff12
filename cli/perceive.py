"""`fep-motion perceive SOURCE --out FEATURES.csv [--overlay OVERLAY.mp4]`: pose, features and events per frame.

SOURCE is a camera index ("0"), a video file, an image or a folder of images. One CSV row per frame; rows are
written as frames are processed, so an interrupted run keeps what it had.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

EVENT_COLUMNS: tuple[str, ...] = ("onset", "offset", "cycles", "magnitude")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "perceive",
        help="track a person in a video/camera/images: features and gesture events to CSV, optional overlay video",
        description="Run pose estimation (MediaPipe), One-Euro filtering, feature extraction and nod/shake/gesture "
        "detection on SOURCE; write one CSV row per frame and optionally an overlay video.",
    )
    p.add_argument("source", metavar="SOURCE", help="camera index (e.g. 0), video file, image file or image folder")
    p.add_argument("--out", required=True, metavar="FEATURES.csv", help="CSV file for per-frame features and events")
    p.add_argument("--overlay", metavar="OVERLAY.mp4", help="write a video with skeleton, feature strip and events")
    p.add_argument("--backend", choices=("mediapipe", "tasks"), default="mediapipe",
                   help="pose backend: legacy MediaPipe Pose (built in) or Tasks PoseLandmarker (needs --model)")
    p.add_argument("--model", metavar="PATH", help="pose_landmarker_*.task model file for --backend tasks")
    p.add_argument("--config", metavar="PERCEPTION.yaml",
                   help="filter/feature/event-detector settings (YAML; see perception/config.py)")
    p.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames (default: the whole source)")
    p.add_argument("--fps", type=float, help="frame rate of an image folder (default 10)")
    p.add_argument("--resize", metavar="WxH", help="resize frames before pose estimation, e.g. 640x480")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _parse_size(text: str | None) -> tuple[int, int] | None:
    from perception.errors import PerceptionError

    if text is None:
        return None
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise PerceptionError(f"--resize {text!r}: expected WIDTHxHEIGHT, e.g. 640x480") from None
    if w < 16 or h < 16:
        raise PerceptionError(f"--resize {text!r}: width and height must be at least 16")
    return w, h


def csv_header() -> list[str]:
    """Columns of the features CSV: t, frame, valid, the features, then four columns per event kind."""
    from perception.types import EVENT_KINDS, FEATURE_NAMES

    return ["t", "frame", "valid", *FEATURE_NAMES, *(f"{k}_{c}" for k in EVENT_KINDS for c in EVENT_COLUMNS)]


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.6g}"
    return str(value)


class _RowWriter:
    """CSV rows, one per frame; each row is written when the next arrives so end-of-stream events join the last."""

    def __init__(self, path: Path) -> None:
        import csv

        from perception.errors import PerceptionError

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise PerceptionError(f"{path}: cannot write ({exc.strerror}); choose another --out path") from None
        self._csv = csv.writer(self._file)
        self._csv.writerow(csv_header())
        self._pending: dict[str, object] | None = None
        self.rows = 0

    def add(self, t: float, frame: int, valid: bool, features: list[float]) -> None:
        from perception.types import FEATURE_NAMES

        self._emit()
        self._pending = {"t": t, "frame": frame, "valid": int(valid), **dict(zip(FEATURE_NAMES, features))}

    def add_events(self, events: list) -> None:
        if self._pending is None:
            return
        for ev in events:
            if ev.complete:
                self._pending[f"{ev.kind}_offset"] = ev.t_offset
            else:
                self._pending[f"{ev.kind}_onset"] = ev.t_onset
            self._pending[f"{ev.kind}_cycles"] = ev.cycles
            self._pending[f"{ev.kind}_magnitude"] = ev.magnitude

    def _emit(self) -> None:
        if self._pending is not None:
            self._csv.writerow([_fmt(self._pending.get(c)) for c in csv_header()])
            self._file.flush()
            self.rows += 1
            self._pending = None

    def close(self) -> None:
        self._emit()
        self._file.close()


def run(args: argparse.Namespace) -> int:
    import time

    from perception.errors import PerceptionError
    from perception.pipeline import Perception
    from perception.sources import Frame, open_source
    from tty_progress import progress

    if args.max_frames is not None and args.max_frames < 1:
        raise PerceptionError(f"--max-frames {args.max_frames}: must be at least 1")
    if args.fps is not None and not args.fps > 0:
        raise PerceptionError(f"--fps {args.fps}: must be > 0")
    if args.model is not None and args.backend != "tasks":
        raise PerceptionError("--model is only used with --backend tasks; add --backend tasks")
    from perception.config import PerceptionConfig, load_config

    config = load_config(args.config) if args.config else PerceptionConfig()
    source = open_source(args.source, fps=args.fps, resize=_parse_size(args.resize))
    out_path = Path(args.out)
    counts = {"frames": 0, "valid": 0, "nod": 0, "shake": 0, "gesture": 0}
    perception = writer = video = None
    ended = ""
    t_start = time.perf_counter()
    try:
        perception = Perception(
            backend=args.backend,
            model_path=args.model,
            static_image_mode=not source.is_stream,
            filter_config=config.filter,
            feature_config=config.features,
            event_params=config.events,
        )
        writer = _RowWriter(out_path)
        renderer = None
        if args.overlay:
            from perception.overlay import OverlayRenderer
            from perception.video import VideoWriter

            renderer = OverlayRenderer(source.size)
            video = VideoWriter(args.overlay, source.fps, renderer.out_size)
        total = source.frame_count
        if args.max_frames is not None:
            total = min(total, args.max_frames) if total else args.max_frames
        bar = progress("perceive", "frame", total, enabled=not args.no_progress)
        last_t = 0.0
        items = iter(source)
        while True:
            t0 = time.perf_counter()
            item = next(items, None)
            decode_ms = (time.perf_counter() - t0) * 1e3
            if item is None:
                break
            if not isinstance(item, Frame):
                if item.kind == "end":
                    ended = item.detail
                    break
                continue
            perception.timer.add("decode", decode_ms)
            pose, obs = perception.process(item.image, item.t, item.index)
            last_t = item.t
            writer.add(item.t, item.index, pose.valid, [float(v) for v in obs.features])
            writer.add_events(obs.events)
            counts["frames"] += 1
            counts["valid"] += int(pose.valid)
            for ev in obs.events:
                if not ev.complete:
                    counts[ev.kind] += 1
            if video is not None and renderer is not None:
                video.write(renderer.render(item.image, pose, obs))
            bar.update(1)
            if args.max_frames is not None and counts["frames"] >= args.max_frames:
                break
        bar.close()
        final = perception.flush(last_t)
        writer.add_events(final)
        for ev in final:
            if not ev.complete:
                counts[ev.kind] += 1
    finally:
        if writer is not None:
            writer.close()
        if video is not None:
            video.close()
        if perception is not None:
            perception.close()
        source.close()
    elapsed = time.perf_counter() - t_start
    n = counts["frames"]
    pct = 100.0 * counts["valid"] / n if n else 0.0
    print(
        f"perceive: {n} frames from {source.name}, person found in {counts['valid']} ({pct:.1f} %); "
        f"events: {counts['nod']} nods, {counts['shake']} shakes, {counts['gesture']} gestures; "
        f"{n / elapsed if elapsed > 0 else 0:.1f} frames/s"
    )
    print(f"perceive: features -> {out_path}" + (f"; overlay ({video.codec}) -> {args.overlay}" if video else ""))
    if ended.startswith("video ended early"):
        print(f"perceive: warning: {source.name}: {ended}", file=sys.stderr)
    if n == 0:
        raise PerceptionError(f"{source.name}: no frames were read; check the source")
    return 0
