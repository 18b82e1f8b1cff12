"""Assemble and run one session: store + source + perception + policy + body timeline + renderer/video + display,
with SIGINT/SIGTERM turned into a clean finalize (the session is marked completed or interrupted, never left running).
"""
from __future__ import annotations

import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fep_motion.session.errors import SessionError
from fep_motion.session.loop import STAGES, LoopResult, SessionLoop
from fep_motion.session.render_worker import RenderWorker
from fep_motion.session.scheduler import Scheduler
from fep_motion.session.sources import ParticipantSource
from fep_motion.store import SessionWriter, Store, StoreError
from fep_motion.store.errors import StoreWriteError

log = logging.getLogger(__name__)
RENDER_SIZE = (320, 240)
# TinyRenderer is single-threaded: on a shared 2-core machine it held ~12 ms/frame while EGL (Mesa llvmpipe, which
# spreads over every core) went from ~11 to ~70 ms under load (measured here, load average 5.5); see bench/loop.py.
RENDER_BACKEND = "tiny"


@dataclass
class SessionSpec:
    """Everything that defines a session run (what the CLI flags fill in)."""

    store_path: Path
    participant_id: str
    policy: str
    mode: str  # demo | live | run
    fps: float = 30.0
    duration: float | None = None
    realtime: bool = True
    seed: int = 0
    video_path: Path | None = None  # agent's rendered view as H.264 mp4
    render: bool = False  # render the agent even without a video (for the live display)
    commit_interval: float = 0.25  # seconds of session time between commits (<= 0.5, docs/architecture.md §4)
    progress: bool = True
    voice: str = "on"  # on | off: speak the brain's replies (espeak-ng) into the video / live audio

    def validate(self) -> None:
        if self.voice not in ("on", "off"):
            raise SessionError(f"--voice {self.voice!r}: use on or off")
        if not (self.fps > 0 and self.fps <= 240):
            raise SessionError(f"--fps must be in (0, 240], got {self.fps}")
        if self.duration is not None and not self.duration > 0:
            raise SessionError(f"--duration must be > 0 seconds, got {self.duration}")


def make_perceiver(images: bool = False) -> Any:
    """perception.pipeline.Perception: with MediaPipe when the source delivers images, pose-only otherwise."""
    from perception.pipeline import Perception

    return Perception(create_pose=images)


def make_renderer(size: tuple[int, int] = RENDER_SIZE, backend: str = RENDER_BACKEND) -> Any:
    """The agent's headless PyBullet view."""
    from fep_motion.body.render import BodyRenderer

    return BodyRenderer(size[0], size[1], backend=backend)


def make_embodiment(spec: SessionSpec, dialogue: Any = None) -> Any:
    """The agent's face behaviour (gaze, blinks, idle life, mouth) and, with a conversation, its voice."""
    from fep_motion.body.expression import Expression
    from fep_motion.session.embodiment import SEAT, Embodiment

    voice = None
    if dialogue is not None:
        from fep_motion.voice.voice import Voice

        voice = Voice(spec.voice, realtime=spec.realtime, play=spec.mode == "live" and spec.voice == "on")
    return Embodiment(Expression(seed=spec.seed, default_target=SEAT), voice)


def run_session(
    spec: SessionSpec,
    source: ParticipantSource,
    *,
    source_label: str = "",
    participant: Any = None,
    perceiver: Any = None,
    agent: Any = None,
    display: Callable | None = None,
    renderer: Any = None,
    meta: dict[str, Any] | None = None,
    dialogue: Any = None,
    on_tick: Callable[[int, float], None] | None = None,
    hearing: Any = None,
) -> tuple[int, LoopResult]:
    """Run the session to its end and return (session id, result); the database is left consistent on any exit.

    `dialogue` (fep_motion.session.dialogue.Dialogue) adds the conversation: utterances -> brain -> steering.
    `on_tick(index, t)` is called after each stored tick (progress, soak instrumentation).
    `hearing` (fep_motion.session.hearing.Hearing) adds the audio stage; it is closed however the session ends."""
    try:
        return _run_session(spec, source, source_label, participant, perceiver, agent, display, renderer, meta,
                            dialogue, on_tick, hearing)
    finally:
        if hearing is not None:
            hearing.shutdown()


