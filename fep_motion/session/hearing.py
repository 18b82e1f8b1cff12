"""The session's ears (docs/architecture.md §1): an audio source -> voice features, speech events, transcripts, handed
to the session loop once per tick.

In real time a thread reads the source (pacing a file or synthesized speech on the session clock), analyses each
20 ms frame and queues the results; recognition runs in a child process (fep_motion/session/asr_worker.py), so the
video loop never waits on audio. In virtual time (`--fast`, offline `run`) the loop's `poll(t)` analyses and
recognises every frame that ended by t itself, which makes the run reproducible. Drop-outs become recorded gaps and
the end of the audio only ends hearing, never the session (the video sources' fault model, §4).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from perception.audio.asr import RecognizerConfig, SegmentedRecognizer
from perception.audio.features import AnalyzerConfig, AudioAnalyzer
from perception.audio.sources import AudioSource
from perception.audio.types import FRAME_MS, AudioFrame, AudioFrameFeatures, SpeechEvent, Transcript
from perception.sources import SourceEvent
from perception.types import Observation

FRAME_S = FRAME_MS / 1000.0
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Heard:
    """One recognised utterance and the session time the loop received it."""

    transcript: Transcript
    t_ready: float


def default_recognizer(source: AudioSource) -> RecognizerConfig:
    """Our LM, and for an espeak-ng voice (a source with a `voice`) its shipped speaker adaptation if there is one
    (perception/audio/data/voices; docs/architecture.md §1): a virtual participant is heard as an enrolled speaker."""
    from perception.audio.adapt import voice_adaptation

    voice = getattr(source, "voice", None)
    return RecognizerConfig(adaptation=voice_adaptation(voice) if isinstance(voice, str) else None)


@dataclass
class HearingTick:
    """What the audio stage delivers to one tick: frames' features, speech events, transcripts, source trouble."""

    features: list[AudioFrameFeatures] = field(default_factory=list)
    events: list[SpeechEvent] = field(default_factory=list)
    transcripts: list[Heard] = field(default_factory=list)
    gaps_opened: list[tuple[float, str]] = field(default_factory=list)  # (t, reason): audio stopped arriving
    gaps_closed: list[float] = field(default_factory=list)  # t: audio is back
    ended: str = ""  # non-empty once: why the audio stream ended


