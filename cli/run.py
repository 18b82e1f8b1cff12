"""`fep-motion run SOURCE --policy NAME --out DIR`: a video file or a recorded session through any policy, offline."""
from __future__ import annotations

import argparse

from cli.demo import add_audio_flags, add_dialogue_flags, dialogue_options


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a video file or a recorded session (STUDY.db:SESSION_ID) through a policy",
        description="Offline session: every frame of SOURCE goes through perception and the policy, faster than "
        "real time unless --realtime. SOURCE is a video path or STUDY.db:SESSION_ID (the participant's stored pose "
        "stream is replayed).",
    )
    p.add_argument("source", help="video path, or STUDY.db:SESSION_ID")
    p.add_argument("--policy", default="fep", help="agent policy name or module:Class (default fep)")
    p.add_argument("--out", required=True, help="output directory (study.db, agent.mp4)")
    p.add_argument("--realtime", action="store_true", help="pace the loop at the source's frame rate")
    p.add_argument("--participant", default=None, help="participant id to store under (default: from the source)")
    p.add_argument("--seed", type=int, default=0, help="policy seed")
    p.add_argument("--no-video", action="store_true", help="skip rendering the agent video")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    add_dialogue_flags(p)
    add_audio_flags(p, None, "auto (default): the video's audio track when it has one (else none, one warning); "
                             "a .wav or video file; or off")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from fep_motion.session.modes import OfflineOptions, run_offline

    return run_offline(OfflineOptions(source=args.source, out=Path(args.out), policy=args.policy,
                                      realtime=args.realtime, participant=args.participant, seed=args.seed,
                                      video=not args.no_video, max_frames=args.max_frames, voice=args.voice,
                                      dialogue=dialogue_options(args), audio=args.audio, asr=args.asr,
                                      asr_adapt=args.asr_adapt))
