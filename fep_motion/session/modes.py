"""The three user-facing session modes behind `fep-motion demo`, `live` and `run`: typed options -> SessionSpec -> run
-> printed summary (docs/architecture.md §1, §4). The CLI maps its flags onto these options; errors here name the
option (a SettingError), and the CLI words them as its flags.
"""
from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from fep_motion.session.agent import check_policy_without_participant
from fep_motion.session.errors import SettingError
from fep_motion.session.runner import SessionSpec, run_session
from fep_motion.session.sources import (
    FrameSourceAdapter,
    RecordedSessionSource,
    VirtualParticipantSource,
    parse_recorded_spec,
)
from fep_motion.session.summary import format_summary, summarize
from fep_motion.store import EventRow, Store


@dataclass(frozen=True)
class DialogueOptions:
    """Who answers the participant's utterances (None everywhere: the brain is off unless a script or chat box)."""

    utterances: str | None = None  # script of 't_seconds<TAB>text' lines
    brain: str | None = None  # embedded | openai | off
    base_url: str | None = None
    brain_model: str | None = None
    brain_timeout: float | None = None


@dataclass(frozen=True)
class DemoOptions:
    """`demo`: a virtual participant drives the loop; store, video and summary.txt go under `out`."""

    out: Path = Path("out/demo")
    duration: float = 60.0  # session seconds
    policy: str = "fep"
    fps: float = 30.0
    seed: int = 0
    fast: bool = False  # virtual time instead of real time
    video: bool = True
    voice: str = "on"
    dialogue: DialogueOptions = field(default_factory=DialogueOptions)
    audio: str = "off"  # on: the participant speaks aloud (espeak-ng): its utterance script, else its own talk model
    asr: str = "on"  # on: what it says reaches the brain through recognition; off: audio analysed only
    asr_adapt: Path | None = None  # a speaker adaptation file (`fep-motion hearing enroll`) for recognition


@dataclass(frozen=True)
class LiveOptions:
    """`live`: a camera index or a video used as a fake camera, in real time."""

    participant: str
    camera: str = "0"
    store: Path = Path("study.db")
    policy: str = "fep"
    display: bool = True
    duration: float | None = None  # None: until the window's q
    fps: float = 30.0
    seed: int = 0
    video: Path | None = None
    voice: str = "on"
    dialogue: DialogueOptions = field(default_factory=DialogueOptions)
    audio: str = "auto"  # auto | off | mic | mic:N | a .wav / video file (auto: the clip's track, else a microphone)
    asr: str = "on"  # on: what is heard goes to the brain as the participant's utterances; off: typing only
    asr_adapt: Path | None = None  # a speaker adaptation file (`fep-motion hearing enroll`) for recognition


@dataclass(frozen=True)
class OfflineOptions:
    """`run`: a video file or a recorded session (STUDY.db:SESSION_ID) through a policy."""

    source: str
    out: Path
    policy: str = "fep"
    realtime: bool = False
    participant: str | None = None  # default: from the source
    seed: int = 0
    video: bool = True
    max_frames: int | None = None
    voice: str = "on"
    dialogue: DialogueOptions = field(default_factory=DialogueOptions)
    audio: str = "auto"  # auto (the video's audio track, if it has one) | off | a .wav / video file
    asr: str = "on"
    asr_adapt: Path | None = None  # a speaker adaptation file (`fep-motion hearing enroll`) for recognition


def _dialogue(d: DialogueOptions, chat_box: bool = False, realtime: bool = True,
              heard: bool = False) -> tuple[Any, dict[str, Any]]:
    """The session's Dialogue (None when the brain is off) and what to store about it in session_meta."""
    from fep_motion.session.dialogue import dialogue_from_options

    return dialogue_from_options(d.utterances, d.brain, d.base_url, d.brain_model, d.brain_timeout,
                               chat_box=chat_box, realtime=realtime, heard=heard)


def _warn(text: str) -> None:
    """One warning line on stderr (the session goes on)."""
    print(f"fep-motion: warning: {text}", file=sys.stderr)


def _check_asr(asr: str) -> bool:
    if asr not in ("on", "off"):
        raise SettingError("asr", f"{asr!r}: use on or off")
    return asr == "on"


def _recognizer(adapt: Path | None) -> Any:
    """The recogniser's settings with the speaker adaptation file when one is given (checked now, so a bad file is
    a one-line error before anything is recorded); None: the source's default (fep_motion.session.hearing)."""
    from perception.audio.adapt import load_adaptation
    from perception.audio.asr import RecognizerConfig
    from perception.errors import PerceptionError

    if adapt is None:
        return None
    try:
        load_adaptation(adapt)
    except PerceptionError as exc:
        raise SettingError("asr_adapt", str(exc)) from None
    return RecognizerConfig(adaptation=str(adapt))


