"""Live playback: each utterance is handed to the system's audio player in its own process (never awaited)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np

PLAYERS = (("aplay", ["-q"]), ("paplay", []), ("ffplay", ["-nodisp", "-autoexit", "-loglevel", "quiet"]))


def find_player() -> list[str] | None:
    """Command prefix of the first audio player found (aplay, paplay, ffplay), or None."""
    for name, args in PLAYERS:
        path = shutil.which(name)
        if path:
            return [path, *args]
    return None


class Player:
    """Plays int16 mono clips through an external player; the call returns at once."""

    def __init__(self, command: list[str]) -> None:
        self.command = command
        self._dir = Path(tempfile.mkdtemp(prefix="fep-voice-"))
        self._procs: list[subprocess.Popen] = []
        self._n = 0

    def play(self, samples: np.ndarray, rate: int) -> None:
        self._n += 1
        path = self._dir / f"utterance-{self._n}.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(np.asarray(samples, dtype=np.int16).tobytes())
        self._procs = [p for p in self._procs if p.poll() is None]
        self._procs.append(subprocess.Popen([*self.command, str(path)], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))

    def close(self) -> None:
        """Stop clips still playing and remove the temporary files."""
        for p in self._procs:
            if p.poll() is None:
                p.terminate()
        shutil.rmtree(self._dir, ignore_errors=True)
