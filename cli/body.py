"""`fep-motion body`: show a gesture (video or GUI), render the gallery of every primitive, list primitives and their
parameter ranges, export motion as BVH, and play DeepMimic mocap on the body."""

from __future__ import annotations

import argparse
import time


def _write_with_progress(frames, total: int, desc: str, out: str, fps: float, size: tuple[int, int]) -> int:
    """Write rendered frames to a video with progress (a bar on a terminal, else one line); returns the frame count."""
    from fep_motion.body.clip import write_video
    from tty_progress import progress

    with progress(desc, "frame", total, leave=False) as bar:
        return write_video(bar.wrap(frames), out, fps, size)


def register(subparsers: argparse._SubParsersAction) -> None:
    body = subparsers.add_parser(
        "body", help="the agent's body: show gestures, gallery, list, BVH export, mocap"
    )
    sub = body.add_subparsers(dest="body_command", metavar="ACTION")
    body.set_defaults(func=lambda args: (body.print_help(), 2)[1])

    def render_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--size", default="320x240", help="frame size WxH (default 320x240)")
        p.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
        p.add_argument(
            "--backend",
            default="auto",
            choices=("auto", "egl", "tiny"),
            help="headless renderer: EGL plugin if it loads, else TinyRenderer (default auto)",
        )

    show = sub.add_parser(
        "show", help="perform one gesture: write a clip (--out) and/or show it live (--gui)"
    )
    show.add_argument("gesture", help="primitive name (see `fep-motion body list`)")
    show.add_argument(
        "--param", action="append", default=[], metavar="K=V", help="parameter override (repeatable)"
    )
    show.add_argument("--out", help="write the clip to this video file (.mp4)")
    show.add_argument("--gui", action="store_true", help="show it in PyBullet's GUI window in real time")
    show.add_argument(
        "--look", metavar="X,Y,Z", help="world point the head turns toward (e.g. the human, 1.5,0.3,1.4)"
    )
    render_opts(show)
    show.set_defaults(func=_show)

    gal = sub.add_parser("gallery", help="render every primitive (defaults) with its name drawn on the frame")
    gal.add_argument("--out", required=True, help="video file to write (.mp4)")
    gal.add_argument("--only", nargs="*", help="restrict to these primitives")
    render_opts(gal)
    gal.set_defaults(func=_gallery)

    stl = sub.add_parser(
        "stills", help="write the character stills (idle, nod, wave, speaking, gaze left/right) as PNG files"
    )
    stl.add_argument("--out", required=True, help="directory to write NAME.png into (created if missing)")
    stl.add_argument("--size", default="320x240", help="image size WxH (default 320x240)")
    stl.add_argument("--backend", default="tiny", choices=("auto", "egl", "tiny"), help="renderer (default tiny)")
    stl.set_defaults(func=_stills)

    lst = sub.add_parser(
        "list", help="primitives, their gesture class, default duration and parameter ranges"
    )
    lst.set_defaults(func=_list)

    bvh = sub.add_parser("export-bvh", help="export a motion timeline as BVH (Blender, MotionBuilder)")
    bvh.add_argument(
        "specs",
        nargs="+",
        metavar="SPEC",
        help="NAME[@SECONDS][:k=v,...]; without @ a gesture follows the previous one "
        "(e.g. nod:cycles=3 wave@2.0:side=1 interrupts at 2 s)",
    )
    bvh.add_argument("--out", required=True, help="BVH file to write")
    bvh.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    bvh.set_defaults(func=_export_bvh)

    moc = sub.add_parser(
        "mocap", help="play a pybullet_data DeepMimic clip (walk, punch, dance_a, ...) on the body"
    )
    moc.add_argument("clip", help="clip name or path to a humanoid3d_*.txt file")
    moc.add_argument("--out", required=True, help="video file to write (.mp4)")
    render_opts(moc)
    moc.set_defaults(func=_mocap)


def _size(text: str) -> tuple[int, int]:
    from fep_motion.body.errors import BodyError

    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise BodyError(f"--size '{text}' is not WIDTHxHEIGHT (e.g. 320x240)") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096):
        raise BodyError(f"--size {text} out of range (16..4096 pixels per side)")
    return w, h


def _fps(value: float) -> float:
    from fep_motion.body.errors import BodyError

    if not (1.0 <= value <= 240.0):
        raise BodyError(f"--fps {value} out of range [1, 240]")
    return value


def _check_out(path: str | None) -> None:
    from pathlib import Path

    from fep_motion.body.errors import BodyError

    if path and not Path(path).resolve().parent.exists():
        raise BodyError(
            f"--out {path}: directory {Path(path).resolve().parent} does not exist (create it first)"
        )


