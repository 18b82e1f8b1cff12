"""The agent's voice for a session: replies -> (jaw envelope, audio); recorded into a track, played live if asked.

Virtual time: each reply is synthesized at once and starts on the tick it landed (reproducible). Real time: synthesis
runs on a background thread and the utterance starts on the first tick after its audio is ready, so the motion loop
never waits. With `--voice off`, or when no engine is installed (one warning line), replies are text only: the mouth
follows a syllable rhythm from the text and there is no audio.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fep_motion.body.expression import Utterance
from fep_motion.voice.envelope import RATE, audio_envelope, text_envelope
from fep_motion.voice.track import AudioTrack, mux
from perception.audio.espeak import Espeak, Speech, find_engine

VOICE_CHOICES: tuple[str, ...] = ("on", "off")


def _stderr_warning(msg: str) -> None:
    print(f"fep-motion: warning: {msg}", file=sys.stderr)


@dataclass(frozen=True)
class Spoken:
    """A reply ready to start: its jaw envelope and, when voiced, its audio."""

    text: str
    envelope: np.ndarray
    speech: Speech | None


class Voice:
    """Replies in, utterances out (`say` then `poll` each tick); `finish` muxes the recorded track into a video."""

    def __init__(self, mode: str = "on", realtime: bool = False, play: bool = False,
                 warn: Callable[[str], None] = _stderr_warning) -> None:
        if mode not in VOICE_CHOICES:
            raise ValueError(f"--voice {mode!r}: use one of {', '.join(VOICE_CHOICES)}")
        self.mode, self.realtime, self._warn = mode, realtime, warn
        self.tts: Espeak | None = None
        if mode == "on":
            program = find_engine()
            if program is None:
                warn("--voice on: espeak-ng not found (install it: apt-get install espeak-ng); replies stay text "
                     "only, the mouth follows the text")
            else:
                self.tts = Espeak(program)
        self.track = AudioTrack() if self.tts is not None else None
        self.player = None
        if play and self.tts is not None:
            from fep_motion.voice.player import Player, find_player

            command = find_player()
            if command is None:
                warn("no audio player (aplay, paplay or ffplay) found: the voice is not played live")
            else:
                self.player = Player(command)
        self._ready: queue.SimpleQueue[Spoken] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self.spoken: list[Utterance] = []
        self._failed = False

    @property
    def engine(self) -> str | None:
        return self.tts.program if self.tts is not None else None

    def _make(self, text: str) -> Spoken:
        if self.tts is not None and not self._failed:
            try:
                speech = self.tts.synthesize(text)
                return Spoken(text, audio_envelope(speech.samples, speech.rate), speech)
            except (RuntimeError, OSError, ValueError) as exc:
                self._failed = True
                self._warn(f"speech synthesis failed, replies stay text only: {exc}")
        return Spoken(text, text_envelope(text), None)

    def say(self, text: str) -> None:
        """Queue a reply to be spoken (real time: synthesized on a thread; virtual time: now)."""
        if not text.strip():
            return
        if self.realtime and self.tts is not None:
            th = threading.Thread(target=lambda: self._ready.put(self._make(text)), name="voice", daemon=True)
            th.start()
            self._threads.append(th)
        else:
            self._ready.put(self._make(text))

    def poll(self, t: float) -> list[Utterance]:
        """Utterances that start at t (their audio is recorded at t and, live, played now)."""
        out = []
        while True:
            try:
                s = self._ready.get_nowait()
            except queue.Empty:
                break
            if s.speech is not None:
                self.track.add(t, s.speech.samples, s.speech.rate)
                if self.player is not None:
                    self.player.play(s.speech.samples, s.speech.rate)
            u = Utterance(t, s.envelope, RATE, s.text)
            self.spoken.append(u)
            out.append(u)
        return out

    def finish(self, video: Path | None, duration: float) -> Path | None:
        """Mux the session's voice (padded with silence to `duration` s) into `video`; returns the WAV written, if
        any."""
        for th in self._threads:
            th.join(timeout=5.0)
        if self.player is not None:
            self.player.close()
        if video is None or self.track is None or not self.track.clips or not Path(video).is_file():
            return None
        wav = Path(video).with_suffix(".voice.wav")
        self.track.write_wav(wav, duration)
        mux(Path(video), wav)
        return wav
