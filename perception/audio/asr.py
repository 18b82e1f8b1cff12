"""Speech recognition with pocketsphinx: a streaming decoder per utterance, utterances cut by the VAD gate.

The default language model is our conversational trigram (perception/audio/lm/chitchat.arpa.gz, built by
perception.audio.build_lm from chitchat-dataset); pass lm="default" for pocketsphinx's own en-us model
(docs/architecture.md §1). An optional rescorer (`list[str] -> list[float]`, log-probabilities in nats, e.g.
llm.brain.rescore.BrainRescorer) re-ranks the decoder's N-best list at the end of each utterance.
"""
from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perception.audio.types import FRAME_MS, SAMPLE_RATE, AudioFrame, SpeechEvent, Transcript
from perception.errors import PerceptionError

CHITCHAT_LM = Path(__file__).with_name("lm") / "chitchat.arpa.gz"
_FILLERS = ("<s>", "</s>", "<sil>")
Rescorer = Callable[[list[str]], list[float]]


@dataclass(frozen=True)
class RecognizerConfig:
    """Language model (a .arpa/.arpa.gz/.lm.bin path, or "default" for pocketsphinx's), its weight, the speaker
    adaptation (None: pocketsphinx's own en-us means), and how much audio before the VAD onset the decoder gets."""

    lm: str | Path = CHITCHAT_LM
    lw: float = 6.5                 # pocketsphinx's default language weight
    adaptation: str | Path | None = None   # a speaker adaptation file (perception.audio.adapt): adapted means
    preroll_ms: int = 300
    # With a rescorer: how many distinct N-best word strings it sees, and the combined score
    # rescorer log-prob - word_penalty * words + first_bonus [decoder's own best path] (nats). pocketsphinx's
    # N-best path scores are left out: on held-out chitchat sentences they did not help pick the right words.
    nbest: int = 20
    rescore_word_penalty: float = 1.5
    rescore_first_bonus: float = 5.0


def _plain_lm(path: Path) -> Path:
    """A .gz ARPA file unpacked once into the temp folder (keyed by content hash); other paths as given."""
    if path.suffix != ".gz":
        return path
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"fep_motion_lm_{digest}.arpa"
    if not out.is_file():
        part = out.with_suffix(".part")
        with gzip.open(path, "rb") as src, part.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        part.replace(out)
    return out


def load_decoder(config: RecognizerConfig = RecognizerConfig()):  # -> pocketsphinx.Decoder
    """A pocketsphinx Decoder with the en-us acoustic model (speaker-adapted means when configured), its dictionary
    and the configured LM."""
    try:
        from pocketsphinx import Decoder
    except ImportError:
        raise PerceptionError("pocketsphinx is not installed; pip install pocketsphinx==5.1.1") from None
    kwargs: dict[str, object] = {"loglevel": "FATAL", "lw": float(config.lw)}
    if str(config.lm) != "default":
        lm = Path(config.lm)
        if not lm.is_file():
            raise PerceptionError(f"{lm}: language model not found; run `python -m perception.audio.build_lm`")
        kwargs["lm"] = str(_plain_lm(lm))
    if config.adaptation is not None:
        from perception.audio.adapt import load_adaptation, means_file

        kwargs["mean"] = str(means_file(load_adaptation(config.adaptation)))
    try:
        return Decoder(**kwargs)
    except (RuntimeError, ValueError) as exc:
        raise PerceptionError(f"{config.lm}: pocketsphinx cannot load this language model ({exc}); "
                              "rebuild it with `python -m perception.audio.build_lm`") from None


def rescore_choice(candidates: Sequence[str], scores: Sequence[float], config: RecognizerConfig = RecognizerConfig()
                   ) -> tuple[int, float]:
    """Index of the best candidate under rescorer score - word penalty + first-candidate bonus, and its posterior
    among the candidates (softmax of the combined scores)."""
    if len(candidates) != len(scores) or not candidates:
        raise ValueError(f"rescorer returned {len(scores)} scores for {len(candidates)} candidates; return one each")
    total = np.array([float(s) - config.rescore_word_penalty * len(c.split()) for c, s in zip(candidates, scores)])
    total[0] += config.rescore_first_bonus
    total = np.where(np.isfinite(total), total, -1e30)
    best = int(np.argmax(total))
    post = np.exp(total - total[best])
    return best, float(1.0 / post.sum())


