"""The session loop (docs/architecture.md §1): source -> perception -> agent -> body timeline -> render/display
-> store.

One pass per scheduler tick, each stage timed. Faults are contained where they happen: a source or pose estimator
that raises, or non-finite landmarks, become a recorded gap (the agent gets Observation.missing and predicts through
it); a renderer or display that raises is switched off with a warning while storing continues; anything else still
finalizes the session (status interrupted) before it propagates. An optional dialogue (utterances -> brain ->
steering of the agent's E/C, fep_motion/session/dialogue.py) runs just before the agent stage and never blocks it.
An optional hearing stage (fep_motion/session/hearing.py) fills the Observation's voice fields, stores what was heard
and hands transcripts to the dialogue as the participant's utterances; an audio drop-out is a recorded gap.
"""
from __future__ import annotations

import array
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from fep_motion.session.scheduler import Scheduler
from fep_motion.session.sources import ParticipantSource, Reading
from fep_motion.store.writer import SessionWriter
from perception.types import Observation, PoseFrame
from sampling.primitives.base import MotionCommand

log = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("source", "perception", "agent", "body", "render", "display", "store")
UPPER_BODY = np.arange(0, 25)  # face, shoulders, arms, hands, hips: the landmarks features are computed from


class Perceiver(Protocol):
    """perception.pipeline.Perception's two entry points."""

    def process(self, frame_bgr: np.ndarray, t: float) -> tuple[PoseFrame, Observation]: ...

    def process_pose(self, pose: PoseFrame) -> tuple[PoseFrame, Observation]: ...


@dataclass
class AgentStep:
    """What the agent did this frame: an optional command, an optional decision record (dict), its F."""

    command: MotionCommand | None = None
    decision: dict[str, Any] | None = None
    free_energy: float | None = None


class Agent(Protocol):
    def step(self, obs: Observation, t: float, body_busy: bool) -> AgentStep: ...


@dataclass
class DisplayState:
    """Everything a live display draws for one frame."""

    t: float
    image: np.ndarray | None
    pose: PoseFrame | None
    observation: Observation
    agent_image: np.ndarray | None
    free_energy: float | None
    last_decision: dict[str, Any] | None
    active_gesture: str | None
    paused: bool = False
    chat: tuple[Any, ...] = ()  # the conversation's latest lines (dialogue.ChatLine: t, speaker, text)


@dataclass
class LoopResult:
    """Outcome of a session: counts, status, timing."""

    status: str  # completed | interrupted
    scheduled: int
    stored: int
    dropped: int
    gaps: list[tuple[float, float | None, str]]
    wall_s: float
    agent_commands: int
    human_events: int
    stage_ms: np.ndarray  # [stored, len(STAGES)]
    warnings: list[str] = field(default_factory=list)
    end_reason: str = ""

    @property
    def achieved_fps(self) -> float:
        return self.stored / self.wall_s if self.wall_s > 0 else float("nan")

    def stage_percentiles(self) -> dict[str, tuple[float, float]]:
        """Per-stage (p50, p95) milliseconds, plus 'total'."""
        out: dict[str, tuple[float, float]] = {}
        if len(self.stage_ms) == 0:
            return out
        for i, name in enumerate(STAGES):
            col = self.stage_ms[:, i]
            out[name] = (float(np.percentile(col, 50)), float(np.percentile(col, 95)))
        tot = self.stage_ms.sum(axis=1)
        out["total"] = (float(np.percentile(tot, 50)), float(np.percentile(tot, 95)))
        return out


def _finite_pose(pose: PoseFrame) -> bool:
    lm = np.asarray(pose.landmarks)
    return bool(np.all(np.isfinite(lm[UPPER_BODY, :2])))