class Hearing:
    """Audio source + AudioAnalyzer (+ recogniser when `asr`) as one session stage; `poll(t)` once per tick.

    `live`: the source stamps frames with time.monotonic() (a microphone); they are moved onto the session clock
    at `start`. Otherwise frame times are already session seconds (a file, a clip's track, synthesized speech)."""

    def __init__(self, source: AudioSource, *, asr: bool = True, realtime: bool = True, live: bool = False,
                 threaded: bool | None = None, label: str = "", recognizer: RecognizerConfig | None = None) -> None:
        """`threaded` (default: `realtime`): a reader thread reads the source. A source that the loop itself feeds
        (the virtual participant's voice, rendered as the loop advances it) is read by `poll` on the loop's thread;
        recognition still runs in its own process whenever the session is real time. `recognizer`: the
        recogniser's settings (default: our LM; a synthesized voice with a shipped adaptation gets it)."""
        recognizer = recognizer or default_recognizer(source)
        self.source = source
        self.asr = asr
        self.realtime = realtime
        self.threaded = realtime if threaded is None else threaded
        self.live = live
        self.label = label or getattr(source, "name", "audio")
        # the speaker adaptation file the recogniser uses (stored with the session; None: pocketsphinx's own means)
        self.adaptation = str(recognizer.adaptation) if asr and recognizer.adaptation is not None else None
        self.analyzer = AudioAnalyzer(AnalyzerConfig())
        self._sync_rec: SegmentedRecognizer | None = None
        self._proc_rec: Any = None  # asr_worker.ProcessRecognizer
        if asr and realtime:
            from fep_motion.session.asr_worker import ProcessRecognizer

            self._proc_rec = ProcessRecognizer(recognizer)
        elif asr:
            self._sync_rec = SegmentedRecognizer(recognizer)
        self._it = iter(source)
        self._lookahead: AudioFrame | SourceEvent | None = None
        self._queue: queue.SimpleQueue[HearingTick] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._clock: Callable[[], float] = lambda: 0.0
        self._offset = 0.0
        self._ended = False
        self._gap_open = False
        self._audio_t = 0.0  # session time of the end of the last frame analysed
        # the loop's view, carried across ticks for the Observation fields
        self.speaking = False
        self._onset_t: float | None = None
        self._last_t = 0.0

    # -- lifecycle ------------------------------------------------------------------------------------------------
    def start(self, clock: Callable[[], float], t0_monotonic: float) -> None:
        """Begin hearing at session t = 0: `clock()` gives session seconds; `t0_monotonic` is time.monotonic() then."""
        self._clock = clock
        self._offset = t0_monotonic if self.live else 0.0
        if self.threaded:
            self._thread = threading.Thread(target=self._run, name="hearing", daemon=True)
            self._thread.start()

    def close(self, t_end: float) -> HearingTick:
        """Stop reading; close an open utterance; return what was still on its way (transcripts awaited briefly)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        out = self._drain(t_end)
        if not self._ended:
            self._end(out, t_end, "")
        if self._proc_rec is not None:
            out.transcripts += [Heard(tr, t_end) for tr in self._proc_rec.close(wait_s=3.0)]
        self.shutdown()
        return out

    def shutdown(self) -> None:
        """Release the thread, the recogniser process and the device (idempotent; what is unheard is dropped)."""
        self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(2.0)
        if self._proc_rec is not None:
            self._proc_rec.close(wait_s=0.5)
            self._proc_rec = None
        try:
            self.source.close()
        except Exception as exc:  # noqa: BLE001 - the device is already gone; nothing heard is lost
            log.info("closing the audio source: %s", exc)

    # -- per tick -------------------------------------------------------------------------------------------------
    def poll(self, t: float) -> HearingTick:
        """Everything heard up to session time t (virtual time: computed now; real time: taken from the thread)."""
        out = self._drain(t) if self.threaded else self._read_until(t)
        if self._proc_rec is not None:
            out.transcripts += [Heard(tr, t) for tr in self._proc_rec.take()]
        return out

    def _read_until(self, t: float) -> HearingTick:
        """Analyse (and recognise) every frame that ended by t, on the caller's thread."""
        out = HearingTick()
        while not self._ended:
            item = self._lookahead if self._lookahead is not None else next(self._it, None)
            self._lookahead = None
            if item is None:
                self._end(out, t, "audio stream ended")
                break
            if isinstance(item, AudioFrame) and item.t + FRAME_S > t + 1e-9:
                self._lookahead = item  # not heard yet at t
                break
            self._handle(item, out, t)
        return out

    def observe(self, obs: Observation, heard: HearingTick) -> Observation:
        """`obs` with the voice fields filled from this tick's audio (perception.types.Observation, §2)."""
        for f in heard.features:
            self._last_t = f.t + FRAME_S
        for e in heard.events:
            if e.kind == "onset":
                self.speaking, self._onset_t = True, e.t
            elif e.kind == "offset":
                self.speaking, self._onset_t = False, None
        if heard.features:
            self.speaking = heard.features[-1].in_speech
            if not self.speaking:
                self._onset_t = None
        voiced = [f.f0_hz for f in heard.features if f.voiced and f.f0_hz > 0]
        speech_s = max(0.0, self._last_t - self._onset_t) if self.speaking and self._onset_t is not None else 0.0
        obs.speaking = self.speaking
        obs.speech_events = tuple(e.kind for e in heard.events)
        obs.f0_hz = voiced[-1] if voiced else None
        obs.speech_s = speech_s
        return obs

    # -- the work -------------------------------------------------------------------------------------------------
    def _handle(self, item: AudioFrame | SourceEvent, out: HearingTick, t_now: float) -> None:
        """Analyse one frame (and recognise it) or act on a source event; results go into `out`."""
        if isinstance(item, SourceEvent):
            if item.kind == "dropout":
                flushed = self.analyzer.dropout(item.t - self._offset)
                out.events += flushed
                self._recognize_flush(flushed, out, t_now)
                if not self._gap_open:
                    self._gap_open = True
                    out.gaps_opened.append((max(0.0, item.t - self._offset), f"audio dropout: {item.detail}"))
            elif item.kind == "recovered":
                if self._gap_open:
                    self._gap_open = False
                    out.gaps_closed.append(max(0.0, item.t - self._offset))
            else:
                self._end(out, t_now, item.detail or "audio stream ended")
            return
        if self.live:
            item = AudioFrame(item.samples, item.t - self._offset, item.index)
            if item.t < 0:
                return  # captured before the session's first tick
        feats, events = self.analyzer.process(item)
        self._audio_t = item.t + FRAME_S
        out.features.append(feats)
        out.events += events
        if self._sync_rec is not None:
            tr = self._sync_rec.process(item, events)
            if tr is not None:
                out.transcripts.append(Heard(tr, t_now))
        elif self._proc_rec is not None:
            self._proc_rec.send(item, events)

    def _recognize_flush(self, flushed: list[SpeechEvent], out: HearingTick, t_now: float) -> None:
        if self._sync_rec is not None:
            tr = self._sync_rec.flush(flushed)
            if tr is not None:
                out.transcripts.append(Heard(tr, t_now))
        elif self._proc_rec is not None:
            self._proc_rec.flush(flushed)

    def _end(self, out: HearingTick, t_now: float, detail: str) -> None:
        flushed = self.analyzer.dropout(self._audio_t)  # closes an utterance still open at the end of the audio
        out.events += flushed
        self._recognize_flush(flushed, out, t_now)
        if self._gap_open:
            self._gap_open = False
            out.gaps_closed.append(t_now)
        self._ended = True
        out.ended = detail

    def _run(self) -> None:
        """The real-time reader: pace non-live frames on the session clock, analyse, queue one HearingTick per
        frame or event; an exception is the end of the audio (a recorded reason), never the session's end."""
        try:
            for item in self._it:
                if self._stop.is_set():
                    return
                if isinstance(item, AudioFrame) and not self.live:
                    wait = item.t + FRAME_S - self._clock()
                    if wait > 0 and self._stop.wait(wait):
                        return
                out = HearingTick()
                self._handle(item, out, self._clock())
                self._queue.put(out)
                if self._ended:
                    return
        except Exception as exc:  # noqa: BLE001 - a failing device or decoder ends hearing, not the session
            out = HearingTick()
            self._end(out, self._clock(), f"audio error: {type(exc).__name__}: {exc}")
            self._queue.put(out)

    def _drain(self, t: float) -> HearingTick:
        """Merge what the reader thread queued since the last tick (transcripts stamped ready at t)."""
        out = HearingTick()
        while True:
            try:
                part = self._queue.get_nowait()
            except queue.Empty:
                return out
            out.features += part.features
            out.events += part.events
            out.gaps_opened += part.gaps_opened
            out.gaps_closed += part.gaps_closed
            out.ended = out.ended or part.ended


