"""The virtual participant's voice: turns of phrases separated by pauses, silent gaps between turns, and a listener
contingency (a nod or tilt placed in my pause sustains my turn and shortens my pauses; Bavelas et al. 2000, JPSP
79:941). The timing runs on the participant's 60 Hz grid and is kept as ground truth (`phrases`, `responses`);
with audio on, each phrase is espeak-ng speech whose audible extent is the phrase's truth, served to the session
loop by `VirtualSpeechSource` (docs/architecture.md §1, §5).
"""
from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources

import numpy as np

from experiments.vp_config import SpeechConfig
from perception.audio.sources import AudioItem, AudioSource, Framer, speech_extent, synthesize
from perception.audio.types import FRAME_SAMPLES, SAMPLE_RATE

ESPEAK_TIME_PER_WORD = 0.75  # espeak-ng speaks a word in ~0.75 x 60/speed s (measured on the shipped sentences)
ESPEAK_SPEED = (100, 300)  # the speeds (wpm) we ask espeak-ng for
RAPPORT_RATE = 0.3  # weight of the latest pause in the running share of my pauses that got a listener response
NOISE_DBFS = -65.0  # room noise under the synthesized voice (a microphone never hears digital silence)


@dataclass
class Phrase:
    """One phrase I said: its text, audible span, turn, place in the turn and its phrase-final low-pitch start."""

    text: str
    t_onset: float
    t_offset: float
    turn: int
    index: int  # 0-based within the turn
    t_low: float  # start of the phrase-final low-pitch region (t_offset - low_pitch_s, within the phrase)
    extended: bool = False  # said because a listener response grew the turn
    pause_end: float = math.inf  # end of the pause after it (the next phrase, or my turn's end); inf until known


@dataclass
class ListenerResponse:
    """An agent nod or tilt that started in one of my pauses, and whether it grew my turn."""

    t: float
    gesture_class: str
    phrase_end: float  # the end of the phrase whose pause it landed in
    extended: bool


@functools.lru_cache(maxsize=512)
def _clip(text: str, voice: str, speed: int) -> tuple[np.ndarray, float, float]:
    """espeak-ng audio of `text` at `speed` wpm and its audible (start, end) in seconds (cached: texts repeat)."""
    x = synthesize(text, voice, speed)
    a, b = speech_extent(x)
    return x, float(a), float(b)