def _run_session(spec: SessionSpec, source: ParticipantSource, source_label: str, participant: Any, perceiver: Any,
                 agent: Any, display: Callable | None, renderer: Any, meta: dict[str, Any] | None, dialogue: Any,
                 on_tick: Callable[[int, float], None] | None, hearing: Any) -> tuple[int, LoopResult]:
    from fep_motion.session.agent import PolicyAgent
    from sampling.primitives import MotionTimeline

    spec.validate()
    agent = agent or PolicyAgent.from_spec(spec.policy, spec.seed)
    bind = getattr(agent, "bind_participant", None)
    if bind is not None:  # before the store opens: a policy that needs a virtual participant fails cleanly
        bind(participant)
    perceiver = perceiver or make_perceiver(images=getattr(source, "delivers_images", False))
    video = None
    worker: Any = None
    if spec.video_path is not None:
        spec.video_path.parent.mkdir(parents=True, exist_ok=True)
    if renderer is None and (spec.video_path is not None or spec.render) and spec.realtime:
        # real time: the renderer and the video live in their own process (PyBullet holds the GIL while it draws)
        from fep_motion.session.render_process import ProcessRenderWorker

        worker = ProcessRenderWorker(RENDER_SIZE, RENDER_BACKEND, spec.video_path, spec.fps)
    else:
        if renderer is None and (spec.video_path is not None or spec.render):
            renderer = make_renderer()
        if spec.video_path is not None and renderer is not None:
            from perception.video import VideoWriter

            video = VideoWriter(str(spec.video_path), spec.fps, (renderer.width, renderer.height))
    try:
        store = Store.open(spec.store_path)
    except BaseException:
        if worker is not None:
            worker.close()
        raise
    try:
        sid = store.start_session(spec.participant_id, spec.policy, spec.mode, spec.fps, source=source_label,
                                  seed=spec.seed, started_at=time.time())
        store.set_meta(sid, "stage_names", list(STAGES))
        store.set_meta(sid, "realtime", spec.realtime)
        if spec.video_path is not None:
            store.set_meta(sid, "agent_video", str(spec.video_path))
        for k, v in (meta or {}).items():
            store.set_meta(sid, k, v)
        if hearing is not None:
            store.set_meta(sid, "audio", {"source": hearing.label, "asr": hearing.asr, "realtime": hearing.realtime,
                                          "adaptation": hearing.adaptation})
        writer = SessionWriter(store, sid, spec.commit_interval)
        if dialogue is not None:  # with ears, the brain is loaded before the participant can speak (bounded wait)
            dialogue.warm_up(wait_s=30.0 if hearing is not None and hearing.asr else 0.0)
        scheduler = Scheduler(spec.fps, spec.duration, realtime=spec.realtime)
        bar = _progress(spec, scheduler)
        if renderer is not None:
            worker = RenderWorker(renderer.render, video, threaded=spec.realtime)
        embodiment = make_embodiment(spec, dialogue) if worker is not None else None
        loop = SessionLoop(
            source, perceiver, agent, MotionTimeline(), writer, scheduler, renderer=worker, display=display,
            participant=participant, on_tick=_tick_callbacks(bar, on_tick), dialogue=dialogue,
            embodiment=embodiment, hearing=hearing,
        )
        restore = _install_signal_handlers(loop)
        result: LoopResult | None = None
        try:
            result = loop.run()
        finally:
            restore()
            if bar is not None:
                bar.close()
            if embodiment is not None:
                _finish_voice(store, sid, embodiment, spec, scheduler.emitted / spec.fps, result)
            status = result.status if result is not None else "interrupted"
            scheduled = result.scheduled if result is not None else scheduler.emitted + scheduler.dropped
            finish_error = _finish(store, sid, status, scheduled, result)
            if hearing is not None and finish_error is None:
                _audio_meta(store, sid, hearing, loop)
            if renderer is not None and hasattr(renderer, "close"):
                try:
                    renderer.close()
                except Exception as exc:  # noqa: BLE001 - renderer teardown must not mask the session outcome
                    log.warning("closing the renderer failed: %s", exc)
        if finish_error is not None:
            raise finish_error
        return sid, result
    finally:
        if worker is not None and renderer is None:  # the render process, if the loop never ran to close it
            worker.close()
        store.close()