def _show(args: argparse.Namespace) -> int:
    import numpy as np

    from fep_motion.body.clip import (
        ShowSpec,
        build_timeline,
        frame_times,
        parse_param,
        render_frames,
    )
    from fep_motion.body.errors import BodyError
    from fep_motion.body.render import BodyRenderer
    from sampling.primitives import get_primitive

    if not args.out and not args.gui:
        raise BodyError("nothing to do: give --out CLIP.mp4 to write a video and/or --gui to watch it live")
    size, fps = _size(args.size), _fps(args.fps)
    _check_out(args.out)
    prim = get_primitive(args.gesture)
    params = prim.resolve(dict(parse_param(p) for p in args.param))
    look = None
    if args.look:
        try:
            look = tuple(float(v) for v in args.look.split(","))
            assert len(look) == 3 and all(np.isfinite(look))
        except (ValueError, AssertionError):
            raise BodyError(f"--look '{args.look}' is not X,Y,Z metres (e.g. 1.5,0.3,1.4)") from None
    timeline, end = build_timeline([ShowSpec(args.gesture, params)])
    times = frame_times(0.0, end, fps)
    pretty = ", ".join(f"{k}={v:g}" for k, v in params.items())
    label = f"{args.gesture} ({pretty})" if pretty else args.gesture
    if args.out:
        with BodyRenderer(*size, backend=args.backend) as r:
            if look:
                r.humanoid.look.target = look
                r.humanoid.look.yaw, r.humanoid.look.pitch = r.humanoid.look.desired(
                    r.humanoid.link_position("neck")
                )
            frames = (
                _looking_frames(r, timeline, times, look)
                if look
                else render_frames(r, timeline, times, lambda t: label)
            )
            n = _write_with_progress(frames, len(times), args.gesture, args.out, fps, size)
        print(
            f"wrote {args.out}: {n} frames at {fps:g} fps, {size[0]}x{size[1]}, backend {r.backend}; {label}, "
            f"{prim.duration(params):.2f} s"
        )
    if args.gui:
        with BodyRenderer(*size, backend="gui") as r:
            if look:
                r.humanoid.look.target = look
            t_start = time.monotonic()
            for t, pose in zip(times, timeline.pose(times)):
                r.humanoid.set_pose_looking(pose, 1.0 / fps) if look else r.humanoid.set_pose(pose)
                delay = t - (time.monotonic() - t_start)
                if delay > 0:
                    time.sleep(delay)
    return 0


def _looking_frames(r, timeline, times, look):
    from fep_motion.body.render import draw_label

    dt = float(times[1] - times[0]) if len(times) > 1 else 1 / 30
    for pose in timeline.pose(times):
        r.humanoid.set_pose_looking(pose, dt)
        yield draw_label(r.render(None), f"look at {look}")


def _gallery(args: argparse.Namespace) -> int:

    from fep_motion.body.clip import frame_times, gallery_timeline, render_frames
    from fep_motion.body.render import BodyRenderer
    from sampling.primitives import get_primitive, primitive_names

    size, fps = _size(args.size), _fps(args.fps)
    _check_out(args.out)
    names = args.only or primitive_names()
    for name in names:
        get_primitive(name)
    timeline, label, end = gallery_timeline(names)
    times = frame_times(0.0, end, fps)
    with BodyRenderer(*size, backend=args.backend) as r:
        frames = render_frames(r, timeline, times, label)
        n = _write_with_progress(frames, len(times), "gallery", args.out, fps, size)
    print(
        f"wrote {args.out}: {n} frames at {fps:g} fps, {size[0]}x{size[1]}, backend {r.backend}; "
        f"{len(names)} primitives: {', '.join(names)}"
    )
    return 0


def _stills(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fep_motion.body.errors import BodyError
    from fep_motion.body.stills import write_stills

    size = _size(args.size)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise BodyError(f"--out {out} is a file: give a directory for the PNG stills")
    paths = write_stills(out, backend=args.backend, size=size)
    print(f"wrote {len(paths)} stills ({size[0]}x{size[1]}) to {out}: {', '.join(p.name for p in paths)}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from sampling.primitives import all_primitives

    for prim in all_primitives():
        d = prim.duration(prim.defaults())
        print(
            f"{prim.name:<13} class={prim.gesture_class:<8} duration={d:.2f}s (defaults)  "
            f"{type(prim).__doc__.splitlines()[0]}"
        )
        for r in prim.ranges:
            kind = "int" if r.integer else "float"
            unit = f" {r.unit}" if r.unit else ""
            print(f"    {r.name:<10} {kind:<5} [{r.low:g}, {r.high:g}] default {r.default:g}{unit}")
    return 0


def _export_bvh(args: argparse.Namespace) -> int:
    from fep_motion.body.bvh import write_bvh
    from fep_motion.body.clip import build_timeline, frame_times, parse_spec
    from sampling.primitives import get_primitive

    fps = _fps(args.fps)
    _check_out(args.out)
    specs = [parse_spec(s) for s in args.specs]
    for spec in specs:
        get_primitive(spec.name).resolve(spec.params)
    timeline, end = build_timeline(specs)
    times = frame_times(0.0, end, fps)
    write_bvh(timeline.pose(times), fps, args.out)
    print(f"wrote {args.out}: {len(times)} frames at {fps:g} fps ({end:.2f} s): {' '.join(args.specs)}")
    return 0


def _mocap(args: argparse.Namespace) -> int:

    from fep_motion.body.clip import frame_times
    from fep_motion.body.mocap import load_clip
    from fep_motion.body.render import BodyRenderer, draw_label

    size, fps = _size(args.size), _fps(args.fps)
    _check_out(args.out)
    clip = load_clip(args.clip)
    times = frame_times(0.0, clip.duration, fps)
    with BodyRenderer(*size, backend=args.backend) as r:

        def frames():
            for t in times:
                r.humanoid.set_raw_joints(clip.at(t))
                yield draw_label(r.render(None), f"mocap: {clip.name}")

        n = _write_with_progress(frames(), len(times), clip.name, args.out, fps, size)
    print(f"wrote {args.out}: {n} frames at {fps:g} fps ({clip.duration:.2f} s of {clip.name})")
    return 0
