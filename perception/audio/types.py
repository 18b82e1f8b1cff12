"""Records of the audio layer: frames, per-frame voice features, speech events and transcripts."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16_000         # Hz; pocketsphinx's en-us model and webrtcvad both take 16 kHz mono s16
FRAME_MS = 20                # one frame = 20 ms = 320 samples (a frame length webrtcvad accepts)
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000
SPEECH_EVENT_KINDS: tuple[str, ...] = ("onset", "offset", "pause", "silence", "low_pitch")


@dataclass
class AudioFrame:
    """One fixed frame of 16 kHz mono int16 samples [FRAME_SAMPLES]; t = session-clock time of its first sample."""

    samples: np.ndarray
    t: float
    index: int


@dataclass(frozen=True)
class AudioFrameFeatures:
    """Voice features of one frame: raw VAD decision, hangover-smoothed speech state, energy and pitch."""

    t: float
    index: int
    vad: bool              # the VAD library's raw speech/non-speech decision for this frame
    in_speech: bool        # smoothed state (onset after `onset_frames` speech frames, offset after the hangover)
    energy_db: float       # frame RMS in dB relative to int16 full scale (dBFS; silence of zeros = -120)
    f0_hz: float           # YIN fundamental frequency; 0.0 when unvoiced
    voiced: bool           # YIN aperiodicity below its threshold and frame energy above the floor
    periodicity: float     # 1 - d'(tau) at the chosen lag (de Cheveigne & Kawahara 2002, eq. 8); 0..1


@dataclass(frozen=True)
class SpeechEvent:
    """A derived speech event: `onset`, `offset`, `pause`, `silence` or `low_pitch` (perception.audio.events).

    t is when the event happened in the audio (backdated to the first/last speech frame), t_detected when the
    detector could know it (t plus the hangover); duration_s is the pause's or low-pitch region's length."""

    kind: str
    t: float
    t_detected: float
    duration_s: float = 0.0
    detail: str = ""


@dataclass(frozen=True)
class Transcript:
    """One recognised utterance: words, confidence 0..1, its audio span on the session clock, decode latency."""

    text: str
    confidence: float
    start_t: float
    end_t: float
    latency_s: float       # wall time from the utterance's last frame being handed over to this transcript
    words: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()   # with a rescorer: the candidates it ranked (decoder's best path first)
