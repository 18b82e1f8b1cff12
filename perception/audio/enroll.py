"""Enrollment utterances for speaker adaptation (perception.audio.adapt): a speaker reading prompted sentences into a
live source (each cut at the VAD's onset and offset), a folder of recordings with their texts, or an espeak-ng
voice (the virtual participants' voices)."""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np

from perception.audio.features import AnalyzerConfig, AudioAnalyzer
from perception.audio.sources import AudioSource, WavFileSource, synthesize
from perception.audio.types import SAMPLE_RATE, AudioFrame
from perception.errors import PerceptionError

Utterance = tuple[np.ndarray, str]   # (16 kHz int16 samples, the text read)


def synthesized(sentences: Sequence[str], voice: str, speeds: Sequence[int] = (140, 175)) -> list[Utterance]:
    """Each sentence spoken by espeak-ng `voice` at each speed (words per minute)."""
    return [(synthesize(s, voice, speed), s) for speed in speeds for s in sentences]


def recordings(folder: str | Path) -> list[Utterance]:
    """NAME.wav + NAME.txt pairs of a folder (any WAV rate; the text is what was read)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PerceptionError(f"{folder}: no such folder; give a folder of NAME.wav files, each with a NAME.txt")
    out: list[Utterance] = []
    for wav in sorted(folder.glob("*.wav")):
        txt = wav.with_suffix(".txt")
        if not txt.is_file():
            raise PerceptionError(f"{wav}: no transcript {txt.name} beside it; write what was read into {txt.name}")
        text = " ".join(txt.read_text().split())
        if not text:
            raise PerceptionError(f"{txt}: empty transcript; write the sentence that was read")
        out.append((WavFileSource(wav).samples, text))
    if not out:
        raise PerceptionError(f"{folder}: no .wav files; record the enrollment sentences as NAME.wav + NAME.txt")
    return out


def prompted(source: AudioSource, sentences: Sequence[str], show: Callable[[int, str], None],
             timeout_s: float = 20.0, preroll_s: float = 0.3, tail_s: float = 0.2) -> Iterator[Utterance]:
    """For each sentence: `show(k, sentence)`, then the speech the source delivers from the next VAD onset to its
    offset (with `preroll_s` before and `tail_s` after). A sentence nobody starts reading within `timeout_s` is
    skipped; a source that ends stops the enrollment."""
    analyzer = AudioAnalyzer(AnalyzerConfig())
    frames = iter(source)
    for k, sentence in enumerate(sentences):
        show(k, sentence)
        status, samples = _one_utterance(frames, analyzer, timeout_s, preroll_s, tail_s)
        if status == "ended":
            return
        if status == "spoken":
            yield samples, sentence


def _one_utterance(frames: Iterator[object], analyzer: AudioAnalyzer, timeout_s: float, preroll_s: float,
                   tail_s: float) -> tuple[str, np.ndarray]:
    """('spoken', samples) from the next onset to its offset; ('timeout', []) when no onset comes within
    timeout_s; ('ended', []) when the source ends first."""
    buf: list[AudioFrame] = []
    onset: float | None = None
    start: float | None = None
    for item in frames:
        if not isinstance(item, AudioFrame):
            if getattr(item, "kind", "") == "end":
                return "ended", np.zeros(0, np.int16)
            continue
        start = item.t if start is None else start
        buf.append(item)
        if onset is None:
            buf = buf[-int((preroll_s + 0.2) * 50):]    # before an onset keep the pre-roll (+ the gate's onset run)
        _, events = analyzer.process(item)
        for ev in events:
            if ev.kind == "onset" and onset is None:
                onset = ev.t
            elif ev.kind == "offset" and onset is not None:
                lo, hi = onset - preroll_s, ev.t + tail_s   # the gate's hangover frames are in buf already
                return "spoken", np.concatenate([f.samples for f in buf if lo - 1e-9 <= f.t < hi])
        if onset is None and item.t - start > timeout_s:
            return "timeout", np.zeros(0, np.int16)
    return "ended", np.zeros(0, np.int16)


def total_seconds(utterances: Sequence[Utterance]) -> float:
    """Audio length of the utterances in seconds."""
    return float(sum(len(x) for x, _ in utterances)) / SAMPLE_RATE