class Recognizer:
    """One pocketsphinx decoder used utterance by utterance: start(t), feed(samples)..., finish() -> Transcript.

    `rescorer` (optional) maps word strings to log-probabilities; with it, finish() picks among the decoder's best
    path and its N-best list by rescore_choice."""

    def __init__(self, config: RecognizerConfig = RecognizerConfig(), rescorer: Rescorer | None = None) -> None:
        self.config = config
        self.rescorer = rescorer
        self.decoder = load_decoder(config)
        self._start_t: float | None = None
        self._n = 0

    @property
    def active(self) -> bool:
        """True between start() and finish()."""
        return self._start_t is not None

    def start(self, t: float) -> None:
        """Begin an utterance whose first fed sample is at session time t."""
        self.decoder.start_utt()
        self._start_t, self._n = t, 0

    def feed(self, samples: np.ndarray) -> None:
        """Decode more 16 kHz int16 samples of the current utterance (streaming search)."""
        x = np.asarray(samples, dtype=np.int16)
        self.decoder.process_raw(x.tobytes(), False, False)
        self._n += len(x)

    def finish(self, end_t: float | None = None) -> Transcript:
        """End the utterance and return its transcript; latency is this call's wall time."""
        if self._start_t is None:
            raise RuntimeError("Recognizer.finish() without start()")
        t0 = time.perf_counter()
        self.decoder.end_utt()
        hyp = self.decoder.hyp()
        segs = [s for s in self.decoder.seg() if s.word not in _FILLERS and not s.word.startswith("[")]
        words = tuple(s.word.split("(")[0] for s in segs)
        # Confidence: the mean lattice posterior of the recognised words (pocketsphinx's forward-backward
        # word posteriors); 0 when nothing was recognised.
        conf = float(np.clip(np.mean([s.prob for s in segs]), 0.0, 1.0)) if segs else 0.0
        text = hyp.hypstr if hyp is not None else ""
        alternatives: tuple[str, ...] = ()
        if self.rescorer is not None and text:
            alternatives = self._candidates(" ".join(words))
            pick, posterior = rescore_choice(alternatives, self.rescorer(list(alternatives)), self.config)
            if pick != 0:   # the rescorer changed the words: their confidence is the N-best posterior
                text, conf = alternatives[pick], posterior
                words = tuple(text.split())
        latency = time.perf_counter() - t0
        start = self._start_t
        self._start_t = None
        end = end_t if end_t is not None else start + self._n / SAMPLE_RATE
        return Transcript(text=text, confidence=conf, start_t=start, end_t=end, latency_s=latency, words=words,
                          alternatives=alternatives)

    def _candidates(self, best: str) -> tuple[str, ...]:
        """The best path's words first, then distinct N-best word strings (fillers dropped), up to config.nbest."""
        out = [best]
        for k, h in enumerate(self.decoder.nbest()):
            if len(out) >= self.config.nbest or k >= 10 * self.config.nbest:
                break
            words = " ".join(w.split("(")[0] for w in h.hypstr.split() if w not in _FILLERS and not w.startswith("["))
            if words and words not in out:
                out.append(words)
        return tuple(out)

    def transcribe(self, samples: np.ndarray, start_t: float = 0.0) -> Transcript:
        """Decode one whole clip as a single utterance."""
        self.start(start_t)
        self.feed(samples)
        return self.finish()


class SegmentedRecognizer:
    """Recognition cut by the VAD: feed every frame with the events AudioAnalyzer decided at it; an utterance
    starts `preroll_ms` before an onset and ends at the offset (after the gate's hangover), giving a Transcript
    whose span is the speech's [onset, offset] and whose latency runs from the offset decision to the result."""

    def __init__(self, config: RecognizerConfig = RecognizerConfig(), recognizer: Recognizer | None = None) -> None:
        self.recognizer = recognizer or Recognizer(config)
        self._ring: deque[AudioFrame] = deque(maxlen=max(1, config.preroll_ms // FRAME_MS) + 10)
        self._onset_t: float | None = None

    def process(self, frame: AudioFrame, events: Sequence[SpeechEvent]) -> Transcript | None:
        """Feed one frame and its events; returns a Transcript when an utterance ended at this frame."""
        rec = self.recognizer
        self._ring.append(frame)
        out: Transcript | None = None
        for ev in events:
            if ev.kind == "onset" and not rec.active:
                self._onset_t = ev.t
                first = ev.t - rec.config.preroll_ms / 1000.0
                buffered = [f for f in self._ring if f.t >= first - 1e-9]
                rec.start(buffered[0].t)
                for f in buffered:
                    rec.feed(f.samples)
                return None
            if ev.kind == "offset" and rec.active:
                out = self._finish(ev)
        if rec.active and out is None:
            rec.feed(frame.samples)
        return out

    def _finish(self, ev: SpeechEvent) -> Transcript:
        tr = self.recognizer.finish(ev.t)
        onset = self._onset_t if self._onset_t is not None else tr.start_t
        self._onset_t = None
        return Transcript(text=tr.text, confidence=tr.confidence, start_t=onset, end_t=ev.t,
                          latency_s=tr.latency_s, words=tr.words, alternatives=tr.alternatives)

    def flush(self, events: Sequence[SpeechEvent] = ()) -> Transcript | None:
        """End an open utterance at the end of the stream (pass the analyzer's flushed offset event if any)."""
        if not self.recognizer.active:
            return None
        offsets = [e for e in events if e.kind == "offset"]
        if offsets:
            return self._finish(offsets[-1])
        return self.recognizer.finish()
