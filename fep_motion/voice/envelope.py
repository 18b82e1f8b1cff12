"""The mouth's opening over time: the loudness envelope of synthesized audio, or a syllable rhythm from the text.

Audio: RMS in 10 ms frames, normalized by the utterance's 95th percentile, compressed (power 0.6) and smoothed with a
fast attack and slower release, so the jaw opens on each loud syllable and closes in pauses.
Text only (no engine): syllables (vowel groups) at 4.4 per second, the rate of espeak-ng's default 165 words per
minute, each one opening and closing the jaw, with pauses at punctuation.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

RATE = 100.0  # envelope samples per second
SYLLABLE_S = 0.227
PAUSES = {",": 0.22, ";": 0.3, ":": 0.3, ".": 0.4, "!": 0.4, "?": 0.4}


def _smooth(x: np.ndarray, attack_s: float = 0.02, release_s: float = 0.07) -> np.ndarray:
    """One-pole follower: rises with time constant attack_s, falls with release_s (at RATE)."""
    out = np.empty_like(x)
    a_up, a_dn = 1.0 - np.exp(-1.0 / (RATE * attack_s)), 1.0 - np.exp(-1.0 / (RATE * release_s))
    y = 0.0
    for i, v in enumerate(x):
        y += (a_up if v > y else a_dn) * (v - y)
        out[i] = y
    return out


def audio_envelope(samples: np.ndarray, rate: int) -> np.ndarray:
    """Jaw opening in [0, 1] at RATE Hz from mono samples (one value per 10 ms, same length as the audio)."""
    x = np.asarray(samples, dtype=np.float64) / 32768.0
    hop = round(rate / RATE)
    n = max(1, int(np.ceil(len(x) / hop)))
    x = np.pad(x, (0, n * hop - len(x)))
    rms = np.sqrt(np.mean(x.reshape(n, hop) ** 2, axis=1))
    voiced = rms[rms > 1e-4]
    if len(voiced) == 0:
        return np.zeros(n)
    ref = float(np.percentile(voiced, 95))
    jaw = np.clip(rms / ref, 0.0, 1.0) ** 0.6
    jaw[rms < 0.08 * ref] = 0.0
    return np.clip(_smooth(jaw), 0.0, 1.0)


def text_envelope(text: str) -> np.ndarray:
    """Jaw opening in [0, 1] at RATE Hz for text said without audio (deterministic in the text)."""
    rng = np.random.default_rng(zlib.crc32(text.encode()))
    out: list[np.ndarray] = []
    for token in re.findall(r"[A-Za-z']+|[,;:.!?]", text):
        if token in PAUSES:
            out.append(np.zeros(int(PAUSES[token] * RATE)))
            continue
        syllables = max(1, len(re.findall(r"[aeiouy]+", token.lower())))
        for _ in range(syllables):
            n = int(SYLLABLE_S * RATE)
            peak = rng.uniform(0.55, 0.95)
            out.append(peak * np.sin(np.pi * np.arange(n) / n) ** 2)
        out.append(np.zeros(int(0.04 * RATE)))
    return np.concatenate(out) if out else np.zeros(0)
