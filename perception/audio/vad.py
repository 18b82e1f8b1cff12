"""Voice activity: webrtcvad's per-frame speech decision, frame energy, and a hangover gate that turns the raw
decisions into speech segments with backdated onset and offset times (docs/architecture.md §1).

webrtcvad-wheels is the maintained binary build of Google's WebRTC GMM VAD: offline, CPU, microseconds a frame.
"""
from __future__ import annotations

from collections import deque
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


@dataclass(frozen=True)
class OffsetRefineConfig:
    """Offset refinement on the 10 ms energy envelope: from the gate's offset, extend over contiguous loud half-frames
    (at most `forward_ms`) or trim back over quiet ones (at most `back_ms`). Quiet: at most `trim_margin_db` above
    the noise floor or within the noise's own spread (the `noise_percentile` of non-speech half-frames, which
    babble lifts far above the floor and white noise does not); loud: also `margin_db` above the floor."""

    margin_db: float = 6.0
    trim_margin_db: float = 2.0
    noise_percentile: float = 90.0
    back_ms: int = 200
    forward_ms: int = 200
    bridge_ms: int = 60        # a quiet gap this short (a stop's closure before its release) does not end speech


class OffsetRefiner:
    """Keeps the recent 10 ms energies (dBFS) and moves a gate offset to where the envelope falls into the noise.

    webrtcvad decides on 20 ms frames and keeps flagging noise after speech (its overhang) while a quiet final
    consonant can fall under its decision; the energy envelope against the running noise statistics places the
    end of the speech more exactly (docs/architecture.md §1)."""

    def __init__(self, config: OffsetRefineConfig = OffsetRefineConfig(), history_ms: int = 1200,
                 noise_ms: int = 5000) -> None:
        self.config = config
        self._half: deque[tuple[float, float]] = deque(maxlen=history_ms // (FRAME_MS // 2))
        self._noise: deque[float] = deque(maxlen=noise_ms // (FRAME_MS // 2))

    def update(self, t: float, samples: np.ndarray, speech: bool) -> None:
        """Add one 20 ms frame starting at session time t; `speech` = the gate holds speech at it."""
        half = len(samples) // 2
        dbs = (energy_db(samples[:half]), energy_db(samples[half:]))
        self._half.append((t, dbs[0]))
        self._half.append((t + FRAME_MS / 2000.0, dbs[1]))
        if not speech:
            self._noise.extend(dbs)

    def noise_level_db(self, floor_db: float) -> float:
        """The `noise_percentile` level of the recent non-speech half-frames (the floor until 0.5 s were heard)."""
        return float(np.percentile(self._noise, self.config.noise_percentile)) if len(self._noise) >= 50 else floor_db

    def refine(self, offset_t: float, floor_db: float) -> float:
        """The refined offset time for a gate offset at `offset_t` (end of its last speech frame)."""
        cfg, step = self.config, FRAME_MS / 2000.0
        spread = self.noise_level_db(floor_db)
        quiet_db = max(floor_db + cfg.trim_margin_db, spread)
        loud_db = max(floor_db + cfg.margin_db, quiet_db)
        hf = list(self._half)
        ends = [t + step for t, _ in hf]
        idx = [i for i, e in enumerate(ends) if e <= offset_t + 1e-9]
        if not idx:
            return offset_t
        i = idx[-1]
        if hf[i][1] <= quiet_db:                 # webrtcvad's overhang: back to the last half-frame above the noise
            j = i
            while j >= 0 and hf[j][1] <= quiet_db and ends[j] > offset_t - cfg.back_ms / 1000.0:
                j -= 1
            return ends[j] if j >= 0 and hf[j][1] > quiet_db else offset_t
        # forward over loud half-frames, bridging quiet gaps up to bridge_ms
        last, k, limit = i if hf[i][1] > loud_db else None, i + 1, offset_t + cfg.forward_ms / 1000.0
        gap_limit = cfg.bridge_ms / 1000.0
        while k < len(hf) and ends[k] <= limit + 1e-9:
            if hf[k][1] > loud_db:
                last = k
            elif ends[k] - (ends[last] if last is not None else offset_t) > gap_limit + 1e-9:
                break
            k += 1
        return ends[last] if last is not None and ends[last] > offset_t else offset_t