def _demo_speech(opts: DemoOptions) -> list[tuple[float, str]] | None:
    """What the virtual participant says aloud: its utterance script, [] for its own talk model, None when silent."""
    from fep_motion.session.dialogue import load_script

    if opts.audio not in ("on", "off"):
        raise SettingError("audio", f"{opts.audio!r}: use on or off")
    if opts.audio == "off":
        return None
    if shutil.which("espeak-ng") is None:
        raise SettingError("audio", "the participant speaks with espeak-ng, which is not installed; "
                                    "apt-get install -y espeak-ng, or set audio off")
    if not opts.dialogue.utterances:
        return []
    return [(line.t, line.text) for line in load_script(opts.dialogue.utterances)]


def _demo_hearing(speech: list[tuple[float, str]], participant: Any, asr: bool, realtime: bool,
                  recognizer: Any = None) -> Any:
    """The demo's ears: the spoken script, or the participant's own voice (speech_source(), rendered as the loop
    advances the participant, so polled on the loop's thread: realtime=False; docs/architecture.md §1)."""
    from fep_motion.session.hearing import participant_voice, spoken_script

    if speech:
        return spoken_script(speech, asr=asr, realtime=realtime, recognizer=recognizer)
    try:
        return participant_voice(participant, asr=asr, realtime=realtime, recognizer=recognizer)
    except ValueError as exc:
        raise SettingError("audio", f"{exc} and no utterances were given; enable its speech, add utterances, or "
                                    "set audio off") from None


def _clip_hearing(path: str, asr: bool, realtime: bool, explicit: bool, recognizer: Any = None) -> Any:
    """A Hearing on a video file's audio track; without a track: an error when asked for, else one warning, None."""
    from fep_motion.session.hearing import Hearing
    from perception.audio.sources import VideoAudioSource
    from perception.errors import PerceptionError

    try:
        source = VideoAudioSource(path)
    except PerceptionError as exc:
        if explicit:
            raise
        _warn(f"{exc}; running without audio")
        return None
    return Hearing(source, asr=asr, realtime=realtime, label=f"audio track of {path}", recognizer=recognizer)


def _live_hearing(opts: LiveOptions, camera_is_device: bool) -> Any:
    """The live session's ears: --audio auto = the clip's track when the camera is a video, else a microphone if
    one exists, else none (one warning line); an explicit source that cannot open is a one-line error."""
    from fep_motion.session.hearing import open_hearing
    from perception.errors import PerceptionError

    asr = _check_asr(opts.asr)
    rec = _recognizer(opts.asr_adapt)
    if opts.audio == "off":
        return None
    if opts.audio == "auto":
        if not camera_is_device:
            return _clip_hearing(opts.camera, asr, True, explicit=False, recognizer=rec)
        try:
            return open_hearing("mic", asr=asr, realtime=True, recognizer=rec)
        except PerceptionError as exc:
            _warn(f"{exc}; running without audio")
            return None
    return open_hearing(opts.audio, asr=asr, realtime=True, recognizer=rec)


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


def _check_duration(duration: float | None) -> None:
    if duration is not None and not (duration > 0 and math.isfinite(duration)):
        raise SettingError("duration", f"must be a positive number of seconds, got {duration}")


def _check_fps(fps: float) -> None:
    if not (fps > 0 and math.isfinite(fps)):
        raise SettingError("fps", f"must be a positive number of frames per second, got {fps}")


def run_demo(opts: DemoOptions, participant: Any,
             speech_truth: Callable[[], Sequence[EventRow]] | None = None) -> int:
    """A virtual participant drives the loop; store, H.264 video of the agent and summary go under `opts.out`.
    `speech_truth`: after a session in which the participant talked with its own voice, the rows of what it said
    (stored with the session for the backchannel analysis, docs/architecture.md §5)."""
    _check_duration(opts.duration)
    _check_fps(opts.fps)
    asr = _check_asr(opts.asr)
    rec = _recognizer(opts.asr_adapt)
    speech = _demo_speech(opts)
    own_voice = speech == []
    d_opts = opts.dialogue
    if own_voice and asr and d_opts.brain is None:  # what it says goes to the brain, as a script would
        d_opts = replace(d_opts, brain="embedded")
    dialogue, brain_meta = _dialogue(d_opts, realtime=not opts.fast, heard=speech is not None and asr)
    hearing = _demo_hearing(speech, participant, asr, not opts.fast, rec) if speech is not None else None
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    db = out / "study.db"
    video = out / "agent.mp4" if opts.video else None
    spec = SessionSpec(db, "VP-demo", opts.policy, "demo", fps=opts.fps, duration=opts.duration,
                       realtime=not opts.fast, seed=opts.seed, video_path=video, voice=opts.voice)
    meta = {"virtual_participant": _vp_meta(participant), **({"brain": brain_meta} if brain_meta else {})}
    sid, result = run_session(spec, VirtualParticipantSource(participant), source_label="virtual participant",
                              participant=participant, meta=meta, dialogue=dialogue, hearing=hearing)
    extra = []
    if own_voice and speech_truth is not None:
        rows = list(speech_truth())
        with Store.open(db, recover=False) as store, store.transaction():
            store.add_events(sid, rows)
        extra.append(f"participant speech   {len(rows)} phrases stored as ground truth (actor participant_speech)")
    extra += [f"database             {db} (session {sid})"] + ([f"agent video          {video}"] if video else [])
    text = _print_summary(db, sid, result, extra)
    (out / "summary.txt").write_text(text + "\n")
    return 0


