"""`fep-motion live`: webcam (or a video as a fake camera) -> perception -> agent -> body, with an OpenCV window."""
from __future__ import annotations

import argparse

from cli.demo import add_audio_flags, add_dialogue_flags, dialogue_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "live",
        help="run a live session from a webcam (or a video path as a fake camera)",
        description="Live session: camera image with skeleton and events, the agent's view, a strip chart of F and "
        "of the last decision's G per gesture class, and a chat box. Keys: q quit, space pause, m marker; t or Tab "
        "starts typing to the agent, Enter sends, Esc cancels.",
    )
    p.add_argument("--camera", default="0", help="camera index (0) or a video path used as a fake camera")
    p.add_argument("--policy", default="fep", help="agent policy name or module:Class (default fep)")
    p.add_argument("--participant", required=True, help="pseudonymous participant id, e.g. P01")
    p.add_argument("--store", default="study.db", help="study database (default study.db)")
    p.add_argument("--no-display", action="store_true", help="run headless (no window)")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds (default: until q)")
    p.add_argument("--fps", type=float, default=30.0, help="scheduler rate in Hz (default 30)")
    p.add_argument("--seed", type=int, default=0, help="policy seed")
    p.add_argument("--video", default=None, help="also write the agent's view to this .mp4")
    add_dialogue_flags(p)
    add_audio_flags(p, None, "auto (default): the --camera video's audio track, else the microphone if there is one, "
                             "else none (one warning); mic, mic:N (device N), a .wav or video file, or off")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fep_motion.session.modes import LiveOptions, run_live

    return run_live(LiveOptions(participant=args.participant, camera=args.camera, store=Path(args.store),
                                policy=args.policy, display=not args.no_display, duration=args.duration, fps=args.fps,
                                seed=args.seed, video=Path(args.video) if args.video else None, voice=args.voice,
                                dialogue=dialogue_options(args), audio=args.audio, asr=args.asr,
                                asr_adapt=args.asr_adapt))
