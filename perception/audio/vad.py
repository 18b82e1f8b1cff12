"""Voice activity: webrtcvad's per-frame speech decision, frame energy, and a hangover gate that turns the raw
decisions into speech segments with backdated onset and offset times (docs/architecture.md §1).

webrtcvad-wheels is the maintained binary build of Google's WebRTC GMM VAD: offline, CPU, microseconds a frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perception.audio.types import FRAME_MS, SAMPLE_RATE, SpeechEvent


def energy_db(samples: np.ndarray) -> float:
    """Frame RMS in dBFS (int16 full scale = 0 dB); -120 for digital silence."""
    x = np.asarray(samples, dtype=np.float64) / 32768.0
    return float(max(10.0 * np.log10(np.mean(x * x) + 1e-12), -120.0))


class WebRtcVad:
    """webrtcvad on 20 ms 16 kHz int16 frames; aggressiveness 0 (most speech) .. 3 (least)."""

    def __init__(self, aggressiveness: int = 2) -> None:
        import webrtcvad

        if aggressiveness not in (0, 1, 2, 3):
            raise ValueError(f"vad aggressiveness {aggressiveness}: must be 0, 1, 2 or 3")
        self._vad = webrtcvad.Vad(aggressiveness)

    def is_speech(self, samples: np.ndarray) -> bool:
        """webrtcvad's decision for one frame."""
        return bool(self._vad.is_speech(np.asarray(samples, dtype=np.int16).tobytes(), SAMPLE_RATE))


class NoiseFloor:
    """The background level: a low percentile of the last `window_frames` frame energies (minimum statistics,
    Martin 2001, IEEE Trans. Speech Audio Process. 9(5), in its simplest form). webrtcvad keeps flagging noise for
    up to ~140 ms after speech (its overhang), so a frame counts as speech only when it also stands out of this."""

    def __init__(self, window_frames: int = 250, percentile: float = 10.0) -> None:
        self.window_frames = window_frames
        self.percentile = percentile
        self._db = np.full(window_frames, np.nan)
        self._n = 0

    def update(self, db: float) -> float:
        """Add one frame energy (dBFS); returns the current floor estimate in dBFS."""
        self._db[self._n % self.window_frames] = db
        self._n += 1
        return float(np.nanpercentile(self._db, self.percentile))


@dataclass(frozen=True)
class GateConfig:
    """Onset after `onset_ms` of consecutive speech frames; offset after `hangover_ms` of non-speech."""

    onset_ms: int = 60
    hangover_ms: int = 400


class SpeechGate:
    """Hangover smoothing of raw VAD decisions into in-speech state with onset/offset SpeechEvents.

    Onset t is the first frame of the run that confirmed it; offset t is the end of the last speech frame;
    both carry t_detected, the end of the frame at which the gate decided."""

    def __init__(self, config: GateConfig = GateConfig()) -> None:
        self.config = config
        self.onset_frames = max(1, config.onset_ms // FRAME_MS)
        self.hangover_frames = max(1, config.hangover_ms // FRAME_MS)
        self.in_speech = False
        self._run_start: float | None = None   # first frame time of the current raw speech run
        self._run_len = 0
        self._silence = 0
        self._last_speech_end = 0.0
        self.onset_t: float | None = None

    def update(self, t: float, speech: bool) -> list[SpeechEvent]:
        """Feed one frame's raw decision (frame starting at t); returns onset/offset events decided now."""
        end = t + FRAME_MS / 1000.0
        events: list[SpeechEvent] = []
        if speech:
            if self._run_len == 0:
                self._run_start = t
            self._run_len += 1
            self._silence = 0
            self._last_speech_end = end
            if not self.in_speech and self._run_len >= self.onset_frames:
                self.in_speech = True
                self.onset_t = self._run_start
                events.append(SpeechEvent("onset", t=self._run_start or t, t_detected=end))
        else:
            self._run_len = 0
            self._silence += 1
            if self.in_speech and self._silence >= self.hangover_frames:
                self.in_speech = False
                onset = self.onset_t if self.onset_t is not None else self._last_speech_end
                last = self._last_speech_end
                events.append(SpeechEvent("offset", t=last, t_detected=end, duration_s=last - onset))
                self.onset_t = None
        return events

    def flush(self, t: float) -> list[SpeechEvent]:
        """Close an open segment at the end of the stream (or before a drop-out)."""
        if not self.in_speech:
            return []
        self.in_speech = False
        self._run_len = self._silence = 0
        onset = self.onset_t if self.onset_t is not None else self._last_speech_end
        duration = self._last_speech_end - onset
        self.onset_t = None
        return [SpeechEvent("offset", t=self._last_speech_end, t_detected=t, duration_s=duration, detail="flushed")]
