"""Audio sources: microphone, a video's audio track, espeak-ng speech, WAV file -> 20 ms frames on a session clock.

Same fault model as perception.sources: a drop-out (no samples for a while, an input overflow) and the end of the
stream arrive as SourceEvents in the same iterator, never as exceptions; input that cannot be opened at all raises
PerceptionError with a one-line message naming the file or device and the fix (docs/architecture.md §1, §2).
"""
from __future__ import annotations

import math
import queue
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from perception.audio.types import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from perception.errors import PerceptionError
from perception.sources import IteratedSource, SourceEvent

AudioItem = AudioFrame | SourceEvent
ESPEAK_RATE = 22_050  # espeak-ng's output sample rate


def to_16k(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mono int16 at 16 kHz from any rate: polyphase FIR resampling (scipy.signal.resample_poly, Kaiser window)."""
    x = np.asarray(samples, dtype=np.float64)
    if rate != SAMPLE_RATE:
        g = math.gcd(int(rate), SAMPLE_RATE)
        x = resample_poly(x, SAMPLE_RATE // g, int(rate) // g)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


class Framer:
    """Cuts sample blocks stamped with the session-clock time of their first sample into fixed frames.

    Inside a run the frame times follow the sample count (t0 + n / rate); a block that starts more than
    `gap_tolerance_s` after the expected time is a drop-out: `dropout` and `recovered` events are emitted, the
    unfinished frame is dropped and the frame grid restarts at the new block's time."""

    def __init__(self, frame_samples: int = FRAME_SAMPLES, gap_tolerance_s: float = 0.03) -> None:
        self.frame_samples = frame_samples
        self.gap_tolerance_s = gap_tolerance_s
        self._run_t0: float | None = None
        self._consumed = 0            # samples of the current run already emitted as frames
        self._pending = np.zeros(0, dtype=np.int16)
        self.index = 0

    @property
    def next_t(self) -> float | None:
        """Session time of the next sample expected (None before the first block)."""
        if self._run_t0 is None:
            return None
        return self._run_t0 + (self._consumed + len(self._pending)) / SAMPLE_RATE

    def push(self, samples: np.ndarray, t: float) -> list[AudioItem]:
        """Frames (and drop-out events) for one block of int16 samples whose first sample is at session time t."""
        out: list[AudioItem] = []
        expected = self.next_t
        if expected is None:
            self._run_t0 = t
        elif t - expected > self.gap_tolerance_s:
            lost = f"no audio for {t - expected:.3f} s"
            out.append(SourceEvent("dropout", t=expected, index=self.index, detail=lost))
            out.append(SourceEvent("recovered", t=t, index=self.index, detail=f"after {t - expected:.3f} s"))
            self._run_t0, self._consumed, self._pending = t, 0, np.zeros(0, dtype=np.int16)
        buf = np.concatenate([self._pending, np.asarray(samples, dtype=np.int16).ravel()])
        n = len(buf) // self.frame_samples
        for i in range(n):
            chunk = buf[i * self.frame_samples:(i + 1) * self.frame_samples]
            t_frame = self._run_t0 + self._consumed / SAMPLE_RATE
            out.append(AudioFrame(samples=chunk.copy(), t=t_frame, index=self.index))
            self._consumed += self.frame_samples
            self.index += 1
        self._pending = buf[n * self.frame_samples:]
        return out

    def end(self, detail: str = "") -> SourceEvent:
        """The closing `end` event (a last partial frame shorter than 20 ms is dropped)."""
        t = self.next_t or 0.0
        return SourceEvent("end", t=t, index=self.index, detail=detail or f"{self.index} frames")


class AudioSource(IteratedSource):
    """Base class: iterate to get AudioFrame and SourceEvent items; the last item is always SourceEvent('end')."""

    name: str = ""
    duration_s: float | None = None   # None for live input

    def frames(self) -> Iterator[AudioItem]:
        raise NotImplementedError


class ArraySource(AudioSource):
    """Samples already in memory (16 kHz mono int16), framed from session time t0."""

    def __init__(self, samples: np.ndarray, t0: float = 0.0, name: str = "array") -> None:
        self.samples = np.asarray(samples, dtype=np.int16).ravel()
        self.t0 = t0
        self.name = name
        self.duration_s = len(self.samples) / SAMPLE_RATE

    def frames(self) -> Iterator[AudioItem]:
        framer = Framer()
        yield from framer.push(self.samples, self.t0)
        yield framer.end()


class WavFileSource(ArraySource):
    """A WAV file (PCM 8/16/32-bit or float, any rate, any channels) as 16 kHz mono frames from session time t0."""

    def __init__(self, path: str | Path, t0: float = 0.0) -> None:
        from scipy.io import wavfile

        path = Path(path)
        if not path.is_file():
            raise PerceptionError(f"{path}: WAV file not found; check the path")
        try:
            rate, data = wavfile.read(path)
        except (ValueError, OSError) as exc:
            raise PerceptionError(f"{path}: cannot read as WAV ({exc}); convert it to PCM WAV") from None
        if data.size == 0:
            raise PerceptionError(f"{path}: WAV file holds no samples; pass a recording with audio")
        x = data.astype(np.float64)
        if x.ndim == 2:
            x = x.mean(axis=1)
        if data.dtype.kind == "f":
            x = x * 32767.0
        elif data.dtype == np.uint8:
            x = (x - 128.0) * 256.0
        elif data.dtype == np.int32:
            x = x / 65536.0
        super().__init__(to_16k(x, int(rate)), t0=t0, name=str(path))
        self.path = path


def ffmpeg_exe() -> str:
    """The ffmpeg binary shipped by imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


class VideoAudioSource(AudioSource):
    """The audio track of a video file, decoded and resampled to 16 kHz mono s16 by ffmpeg through a pipe."""

    def __init__(self, path: str | Path, t0: float = 0.0) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        self.t0 = t0
        if not self.path.is_file():
            raise PerceptionError(f"{self.path}: video file not found; check the path")
        probe = subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(self.path)], check=False,
                               capture_output=True, text=True, errors="replace")
        streams = [line for line in probe.stderr.splitlines() if "Stream #" in line]
        if not streams:
            raise PerceptionError(f"{self.path}: ffmpeg cannot read it (corrupt or not a media file); re-encode it")
        if not any("Audio:" in line for line in streams):
            raise PerceptionError(f"{self.path}: video has no audio track; pass a video recorded with sound")
        self._proc: subprocess.Popen[bytes] | None = None

    def frames(self) -> Iterator[AudioItem]:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(self.path),
               "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-acodec", "pcm_s16le", "-"]
        self._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert self._proc.stdout is not None
        framer = Framer()
        t = self.t0
        while chunk := self._proc.stdout.read(FRAME_SAMPLES * 2 * 50):
            samples = np.frombuffer(chunk[: len(chunk) // 2 * 2], dtype="<i2")
            yield from framer.push(samples, t)
            t += len(samples) / SAMPLE_RATE
        rc = self._proc.wait()
        err = self._proc.stderr.read().decode(errors="replace").strip() if self._proc.stderr else ""
        detail = f"{framer.index} frames" if rc == 0 else f"ffmpeg stopped (exit {rc}): {err.splitlines()[-1:]}"
        self.duration_s = framer.index * FRAME_SAMPLES / SAMPLE_RATE
        yield framer.end(detail)

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()


def synthesize(text: str, voice: str = "en-us", speed: int = 150) -> np.ndarray:
    """espeak-ng speech for `text` as 16 kHz mono int16 (its 22,050 Hz output resampled with resample_poly)."""
    from perception.audio.espeak import Espeak, find_engine

    exe = find_engine()
    if exe is None:
        raise PerceptionError("espeak-ng not found; install it (apt-get install -y espeak-ng)")
    try:
        speech = Espeak(exe, voice=voice, wpm=int(speed)).synthesize(text)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        raise PerceptionError(f"espeak-ng voice {voice!r}: {str(exc).splitlines()[0]}; "
                              "pick a voice from `espeak-ng --voices`") from None
    return to_16k(speech.samples.astype(np.float64), speech.rate)


def speech_extent(samples: np.ndarray, floor_db: float = -50.0) -> tuple[float, float]:
    """(start, end) in seconds of the part of a clean clip whose 10 ms RMS exceeds floor_db dBFS; (0, 0) if none."""
    win = SAMPLE_RATE // 100
    n = len(samples) // win
    if n == 0:
        return 0.0, 0.0
    x = samples[: n * win].astype(np.float64).reshape(n, win) / 32768.0
    db = 10.0 * np.log10(np.mean(x * x, axis=1) + 1e-12)
    on = np.flatnonzero(db > floor_db)
    if len(on) == 0:
        return 0.0, 0.0
    return on[0] * win / SAMPLE_RATE, (on[-1] + 1) * win / SAMPLE_RATE


@dataclass(frozen=True)
class ScriptedUtterance:
    """Where a scripted utterance's speech lies on the session clock (its audible extent, not espeak's padding)."""

    text: str
    start_t: float
    end_t: float


class SpeechSynthSource(ArraySource):
    """espeak-ng speech of a script of (time s, text) utterances, each placed at its time (after the previous one
    if they would overlap), with silence between and `tail_s` of silence after the last."""

    def __init__(self, script: Sequence[tuple[float, str]], voice: str = "en-us", speed: int = 150,
                 t0: float = 0.0, tail_s: float = 1.0) -> None:
        if not script:
            raise PerceptionError("SpeechSynthSource: empty script; pass a list of (time_s, text) utterances")
        pieces: list[tuple[int, np.ndarray]] = []
        spans: list[ScriptedUtterance] = []
        cursor = 0
        for at_s, text in sorted(script, key=lambda s: s[0]):
            clip = synthesize(text, voice, speed)
            start = max(round(at_s * SAMPLE_RATE), cursor)
            pieces.append((start, clip))
            a, b = speech_extent(clip)
            spans.append(ScriptedUtterance(text, t0 + start / SAMPLE_RATE + a, t0 + start / SAMPLE_RATE + b))
            cursor = start + len(clip)
        buf = np.zeros(cursor + int(tail_s * SAMPLE_RATE), dtype=np.int16)
        for start, clip in pieces:
            buf[start:start + len(clip)] = clip
        super().__init__(buf, t0=t0, name=f"espeak-ng {voice} {speed} wpm")
        self.utterances = spans
        self.voice = voice   # espeak-ng voice: the recogniser takes its shipped adaptation, if any


class MicrophoneSource(AudioSource):
    """A live microphone through PortAudio (sounddevice), 16 kHz mono; frame times on the caller's session clock.

    Input overflows and silences of the device become dropout/recovered events; `give_up_after_s` without any
    block ends the stream."""

    def __init__(self, device: int | str | None = None, clock: Callable[[], float] = time.monotonic,
                 give_up_after_s: float = 5.0) -> None:
        try:
            import sounddevice as sd
        except OSError:
            raise PerceptionError("microphone: the PortAudio library is missing; install it "
                                  "(apt-get install -y libportaudio2)") from None
        except ImportError:
            raise PerceptionError("microphone: sounddevice is not installed; pip install sounddevice==0.5.6") from None
        self.name = f"microphone {device if device is not None else 'default'}"
        try:
            info = sd.query_devices(device, kind="input")
        except (ValueError, sd.PortAudioError) as exc:
            raise PerceptionError(f"{self.name}: no audio input device ({exc}); plug in a microphone or pass a "
                                  "WAV/video file as the audio source") from None
        if int(info.get("max_input_channels", 0)) < 1:
            raise PerceptionError(f"{self.name}: device {info.get('name')!r} has no input channels; pick an input "
                                  "device from `python -m sounddevice`")
        self.clock = clock
        self.give_up_after_s = give_up_after_s
        self._queue: queue.Queue[tuple[float, np.ndarray]] = queue.Queue()
        self._offset: float | None = None
        try:
            self._stream = sd.InputStream(device=device, samplerate=SAMPLE_RATE, channels=1, dtype="int16",
                                          blocksize=FRAME_SAMPLES, callback=self._callback)
            self._stream.start()
            self._offset = self.clock() - float(self._stream.time)
        except sd.PortAudioError as exc:
            raise PerceptionError(f"{self.name}: cannot open at 16 kHz mono ({exc}); pick another device") from None

    def _callback(self, indata: np.ndarray, frames: int, time_info: object, status: object) -> None:
        # The block's first sample on the session clock: PortAudio's ADC time (free of callback jitter) shifted by
        # the stream-to-session offset; backends that report no ADC time fall back to now minus the block length.
        adc = float(getattr(time_info, "inputBufferAdcTime", 0.0) or 0.0)
        t = adc + self._offset if adc > 0 and self._offset is not None else self.clock() - frames / SAMPLE_RATE
        self._queue.put((t, indata[:, 0].copy()))

    def frames(self) -> Iterator[AudioItem]:
        framer = Framer(gap_tolerance_s=0.1)
        silent_since: float | None = None
        while True:
            try:
                t, block = self._queue.get(timeout=0.1)
            except queue.Empty:
                now = self.clock()
                if silent_since is None:
                    silent_since = now
                    yield SourceEvent("dropout", t=now, index=framer.index, detail="microphone delivered no audio")
                elif now - silent_since > self.give_up_after_s:
                    yield framer.end(f"microphone silent for {self.give_up_after_s:.1f} s")
                    return
                continue
            if silent_since is not None:
                yield SourceEvent("recovered", t=t, index=framer.index, detail=f"after {t - silent_since:.2f} s")
                silent_since = None
            yield from framer.push(block, t)

    def close(self) -> None:
        stream = getattr(self, "_stream", None)
        if stream is not None:
            stream.stop()
            stream.close()
            self._stream = None


def open_audio_source(spec: str | Path, t0: float = 0.0) -> AudioSource:
    """Open "mic" / "mic:N" (microphone), a .wav file or a video/audio file (via ffmpeg); PerceptionError if not."""
    text = str(spec).strip()
    if text == "mic" or text.startswith("mic:"):
        dev = text[4:] or None
        return MicrophoneSource(int(dev) if dev and dev.isdigit() else dev)
    path = Path(text).expanduser()
    if not path.exists():
        raise PerceptionError(f"{path}: no such file; pass a .wav, a video with sound, or 'mic'")
    if path.suffix.lower() == ".wav":
        return WavFileSource(path, t0=t0)
    return VideoAudioSource(path, t0=t0)
