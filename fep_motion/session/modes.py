"""The three user-facing session modes behind `fep-motion demo`, `live` and `run` (flags -> SessionSpec -> run)."""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from fep_motion.session.errors import SessionError
from fep_motion.session.runner import SessionSpec, run_session
from fep_motion.session.sources import (
    FrameSourceAdapter,
    RecordedSessionSource,
    VirtualParticipantSource,
    parse_recorded_spec,
)
from fep_motion.session.summary import format_summary, summarize
from fep_motion.store import Store


def _dialogue(args: argparse.Namespace, chat_box: bool = False, realtime: bool = True) -> tuple[Any, dict[str, Any]]:
    """The session's Dialogue from --utterances/--brain/--base-url/--brain-model/--brain-timeout (None: brain off)."""
    from fep_motion.session.dialogue import dialogue_from_flags

    return dialogue_from_flags(getattr(args, "utterances", None), getattr(args, "brain", None),
                               getattr(args, "base_url", None), getattr(args, "brain_model", None),
                               getattr(args, "brain_timeout", None), chat_box=chat_box, realtime=realtime)


def _print_summary(db: Path, sid: int, result: Any, extra: list[str] | None = None) -> str:
    from fep_motion.session.dialogue import turn_lines

    with Store.open(db, recover=False) as store:
        s = summarize(store, sid, result.achieved_fps, result.stage_percentiles())
        turns = turn_lines(store, sid)
    text = format_summary(s)
    for line in turns:
        text += f"\n  {line}"
    if result.dropped:
        text += f"\n  frames dropped       {result.dropped} (the loop was late; ticks skipped, not queued)"
    for w in result.warnings[:5]:
        text += f"\n  warning              {w}"
    for line in extra or []:
        text += f"\n  {line}"
    print(text)
    return text


def run_demo(args: argparse.Namespace, participant: Any) -> int:
    """A virtual participant drives the loop; store, H.264 video of the agent and summary go under --out."""
    if not (args.duration > 0 and math.isfinite(args.duration)):
        raise SessionError(f"--duration must be a positive number of seconds, got {args.duration}")
    dialogue, brain_meta = _dialogue(args, realtime=not args.fast)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "study.db"
    video = None if args.no_video else out / "agent.mp4"
    spec = SessionSpec(db, "VP-demo", args.policy, "demo", fps=args.fps, duration=args.duration,
                       realtime=not args.fast, seed=args.seed, video_path=video, voice=args.voice)
    meta = {"virtual_participant": _vp_meta(participant), **({"brain": brain_meta} if brain_meta else {})}
    sid, result = run_session(spec, VirtualParticipantSource(participant), source_label="virtual participant",
                              participant=participant, meta=meta, dialogue=dialogue)
    extra = [f"database             {db} (session {sid})"] + ([f"agent video          {video}"] if video else [])
    text = _print_summary(db, sid, result, extra)
    (out / "summary.txt").write_text(text + "\n")
    return 0


def _vp_meta(participant: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {"seed": participant.seed, "config": asdict(participant.config)}


def run_live(args: argparse.Namespace) -> int:
    """Webcam (or a video as a fake camera) in real time, with the dashboard window unless --no-display."""
    dialogue, brain_meta = _dialogue(args, chat_box=not args.no_display)
    display = None
    if not args.no_display:
        from fep_motion.session.display import OpenCVDisplay

        display = OpenCVDisplay(say=dialogue.say if dialogue is not None else None)
    source = FrameSourceAdapter(args.camera)
    db = Path(args.store)
    video = Path(args.video) if args.video else None
    # never tick faster than the camera delivers (each tick without a new frame would be a gap)
    fps = min(args.fps, source.fps) if source.is_camera else args.fps
    spec = SessionSpec(db, args.participant, args.policy, "live", fps=fps, duration=args.duration,
                       realtime=True, seed=args.seed, video_path=video, render=display is not None,
                       voice=args.voice)
    try:
        sid, result = run_session(spec, source, source_label=str(args.camera), display=display,
                                  meta={"brain": brain_meta} if brain_meta else None, dialogue=dialogue)
    finally:
        if display is not None:
            display.close()
    _print_summary(db, sid, result, [f"database             {db} (session {sid})"])
    return 0


def run_offline(args: argparse.Namespace) -> int:
    """A video file or a recorded session through a policy, faster than real time unless --realtime."""
    dialogue, brain_meta = _dialogue(args, realtime=args.realtime)
    out = Path(args.out)
    recorded = parse_recorded_spec(args.source)
    if recorded is not None and not Path(args.source).exists():
        db_in, sid_in = recorded
        if not Path(db_in).is_file():
            raise SessionError(f"{db_in}: no such study database (SOURCE is STUDY.db:SESSION_ID or a video path)")
        source: Any = RecordedSessionSource(db_in, sid_in)
        participant = args.participant or source.participant_id
        fps = source.fps
        label = f"replay of {args.source}"
    else:
        if not Path(args.source).exists():
            raise SessionError(f"{args.source}: no such video file (SOURCE is a video path or STUDY.db:SESSION_ID)")
        source = FrameSourceAdapter(args.source, reconnect_attempts=0)
        participant = args.participant or Path(args.source).stem
        fps = source.fps
        label = str(args.source)
    duration = None
    if args.max_frames is not None:
        if args.max_frames < 1:
            raise SessionError(f"--max-frames must be >= 1, got {args.max_frames}")
        duration = args.max_frames / fps
    out.mkdir(parents=True, exist_ok=True)
    db = out / "study.db"
    video = None if args.no_video else out / "agent.mp4"
    spec = SessionSpec(db, participant, args.policy, "run", fps=fps, duration=duration, realtime=args.realtime,
                       seed=args.seed, video_path=video, voice=args.voice)
    sid, result = run_session(spec, source, source_label=label, meta={"brain": brain_meta} if brain_meta else None,
                              dialogue=dialogue)
    _print_summary(db, sid, result, [f"database             {db} (session {sid})"])
    return 0
