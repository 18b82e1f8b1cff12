"""Speech recognition in a child process, so pocketsphinx never holds the session loop's GIL.

pocketsphinx keeps the GIL while it decodes (a 6 s clip stalled another thread for 650 ms, measured here), so in real
time the recogniser runs in a spawned process: the audio thread sends it every 20 ms frame with the speech events
decided at that frame, and it sends Transcripts back (docs/architecture.md §1).
"""
from __future__ import annotations

import multiprocessing as mp
import queue
from typing import Any

import numpy as np

from perception.audio.asr import RecognizerConfig, SegmentedRecognizer
from perception.audio.types import AudioFrame, SpeechEvent, Transcript
from perception.errors import PerceptionError

READY_TIMEOUT_S = 30.0


def _events(raw: list[tuple[str, float, float, float]]) -> list[SpeechEvent]:
    return [SpeechEvent(k, t=t, t_detected=td, duration_s=d) for k, t, td, d in raw]


def _serve(config: RecognizerConfig, inbox: Any, outbox: Any) -> None:
    """The child: load the decoder, then frame/flush messages in, ('transcript', Transcript) out."""
    try:
        rec = SegmentedRecognizer(config)
    except PerceptionError as exc:
        outbox.put(("error", str(exc)))
        return
    outbox.put(("ready", ""))
    while True:
        msg = inbox.get()
        if msg is None:
            return
        if msg[0] == "frame":
            _, data, t, index, events = msg
            tr = rec.process(AudioFrame(np.frombuffer(data, np.int16), t, index), _events(events))
        else:  # ("flush", events): end of stream or a drop-out closes the open utterance
            tr = rec.flush(_events(msg[1]))
        if tr is not None:
            outbox.put(("transcript", tr))


class ProcessRecognizer:
    """A SegmentedRecognizer in a spawned process: `send` frames, `take` finished Transcripts (never blocks)."""

    def __init__(self, config: RecognizerConfig | None = None) -> None:
        config = config or RecognizerConfig()
        ctx = mp.get_context("spawn")
        self._inbox: Any = ctx.Queue()
        self._outbox: Any = ctx.Queue()
        self._proc = ctx.Process(target=_serve, args=(config, self._inbox, self._outbox), name="asr", daemon=True)
        self._proc.start()
        try:
            kind, detail = self._outbox.get(timeout=READY_TIMEOUT_S)
        except queue.Empty:
            self.close()
            raise PerceptionError(f"speech recogniser did not start within {READY_TIMEOUT_S:.0f} s; "
                                  "run with --asr off") from None
        if kind == "error":
            self.close()
            raise PerceptionError(detail)

    def send(self, frame: AudioFrame, events: list[SpeechEvent]) -> None:
        """Hand one frame and its events to the recogniser."""
        self._inbox.put(("frame", frame.samples.tobytes(), frame.t, frame.index,
                         [(e.kind, e.t, e.t_detected, e.duration_s) for e in events]))

    def flush(self, events: list[SpeechEvent]) -> None:
        """Close the open utterance (its transcript arrives through `take`)."""
        self._inbox.put(("flush", [(e.kind, e.t, e.t_detected, e.duration_s) for e in events]))

    def take(self, wait_s: float = 0.0) -> list[Transcript]:
        """Transcripts finished so far; waits up to `wait_s` for the first one."""
        out: list[Transcript] = []
        while True:
            try:
                kind, tr = self._outbox.get(timeout=wait_s) if wait_s > 0 and not out else self._outbox.get_nowait()
            except (queue.Empty, EOFError, OSError):
                return out
            if kind == "transcript":
                out.append(tr)

    def close(self, wait_s: float = 2.0) -> list[Transcript]:
        """Stop the child after it has decoded what it was sent (at most `wait_s`); returns the last transcripts."""
        last: list[Transcript] = []
        if self._proc.is_alive():
            try:
                self._inbox.put(None)
            except (ValueError, OSError):
                pass
            self._proc.join(wait_s)
            last = self.take()
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(1.0)
        return last