class SessionLoop:
    """Wires the stages; `run()` drives them on the scheduler until the duration, the end of the source, or stop()."""

    def __init__(
        self,
        source: ParticipantSource,
        perceiver: Perceiver,
        agent: Agent,
        timeline: Any,  # sampling.primitives.MotionTimeline
        writer: SessionWriter,
        scheduler: Scheduler,
        renderer: Any = None,  # fep_motion.session.render_worker.RenderWorker (owns the video)
        display: Callable[[DisplayState], str | None] | None = None,
        participant: Any = None,  # a VirtualParticipant to tell of agent commands and to take ground truth from
        on_tick: Callable[[int, float], None] | None = None,
        dialogue: Any = None,  # fep_motion.session.dialogue.Dialogue: utterances -> brain -> steering
        embodiment: Any = None,  # fep_motion.session.embodiment.Embodiment: gaze, blinks, mouth, voice
        hearing: Any = None,  # fep_motion.session.hearing.Hearing: audio -> voice features, events, transcripts
    ) -> None:
        self.source = source
        self.perceiver = perceiver
        self.agent = agent
        self.timeline = timeline
        self.writer = writer
        self.scheduler = scheduler
        self.renderer = renderer
        self.display = display
        self.participant = participant
        self.on_tick = on_tick
        self.dialogue = dialogue
        self.embodiment = embodiment
        self.hearing = hearing
        self.audio_end = ""  # why the audio stream ended (empty: it did not, or there is none)
        self.heard_frames = 0
        if dialogue is not None:
            dialogue.attach(writer)
        self.warnings: list[str] = []
        self._stop_status: str | None = None
        self.paused = False

    def stop(self, status: str = "interrupted") -> None:
        """Ask the loop to finish after the current frame (signal handlers call this)."""
        self._stop_status = status
        self.scheduler.stop()

    def _warn(self, msg: str) -> None:
        log.warning(msg)
        self.warnings.append(msg)

    def _command(self, cmd: MotionCommand, t: float) -> None:
        from sampling.primitives import get_primitive

        try:
            prim = get_primitive(cmd.primitive)
            params = prim.resolve(cmd.params)
            self.timeline.command(cmd)
        except Exception as exc:  # noqa: BLE001 - a bad command from a policy must not end the session
            self._warn(f"t={t:.2f}s: agent command '{cmd.primitive}' rejected: {exc}")
            return
        onset = cmd.onset
        self.writer.event(
            "agent", cmd.primitive, onset, onset + float(prim.duration(params)),
            {"class": prim.gesture_class, "params": params, "issued_at": cmd.issued_at, "source": cmd.source},
        )
        if self.participant is not None:
            self.participant.notify_agent(cmd, prim.gesture_class)

    def _show(self, state: DisplayState, t: float) -> None:
        """Draw one frame on the display and act on its key (quit / pause / marker)."""
        try:
            action = self.display(state) if self.display is not None else None
        except Exception as exc:  # noqa: BLE001 - a broken window must not end the session
            self._warn(f"t={t:.2f}s: display failed, continuing headless: {type(exc).__name__}: {exc}")
            self.display = None
            return
        if action == "quit":
            self.stop("completed")
            self._end_reason = "quit by the user"
        elif action == "marker":
            self.writer.marker(t, "key m")
        elif action == "pause":
            self.paused = not self.paused
            self.writer.marker(t, "pause" if self.paused else "resume")

    def _converse(self, obs: Observation, t: float) -> None:
        """Send due utterances, store landed replies, steer the agent; a failing dialogue is switched off."""
        try:
            shift = self.dialogue.poll(t, obs, getattr(self.agent, "belief", None))
            steer = getattr(self.agent, "steer", None)
            if steer is not None:
                steer(shift)
        except Exception as exc:  # noqa: BLE001 - the conversation must not end the motion session
            self._warn(f"t={t:.2f}s: dialogue failed, continuing without it: {type(exc).__name__}: {exc}")
            self.dialogue = None

    def _embody(self, t: float, pose: PoseFrame | None, agent_pose: np.ndarray) -> tuple[np.ndarray, Any]:
        """The rendered pose (gesture pose + gaze head share) and face; a failing embodiment is switched off."""
        if self.embodiment is None:
            return agent_pose, None
        try:
            head, face = self.embodiment.step(t, pose, self.timeline, self.dialogue)
            return agent_pose + head, face
        except Exception as exc:  # noqa: BLE001 - the face must not end the motion session
            self._warn(f"t={t:.2f}s: face/voice failed, continuing without: {type(exc).__name__}: {exc}")
            self.embodiment = None
            return agent_pose, None

    def _hear(self, obs: Observation, t: float) -> None:
        """Take this tick's audio results: fill obs's voice fields, store them, pass transcripts to the dialogue."""
        try:
            heard = self.hearing.poll(t)
        except Exception as exc:  # noqa: BLE001 - the ears must not end the motion session
            self._warn(f"t={t:.2f}s: hearing failed, continuing without audio: {type(exc).__name__}: {exc}")
            self._close_hearing(t)
            return
        self.hearing.observe(obs, heard)
        self._store_heard(heard)

    def _store_heard(self, heard: Any) -> int:
        """Store one tick's audio results; returns how many transcripts went to the dialogue."""
        w = self.writer
        told = 0
        for f in heard.features:
            w.audio_frame(f.index, f.t, f.vad, f.in_speech, f.energy_db, f.f0_hz, f.voiced)
        self.heard_frames += len(heard.features)
        for e in heard.events:
            w.speech_event(e.kind, e.t, e.t_detected, e.duration_s)
        for t0, reason in heard.gaps_opened:
            w.gap_start(t0, reason)
            self._audio_gap = t0
        for t1 in heard.gaps_closed:
            if self._audio_gap is not None:
                w.gap_end(self._audio_gap, t1)
                self._audio_gap = None
        for h in heard.transcripts:
            tr = h.transcript
            w.transcript(tr.start_t, tr.end_t, tr.text, tr.confidence, tr.latency_s, h.t_ready)
            if self.dialogue is not None and tr.text.strip():
                self.dialogue.hear(tr.text, tr.confidence)
                told += 1
        if heard.ended and not self.audio_end:
            self.audio_end = heard.ended
        return told

    def _close_hearing(self, t_end: float) -> int:
        """Stop the audio stage and store what it still had (Hearing.close ends an open audio gap at t_end); returns
        how many last transcripts went to the dialogue."""
        hearing, self.hearing = self.hearing, None
        try:
            return self._store_heard(hearing.close(t_end))
        except Exception as exc:  # noqa: BLE001 - never lose the session over the ears
            self._warn(f"closing the audio failed: {type(exc).__name__}: {exc}")
            if self._audio_gap is not None:  # the stage could not close its gap: end it here
                self.writer.gap_end(self._audio_gap, t_end)
                self._audio_gap = None
            return 0

    def _store_human_events(self, events: list) -> int:
        """Store each detected participant event once, at its completed report (perception reports it twice)."""
        n = 0
        for ev in events:
            if getattr(ev, "complete", True):
                self.writer.event("participant", ev.kind, ev.t_onset, ev.t_offset,
                                  {"cycles": ev.cycles, "magnitude": ev.magnitude})
                n += 1
        return n

    def run(self) -> LoopResult:
        w = self.writer
        stage_rows = array.array("f")  # float32 per stage per tick: 28 bytes a tick, an hour at 30 Hz is 3 MB
        gap_open: tuple[float, str] | None = None
        n_cmd = n_human = 0
        last_decision: dict[str, Any] | None = None
        end_reason = ""
        status = "completed"
        render_failed = False
        last_idx = -1
        last_state: DisplayState | None = None
        paused_ticks = 0
        started = False
        self._end_reason = ""
        self._audio_gap: float | None = None
        wall0 = time.perf_counter()
        try:
            for tick in self.scheduler.ticks():
                t = tick.t
                if not started:  # unix time of session t = 0 (the scheduler's tick 0)
                    w.started(time.time() - self.scheduler.elapsed())
                    started = True
                    if self.hearing is not None:  # the audio runs on the same session clock from here
                        self.hearing.start(self.scheduler.elapsed, self.scheduler.t0 or time.monotonic())
                if self.paused and self.display is not None and last_state is not None:
                    # paused: nothing is read, decided or stored; the window stays live to resume or quit
                    self._show(dataclasses.replace(last_state, t=t, paused=True), t)
                    w.tick(t)
                    paused_ticks += 1
                    continue
                ms = np.zeros(len(STAGES))
                c0 = time.perf_counter()
                fault: str | None = None
                # -- source
                try:
                    reading = self.source.read(t)
                except Exception as exc:  # noqa: BLE001 - fault injection / flaky device: a gap, not a crash
                    reading = Reading("gap", detail=f"source error: {type(exc).__name__}: {exc}")
                if reading.status == "end":
                    end_reason = reading.detail or "end of source"
                    break
                if reading.status == "gap":
                    fault = reading.detail or "source gap"
                c1 = time.perf_counter()
                # -- perception
                pose: PoseFrame | None = reading.pose  # what is stored: the raw (unfiltered) estimate
                shown: PoseFrame | None = pose  # what is displayed: the filtered one
                obs: Observation | None = None
                try:
                    if reading.image is not None:
                        shown, obs = self.perceiver.process(reading.image, t)
                        pose = getattr(self.perceiver, "last_raw", None) or shown
                    if pose is not None and pose.valid and not _finite_pose(pose):
                        fault = "non-finite landmarks"
                        pose = shown = PoseFrame(t=t, landmarks=pose.landmarks, world=None,
                                                 image_size=pose.image_size, valid=False, frame_index=pose.frame_index)
                        obs = None
                    if pose is not None and obs is None and fault is None:
                        shown, obs = self.perceiver.process_pose(pose)
                except Exception as exc:  # noqa: BLE001 - a throwing pose estimator is a gap
                    fault = f"perception error: {type(exc).__name__}: {exc}"
                if obs is None:
                    obs = Observation.missing(t)
                if self.hearing is not None:  # the voice side of perception (timed with it)
                    self._hear(obs, t)
                c2 = time.perf_counter()
                # -- agent (the conversation's steering first: it never waits on the brain)
                if self.dialogue is not None:
                    self._converse(obs, t)
                step = self.agent.step(obs, t, body_busy=self.timeline.busy_until > t)
                if step.command is not None:
                    self._command(step.command, t)
                    n_cmd += 1
                if step.decision is not None:
                    d = step.decision
                    last_decision = d
                    w.decision(d.get("t", t), d.get("candidates", []), d.get("chosen"), d.get("gamma"),
                               d.get("free_energy", step.free_energy), d.get("belief"))
                c3 = time.perf_counter()
                # -- body
                agent_pose = np.asarray(self.timeline.pose(t), dtype=np.float64)
                shown_pose, face = self._embody(t, shown, agent_pose)
                c4 = time.perf_counter()
                # -- render (never allowed to lose data)
                agent_img = None
                if self.renderer is not None:
                    if self.renderer.error is None:
                        self.renderer.submit(tick.index, shown_pose, face)
                        if self.display is not None:  # only the window shows it (the process worker copies it)
                            agent_img = self.renderer.latest
                    if self.renderer.error is not None and not render_failed:
                        exc = self.renderer.error
                        self._warn(f"t={t:.2f}s: rendering failed, continuing without video: "
                                   f"{type(exc).__name__}: {exc}")
                        render_failed = True
                c5 = time.perf_counter()
                # -- display
                if self.display is not None:
                    last_state = DisplayState(t, reading.image, shown, obs, agent_img, step.free_energy,
                                              last_decision, self.timeline.active(t), self.paused,
                                              tuple(self.dialogue.chat) if self.dialogue is not None else ())
                    self._show(last_state, t)
                c6 = time.perf_counter()
                # -- store
                if gap_open is not None and fault != gap_open[1]:  # the gap ended, or its cause changed
                    w.gap_end(gap_open[0], t)
                    gap_open = None
                if fault is not None and gap_open is None:
                    gap_open = (t, fault)
                    w.gap_start(t, fault)
                n_human += self._store_human_events(obs.events)
                if self.participant is not None:
                    for ev in self.participant.new_truth():
                        w.event("participant_truth", ev.kind, ev.t_onset, ev.t_offset,
                                {"cycles": ev.cycles, "tempo": ev.tempo, "amplitude": ev.amplitude, "cause": ev.cause,
                                 "responds_to": ev.responds_to, "latency": ev.latency, "side": ev.side})
                ms[:6] = np.array([c1 - c0, c2 - c1, c3 - c2, c4 - c3, c5 - c4, c6 - c5]) * 1e3
                w.observation(tick.index, obs, step.free_energy)
                w.frame(tick.index, t, pose, agent_pose=agent_pose, stage_ms=ms, gap=fault is not None)
                w.tick(t)
                ms[6] = (time.perf_counter() - c6) * 1e3
                stage_rows.frombytes(ms.astype(np.float32).tobytes())
                last_idx = tick.index
                if self.on_tick is not None:
                    self.on_tick(tick.index, t)
        except BaseException:
            status = "interrupted"
            raise
        finally:
            if self._stop_status is not None and status == "completed":
                status = self._stop_status
            wall = time.perf_counter() - wall0
            t_end = self.scheduler.emitted / self.scheduler.fps
            if gap_open is not None:
                w.gap_end(gap_open[0], t_end)
            # the last utterance may still be decoding: store it, and let the brain hear it
            if self.hearing is not None and self._close_hearing(t_end) and self.dialogue is not None:
                self._converse(Observation.missing(t_end), t_end)
            if self.dialogue is not None:  # the motion loop is over: replies still out may land (bounded wait)
                try:
                    left = self.dialogue.finish(t_end)
                    if left:
                        self._warn(f"{left} utterance(s) got no reply before the session ended")
                except KeyboardInterrupt:  # a second Ctrl-C while waiting for replies: stop waiting, keep the store
                    self._warn("stopped waiting for the brain's last replies (interrupted)")
                except Exception as exc:  # noqa: BLE001 - never lose the session over the conversation
                    self._warn(f"finishing the dialogue failed: {exc}")
            flush = getattr(self.perceiver, "flush", None)
            if flush is not None:  # events still in progress at the end of the stream
                try:
                    n_human += self._store_human_events(list(flush(t_end)))
                except Exception as exc:  # noqa: BLE001 - never lose the session over the last events
                    self._warn(f"flushing perception events failed: {exc}")
            w.flush()
            try:
                if self.renderer is not None:
                    self.renderer.close(last_idx)
                    if self.renderer.error is not None and not render_failed:
                        self._warn(f"rendering failed: {self.renderer.error}")
            except Exception as exc:  # noqa: BLE001 - closing the video must not lose the store
                self._warn(f"closing the agent video failed: {exc}")
            try:
                self.source.close()
            except Exception as exc:  # noqa: BLE001
                self._warn(f"closing the source failed: {exc}")
        end_reason = end_reason or self._end_reason
        stored = w.store.frame_count(w.session_id)
        scheduled = self.scheduler.scheduled if not end_reason else self.scheduler.emitted + self.scheduler.dropped
        scheduled -= paused_ticks  # paused time is not part of the session's recording
        stage_ms = np.frombuffer(stage_rows, np.float32).astype(np.float64).reshape(-1, len(STAGES))
        return LoopResult(
            status=status, scheduled=scheduled, stored=stored, dropped=self.scheduler.dropped,
            gaps=w.store.gaps(w.session_id), wall_s=wall, agent_commands=n_cmd, human_events=n_human,
            stage_ms=stage_ms, warnings=self.warnings, end_reason=end_reason,
        )
