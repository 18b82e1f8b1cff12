"""Offline text-to-speech through the espeak-ng program (Debian package `espeak-ng`): text -> mono 16-bit samples.

One engine for the agent's voice (fep_motion/voice) and the virtual participant's speech (perception.audio.sources);
it sits in the bottom layer so both can use it."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import wave
from dataclasses import dataclass

import numpy as np

ENGINE_ENV = "FEP_MOTION_ESPEAK"  # path of the espeak-ng program to use instead of the one on PATH


@dataclass(frozen=True)
class Speech:
    """Synthesized audio: int16 mono samples at `rate` Hz."""

    samples: np.ndarray
    rate: int

    @property
    def duration(self) -> float:
        return len(self.samples) / self.rate


def find_engine() -> str | None:
    """The espeak-ng executable ($FEP_MOTION_ESPEAK, else espeak-ng or espeak on PATH), or None."""
    override = os.environ.get(ENGINE_ENV)
    if override is not None:
        return override if os.path.isfile(override) and os.access(override, os.X_OK) else None
    return shutil.which("espeak-ng") or shutil.which("espeak")


@dataclass(frozen=True)
class Espeak:
    """espeak-ng with a fixed voice and rate (words per minute), so the same text always gives the same audio."""

    program: str
    voice: str = "en-us"
    wpm: int = 165
    pitch: int = 50

    def synthesize(self, text: str, timeout_s: float = 10.0) -> Speech:
        """Speak `text` to samples (raises RuntimeError with espeak-ng's message when it fails)."""
        res = subprocess.run(
            [self.program, "--stdout", "-v", self.voice, "-s", str(self.wpm), "-p", str(self.pitch), "--", text],
            capture_output=True, timeout=timeout_s, check=False,
        )
        if res.returncode != 0 or not res.stdout:
            raise RuntimeError(f"{self.program} failed ({res.returncode}): {res.stderr.decode(errors='replace')[:200]}")
        with wave.open(io.BytesIO(_fix_stream_header(res.stdout))) as w:
            if w.getsampwidth() != 2:
                raise RuntimeError(f"{self.program}: expected 16-bit audio, got {8 * w.getsampwidth()}-bit")
            data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
            if w.getnchannels() > 1:
                data = data.reshape(-1, w.getnchannels())[:, 0]
            return Speech(data.astype(np.int16), w.getframerate())


def _fix_stream_header(data: bytes) -> bytes:
    """espeak-ng writes a streaming WAV to a pipe (sizes 0x7fffffff): set the RIFF and data sizes to the real ones."""
    if data[:4] != b"RIFF":
        return data
    pos = data.find(b"data", 12)
    if pos < 0:
        return data
    size = len(data) - (pos + 8)
    size -= size % 2
    return (data[:4] + (len(data) - 8).to_bytes(4, "little") + data[8:pos + 4] + size.to_bytes(4, "little")
            + data[pos + 8:pos + 8 + size])
