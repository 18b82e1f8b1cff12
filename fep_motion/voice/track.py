"""The session's audio: every utterance placed at its session time in one mono track, written as WAV and muxed into
the agent video (AAC) with the ffmpeg that imageio-ffmpeg ships."""

from __future__ import annotations

import os
import subprocess
import wave
from pathlib import Path

import numpy as np


class AudioTrack:
    """Utterance samples at session times; `render(duration)` mixes them into one track of exactly that length."""

    def __init__(self, rate: int = 22050) -> None:
        self.rate = rate
        self.clips: list[tuple[float, np.ndarray]] = []

    def add(self, t0: float, samples: np.ndarray, rate: int) -> None:
        if rate != self.rate:  # linear resampling; espeak-ng always gives 22050 Hz, so this is a safeguard
            n = round(len(samples) * self.rate / rate)
            samples = np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples)
        self.clips.append((float(t0), np.asarray(samples, dtype=np.int16)))

    def render(self, duration: float) -> np.ndarray:
        """int16 samples of the whole session [round(duration * rate)]: silence with each clip at its time."""
        n = round(duration * self.rate)
        mix = np.zeros(n, dtype=np.int32)
        for t0, clip in self.clips:
            i = round(t0 * self.rate)
            if i >= n:
                continue
            part = clip[: n - i]
            mix[i : i + len(part)] += part
        return np.clip(mix, -32768, 32767).astype(np.int16)

    def write_wav(self, path: Path, duration: float) -> Path:
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(self.rate)
            w.writeframes(self.render(duration).tobytes())
        return path


def mux(video: Path, wav: Path) -> None:
    """Add the WAV as an AAC audio stream to the H.264 video in place (video stream copied, not re-encoded)."""
    import imageio_ffmpeg

    video = Path(video)
    tmp = video.with_name(video.stem + ".muxing" + video.suffix)
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-loglevel", "error", "-i", str(video), "-i", str(wav),
           "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy", "-c:a", "aac", "-b:a", "64k", str(tmp)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    if res.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"muxing the voice into {video} failed: {res.stderr.strip()[:300]}")
    os.replace(tmp, video)