def _finish_voice(store: Store, sid: int, embodiment: Any, spec: SessionSpec, duration: float,
                  result: LoopResult | None) -> None:
    """Mux the spoken replies into the agent video and record what the voice did; a failure is a warning."""
    voice = embodiment.voice
    wav = None
    try:
        wav = embodiment.finish(spec.video_path, duration)
        if voice is not None:
            store.set_meta(sid, "voice", {"mode": voice.mode, "engine": voice.engine,
                                          "utterances": len(voice.spoken),
                                          "spoken_s": round(sum(u.duration for u in voice.spoken), 3),
                                          "track": str(wav) if wav else None})
    except Exception as exc:  # noqa: BLE001 - the voice must not cost the session
        msg = f"the agent's voice was not added to the video: {type(exc).__name__}: {exc}"
        log.warning(msg)
        if result is not None:
            result.warnings.append(msg)


def _audio_meta(store: Store, sid: int, hearing: Any, loop: SessionLoop) -> None:
    """What the audio stage did: frames analysed and why the audio ended, beside its source (session_meta 'audio')."""
    try:
        store.set_meta(sid, "audio", {"source": hearing.label, "asr": hearing.asr, "realtime": hearing.realtime,
                                      "adaptation": hearing.adaptation, "frames": loop.heard_frames,
                                      "ended": loop.audio_end})
    except sqlite3.Error as exc:
        log.warning("recording the audio metadata failed: %s", exc)


def _finish(store: Store, sid: int, status: str, scheduled: int, result: LoopResult | None) -> StoreWriteError | None:
    """Mark the session finished and store its run metadata; a database that refuses (disk full) is returned, not
    raised, so it never masks the error that ended the loop (the session is then marked interrupted on next open)."""
    try:
        store.finish_session(sid, status, scheduled)
        if result is not None:
            store.set_meta(sid, "achieved_fps", result.achieved_fps)
            store.set_meta(sid, "stage_ms_p50_p95", result.stage_percentiles())
            store.set_meta(sid, "warnings", result.warnings)
            store.set_meta(sid, "end_reason", result.end_reason)
    except sqlite3.Error as exc:
        return StoreWriteError(
            f"{store.path}: could not mark session {sid} {status} ({exc}); its frames are intact and it is marked "
            "interrupted the next time the database is opened; free disk space first")
    return None


def _tick_callbacks(bar: Any, on_tick: Callable[[int, float], None] | None) -> Callable[[int, float], None] | None:
    """One per-tick callback: the progress bar's update, then the caller's."""
    if bar is None:
        return on_tick

    def both(i: int, t: float) -> None:
        bar.update(1)
        if on_tick is not None:
            on_tick(i, t)

    return both


def _progress(spec: SessionSpec, scheduler: Scheduler) -> Any:
    if not spec.progress:
        return None
    from tty_progress import progress

    total = scheduler.scheduled if spec.duration is not None else None
    return progress(spec.mode, "frame", total, leave=False)


def _install_signal_handlers(loop: SessionLoop) -> Callable[[], None]:
    """SIGINT/SIGTERM stop the loop after the current frame (a second SIGINT aborts at once)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    hits = {"n": 0}

    def handler(signum: int, frame: Any) -> None:
        hits["n"] += 1
        if hits["n"] > 1 and signum == signal.SIGINT:
            raise KeyboardInterrupt
        loop.stop("interrupted")

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

    def restore() -> None:
        for sig, h in old.items():
            signal.signal(sig, h)

    return restore


__all__ = ["RENDER_SIZE", "SessionSpec", "StoreError", "make_perceiver", "make_renderer", "run_session"]
