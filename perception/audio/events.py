"""Listener cues from per-frame features: pauses inside a turn, the silence that may begin one, and the low-pitch
backchannel cue.

A listener's response usually starts within ~200 ms of the speaker stopping (Stivers et al. 2009, PNAS 106:10587;
Heldner & Edlund 2010, J. Phonetics 38:555), well before the voice gate's offset, which waits out its 400 ms
hangover. `silence` is that earlier cue: `silence_ms` of non-speech frames inside a segment, decided while the gate
still holds speech (the speaker may go on: it is a cue, not a segment end).

Low pitch follows Ward & Tsukahara 2000 (J. Pragmatics 32, "Prosodic features which cue back-channel responses in
English and Japanese", section 4 rule): (P1) a region of pitch below the 26th percentile of the speaker's pitch
(P2) lasting at least 110 ms (P3) after at least 700 ms of speech. Their (P4) no feedback in the last 800 ms and
(P5) the 700 ms wait are the listener's policy, left to the agent that consumes these events.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from perception.audio.types import FRAME_MS, AudioFrameFeatures, SpeechEvent


@dataclass(frozen=True)
class CueConfig:
    """Pause, silence and low-pitch thresholds (low pitch: Ward & Tsukahara 2000's 26th percentile, 110 ms,
    700 ms)."""

    pause_ms: int = 150
    silence_ms: int = 200               # non-speech inside a segment before a `silence` cue (0: no silence cue)
    low_percentile: float = 26.0
    low_min_ms: int = 110
    low_after_speech_ms: int = 700
    low_max_unvoiced_ms: int = 40       # unvoiced frames bridged inside one low region
    history_frames: int = 3000          # voiced frames (60 s) that define the speaker's pitch range
    min_history_frames: int = 50        # no low-pitch cue before 1 s of voiced speech has been heard


class CueDetector:
    """Pause and low-pitch SpeechEvents from a stream of AudioFrameFeatures."""

    def __init__(self, config: CueConfig = CueConfig()) -> None:
        self.config = config
        self._f0 = deque(maxlen=config.history_frames)
        self._threshold = 0.0
        self._silence_start: float | None = None
        self._silence_fired = False
        self._speech_ms = 0
        self._low_start: float | None = None
        self._low_ms = 0
        self._low_gap_ms = 0
        self._low_fired = False

    def threshold_hz(self) -> float:
        """Current low-pitch threshold: the configured percentile of the speaker's voiced F0 so far."""
        return self._threshold

    def update(self, f: AudioFrameFeatures) -> list[SpeechEvent]:
        """Feed one frame's features; returns the pause/low_pitch events decided at this frame."""
        cfg, events = self.config, []
        end = f.t + FRAME_MS / 1000.0
        if not f.in_speech:
            self._speech_ms = 0
            self._silence_start, self._silence_fired = None, False
            self._end_low()
            return events
        self._speech_ms += FRAME_MS
        if not f.vad:
            if self._silence_start is None:
                self._silence_start, self._silence_fired = f.t, False
            gap = end - self._silence_start
            if cfg.silence_ms > 0 and not self._silence_fired and gap * 1000.0 >= cfg.silence_ms - 1e-6:
                self._silence_fired = True
                events.append(SpeechEvent("silence", t=self._silence_start, t_detected=end, duration_s=gap))
        elif self._silence_start is not None:
            gap = f.t - self._silence_start
            if gap * 1000.0 >= cfg.pause_ms - 1e-6:
                events.append(SpeechEvent("pause", t=self._silence_start, t_detected=end, duration_s=gap))
            self._silence_start, self._silence_fired = None, False
        if f.voiced and f.f0_hz > 0:
            self._f0.append(f.f0_hz)
            if len(self._f0) % 10 == 0 or len(self._f0) == cfg.min_history_frames:
                self._threshold = float(np.percentile(self._f0, cfg.low_percentile))
        enough = len(self._f0) >= cfg.min_history_frames
        if enough and f.voiced and 0 < f.f0_hz < self._threshold:
            if self._low_start is None:
                self._low_start, self._low_ms, self._low_fired = f.t, 0, False
            self._low_ms += FRAME_MS + self._low_gap_ms
            self._low_gap_ms = 0
            if (not self._low_fired and self._low_ms >= cfg.low_min_ms
                    and self._speech_ms - self._low_ms >= cfg.low_after_speech_ms):
                self._low_fired = True
                events.append(SpeechEvent("low_pitch", t=self._low_start, t_detected=end,
                                          duration_s=self._low_ms / 1000.0,
                                          detail=f"f0 < {self._threshold:.0f} Hz (p{cfg.low_percentile:g})"))
        elif self._low_start is not None and not f.voiced and self._low_gap_ms + FRAME_MS <= cfg.low_max_unvoiced_ms:
            self._low_gap_ms += FRAME_MS
        else:
            self._end_low()
        return events

    def _end_low(self) -> None:
        self._low_start, self._low_ms, self._low_gap_ms = None, 0, 0

    def reset(self) -> None:
        """Forget the current turn (not the speaker's pitch range)."""
        self._speech_ms, self._silence_start, self._silence_fired = 0, None, False
        self._end_low()