def open_hearing(spec: str, *, asr: bool, realtime: bool, recognizer: RecognizerConfig | None = None) -> Hearing:
    """A Hearing on 'mic' / 'mic:N' (live, on the monotonic clock), a .wav or a video/audio file (session clock).

    Raises PerceptionError (one line, the device or file and the fix) when the source cannot be opened."""
    from perception.audio.sources import MicrophoneSource, open_audio_source

    text = str(spec).strip()
    if text == "mic" or text.startswith("mic:"):
        dev = text[4:] or None
        source: AudioSource = MicrophoneSource(int(dev) if dev and dev.isdigit() else dev, clock=time.monotonic)
        return Hearing(source, asr=asr, realtime=True, live=True, label=source.name, recognizer=recognizer)
    return Hearing(open_audio_source(text), asr=asr, realtime=realtime, label=text, recognizer=recognizer)


def spoken_script(script: Sequence[tuple[float, str]], *, asr: bool, realtime: bool,
                  recognizer: RecognizerConfig | None = None) -> Hearing:
    """A Hearing on a participant who speaks `script` [(t_s, text)] aloud (espeak-ng), on the session clock.

    The source's `utterances` give each utterance's true audible start and end (for latency measurements)."""
    from perception.audio.sources import SpeechSynthSource

    source = SpeechSynthSource(list(script))
    return Hearing(source, asr=asr, realtime=realtime, label=f"participant speech ({source.name})",
                   recognizer=recognizer)


def participant_voice(participant: Any, *, asr: bool, realtime: bool,
                      recognizer: RecognizerConfig | None = None) -> Hearing:
    """A Hearing on a virtual participant's own voice (its `speech_source()`). The voice is rendered as the loop
    advances the participant, so the loop's thread reads it (threaded=False); recognition still runs in its own
    process in real time. Raises ValueError when the participant does not talk."""
    source = participant.speech_source() if hasattr(participant, "speech_source") else None
    if source is None:
        raise ValueError("the virtual participant does not talk (its config's speech.enabled is false)")
    return Hearing(source, asr=asr, realtime=realtime, threaded=False, label="virtual participant voice",
                   recognizer=recognizer)