def _vp_meta(participant: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return {"seed": participant.seed, "config": asdict(participant.config)}


def run_live(opts: LiveOptions) -> int:
    """Webcam (or a video as a fake camera) in real time, with the dashboard window when `opts.display`."""
    check_policy_without_participant(opts.policy)
    _check_duration(opts.duration)
    _check_fps(opts.fps)
    dialogue, brain_meta = _dialogue(opts.dialogue, chat_box=opts.display)
    display = None
    if opts.display:
        from fep_motion.session.display import OpenCVDisplay

        display = OpenCVDisplay(say=dialogue.say if dialogue is not None else None)
    source = FrameSourceAdapter(opts.camera)
    hearing = _live_hearing(opts, source.is_camera)
    db = Path(opts.store)
    video = Path(opts.video) if opts.video else None
    # never tick faster than the camera delivers (each tick without a new frame would be a gap)
    fps = min(opts.fps, source.fps) if source.is_camera else opts.fps
    if hearing is not None and not source.is_camera and not hearing.live and opts.audio == "auto":
        fps = source.fps  # a clip heard through its own track: one clip frame per tick keeps picture and sound together
    spec = SessionSpec(db, opts.participant, opts.policy, "live", fps=fps, duration=opts.duration,
                       realtime=True, seed=opts.seed, video_path=video, render=display is not None,
                       voice=opts.voice)
    try:
        sid, result = run_session(spec, source, source_label=str(opts.camera), display=display,
                                  meta={"brain": brain_meta} if brain_meta else None, dialogue=dialogue,
                                  hearing=hearing)
    finally:
        if display is not None:
            display.close()
    _print_summary(db, sid, result, [f"database             {db} (session {sid})"])
    return 0


def run_offline(opts: OfflineOptions) -> int:
    """A video file or a recorded session through a policy, faster than real time unless `opts.realtime`."""
    check_policy_without_participant(opts.policy)
    if opts.max_frames is not None and opts.max_frames < 1:
        raise SettingError("max_frames", f"must be >= 1, got {opts.max_frames}")
    asr = _check_asr(opts.asr)
    rec = _recognizer(opts.asr_adapt)
    dialogue, brain_meta = _dialogue(opts.dialogue, realtime=opts.realtime)
    out = Path(opts.out)
    recorded = parse_recorded_spec(opts.source)
    if recorded is not None and not Path(opts.source).exists():
        db_in, sid_in = recorded
        if not Path(db_in).is_file():
            raise SettingError("source", f"{db_in}: no such study database (give STUDY.db:SESSION_ID or a video path)")
        source: Any = RecordedSessionSource(db_in, sid_in)
        participant = opts.participant or source.participant_id
        fps = source.fps
        label = f"replay of {opts.source}"
    else:
        if not Path(opts.source).exists():
            raise SettingError(
                "source", f"{opts.source}: no such video file (give a video path or STUDY.db:SESSION_ID)")
        source = FrameSourceAdapter(opts.source, reconnect_attempts=0)
        participant = opts.participant or Path(opts.source).stem
        fps = source.fps
        label = str(opts.source)
    duration = None if opts.max_frames is None else opts.max_frames / fps
    out.mkdir(parents=True, exist_ok=True)
    db = out / "study.db"
    video = out / "agent.mp4" if opts.video else None
    spec = SessionSpec(db, participant, opts.policy, "run", fps=fps, duration=duration, realtime=opts.realtime,
                       seed=opts.seed, video_path=video, voice=opts.voice)
    hearing = None
    if opts.audio == "auto" and isinstance(source, FrameSourceAdapter):
        hearing = _clip_hearing(opts.source, asr, opts.realtime, explicit=False, recognizer=rec)
    elif opts.audio not in ("auto", "off"):
        from fep_motion.session.hearing import open_hearing

        hearing = open_hearing(opts.audio, asr=asr, realtime=opts.realtime, recognizer=rec)
    sid, result = run_session(spec, source, source_label=label, meta={"brain": brain_meta} if brain_meta else None,
                              dialogue=dialogue, hearing=hearing)
    _print_summary(db, sid, result, [f"database             {db} (session {sid})"])
    return 0