@functools.lru_cache(maxsize=1)
def load_sentences() -> tuple[str, ...]:
    """The shipped everyday sentences (experiments/data/everyday_sentences.txt), one phrase each."""
    text = (resources.files("experiments") / "data" / "everyday_sentences.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _lognormal(rng: np.random.Generator, mean: float, sd: float) -> float:
    """A lognormal draw with this mean and sd (sd 0: the mean)."""
    if sd <= 0:
        return mean
    s2 = math.log(1 + (sd / mean) ** 2)
    return float(rng.lognormal(math.log(mean) - s2 / 2, math.sqrt(s2)))


class TalkModel:
    """The speech state machine: gap -> phrase -> pause -> phrase ... -> gap; step(t) on the participant's grid."""

    def __init__(self, config: SpeechConfig, seed: int, sentences: tuple[str, ...] | None = None) -> None:
        self.config = config
        self._rng = np.random.default_rng([seed, 2])  # timing and text
        self._resp_rng = np.random.default_rng([seed, 3])  # listener-response draws only: a null speaker's timing
        self.sentences = sentences or load_sentences()  # never depends on the agent
        self._words = np.array([len(s.split()) for s in self.sentences])
        self.audio = False
        self.phrases: list[Phrase] = []
        self.responses: list[ListenerResponse] = []
        self._clips: list[tuple[int, np.ndarray]] = []  # (first sample on the session clock, int16 samples)
        self._pending: list[tuple[float, str]] = []  # agent onsets not yet reached by the grid
        self.state = "gap"
        self._until = _lognormal(self._rng, config.gap_mean_s, config.gap_sd_s) / 2  # first turn comes sooner
        self._turn = -1
        self._planned = 0
        self._done = 0
        self._phrase_end = -math.inf  # end of my latest phrase
        self._pause_end = -math.inf  # end of the pause after it (inf while in that pause)
        self._planned0 = 0  # phrases planned at the turn's start (the rest were added by listener responses)
        self._t = 0.0  # the grid time reached
        self._credited = True  # the latest phrase end already got its response
        self._rapport = 0.0
        self._reported = 0
        self._reported_resp = 0

    # ---- the listener -----------------------------------------------------------------------------------------------
    def notify(self, onset: float, gesture_class: str) -> None:
        """An agent gesture starting at `onset`; judged when the grid reaches it."""
        if gesture_class in self.config.backchannel_classes:
            self._pending.append((onset, gesture_class))

    def _judge(self, onset: float, cls: str) -> None:
        """Credit the latest phrase end with a response that starts in its pause or <= the window after it."""
        c = self.config
        if self._credited or onset < self._phrase_end:
            return
        if onset - self._phrase_end > c.backchannel_window_s and onset >= self._pause_end:
            return
        self._credited = True
        grow = c.backchannel > 0 and self._resp_rng.random() < c.backchannel
        self.responses.append(ListenerResponse(onset, cls, self._phrase_end, grow))
        if grow:
            self._planned += 1
            if self.state == "gap":  # my turn had just ended: take it up again now
                self.state, self._until = "pause", onset

    # ---- the grid ---------------------------------------------------------------------------------------------------
    def step(self, t: float) -> None:
        """Advance to grid time t: judge agent onsets reached, then change state when the current one is over."""
        self._t = t
        if self._pending:
            due = [p for p in self._pending if p[0] <= t]
            self._pending = [p for p in self._pending if p[0] > t]
            for onset, cls in sorted(due):
                self._judge(onset, cls)
        if t < self._until:
            return
        c, r = self.config, self._rng
        if self.state == "phrase":
            self._phrase_end, self._pause_end = self._until, math.inf
            self._credited = False
            cut = 1.0 - 0.5 * c.backchannel * self._rapport  # pause less after listener responses
            self.state, self._until = "pause", self._until + cut * _lognormal(r, c.pause_mean_s, c.pause_sd_s)
            return
        if self.state == "pause":
            self._pause_end = self._until
            self.phrases[-1].pause_end = self._until
            if c.backchannel > 0:
                got = bool(self.responses) and self.responses[-1].phrase_end == self._phrase_end
                self._rapport += RAPPORT_RATE * (float(got) - self._rapport)
            if self._done < self._planned:
                self._start_phrase(self._until)
            else:
                self.state, self._until = "gap", self._until + _lognormal(r, c.gap_mean_s, c.gap_sd_s)
            return
        self._turn += 1  # gap over: a new turn
        self._planned = self._planned0 = int(r.geometric(1.0 / c.phrases_mean))
        self._done = 0
        self._start_phrase(self._until)

    def _start_phrase(self, t0: float) -> None:
        c, r = self.config, self._rng
        target = _lognormal(r, c.phrase_mean_s, c.phrase_sd_s)
        nominal = self._words * 60.0 / c.words_per_min
        near = np.flatnonzero(np.abs(nominal - target) <= 0.25 * target)
        if near.size == 0:
            near = np.argsort(np.abs(nominal - target))[:3]
        k = int(near[r.integers(near.size)])
        text = self.sentences[k]
        duration = target
        if self.audio:
            speed = int(np.clip(round(ESPEAK_TIME_PER_WORD * self._words[k] * 60.0 / target / 10) * 10,
                                *ESPEAK_SPEED))
            clip, a, b = _clip(text, c.voice, speed)
            self._clips.append((round((t0 - a) * SAMPLE_RATE), clip))
            duration = float(b - a)
        extended = self._done >= self._planned0
        self._done += 1
        end = t0 + duration
        self.phrases.append(Phrase(text, float(t0), float(end), self._turn, self._done - 1,
                                   end - min(c.low_pitch_s, duration / 2), extended))
        self.state, self._until = "phrase", end

    # ---- what I am saying -------------------------------------------------------------------------------------------
    def speaking(self, t: float) -> bool:
        """Am I inside a phrase at time t (ground truth, for grid times already reached)?"""
        return any(p.t_onset <= t < p.t_offset for p in self.phrases[-2:])

    def render(self, start: int, n: int) -> np.ndarray:
        """n int16 samples of my speech from session sample `start` (clips already placed; silence elsewhere)."""
        out = np.zeros(n, dtype=np.float64)
        for s0, clip in self._clips[-4:]:
            lo, hi = max(start, s0), min(start + n, s0 + len(clip))
            if lo < hi:
                out[lo - start:hi - start] += clip[lo - s0:hi - s0]
        return out

    def flush_truth(self) -> list[Phrase]:
        """At the session's end: the phrases not yet reported, their pause cut at the last grid time reached."""
        rest = self.phrases[self._reported:]
        for p in rest:
            p.pause_end = min(p.pause_end, max(self._t, p.t_offset))
        self._reported = len(self.phrases)
        return rest

    def new_truth(self) -> tuple[list[Phrase], list[ListenerResponse]]:
        """Phrases whose pause is over and listener responses judged since the last call (for the session store)."""
        n = self._reported
        while n < len(self.phrases) and self.phrases[n].pause_end <= self._t:
            n += 1
        done, self._reported = self.phrases[self._reported:n], n
        resp = self.responses[self._reported_resp:]
        self._reported_resp = len(self.responses)
        return done, resp


class VirtualSpeechSource(AudioSource):
    """The participant's voice as a live 16 kHz audio source on the session clock: each 20 ms frame is rendered
    after the participant's behaviour has been advanced to the frame's end (docs/architecture.md §1)."""

    def __init__(self, advance: Callable[[float], None], talk: TalkModel, seed: int = 0) -> None:
        self.name = f"virtual participant voice ({talk.config.voice})"
        self.voice = talk.config.voice   # espeak-ng voice: the recogniser takes its shipped adaptation, if any
        self.duration_s = None
        self._advance = advance
        self._talk = talk
        self._noise = np.random.default_rng([seed, 4])
        self._framer = Framer()
        self._sample = 0

    def frame(self) -> AudioItem:
        """The next 20 ms frame."""
        t0 = self._sample / SAMPLE_RATE
        self._advance(t0 + FRAME_SAMPLES / SAMPLE_RATE)
        x = self._talk.render(self._sample, FRAME_SAMPLES)
        x += 32768.0 * 10 ** (NOISE_DBFS / 20) * self._noise.standard_normal(FRAME_SAMPLES)
        self._sample += FRAME_SAMPLES
        samples = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
        return self._framer.push(samples, t0)[0]

    def frames_until(self, t: float) -> list[AudioItem]:
        """Every frame that ends by session time t (a pull-based audio stage calls this once per tick)."""
        out = []
        while (self._sample + FRAME_SAMPLES) / SAMPLE_RATE <= t + 1e-9:
            out.append(self.frame())
        return out

    def frames(self) -> Iterator[AudioItem]:
        while True:
            yield self.frame()
