"""The agent's voice: espeak-ng audio and its jaw envelope, text-only fallback, the session track, and a demo whose
agent.mp4 carries an audio stream as long as the session with the reply where it was said."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from fep_motion.voice.envelope import RATE, audio_envelope, text_envelope
from fep_motion.voice.track import AudioTrack
from fep_motion.voice.voice import Voice
from perception.audio.espeak import Espeak, find_engine

needs_espeak = pytest.mark.skipif(find_engine() is None, reason="espeak-ng not installed (.ci/run installs it)")


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def decode_audio(video: Path, rate: int = 16000) -> np.ndarray:
    """The video's audio stream decoded to mono int16 at `rate` (empty when it has none)."""
    res = subprocess.run([ffmpeg(), "-v", "error", "-i", str(video), "-vn", "-ac", "1", "-ar", str(rate), "-f", "s16le",
                          "-"], capture_output=True, check=False)
    return np.frombuffer(res.stdout, dtype="<i2")


@needs_espeak
def test_espeak_speech_has_a_jaw_envelope_that_opens_and_closes():
    speech = Espeak(find_engine()).synthesize("Hello there. How was your trip to Kyoto?")
    assert speech.rate > 8000 and 1.0 < speech.duration < 6.0
    env = audio_envelope(speech.samples, speech.rate)
    assert abs(len(env) / RATE - speech.duration) < 0.02
    assert env.max() > 0.9 and np.mean(env > 0.3) > 0.3  # open for much of the speech
    assert np.mean(env < 0.05) > 0.05  # and closed in its pauses
    again = Espeak(find_engine()).synthesize("Hello there. How was your trip to Kyoto?")
    assert np.array_equal(speech.samples, again.samples)  # deterministic


def test_text_envelope_follows_syllables_and_pauses():
    env = text_envelope("Yes, I can do that.")
    assert 1.0 < len(env) / RATE < 2.5 and env.max() > 0.5
    rises = np.sum((env[1:] > 0.3) & (env[:-1] <= 0.3))
    assert rises == 5  # five one-syllable words -> the jaw opens five times
    assert np.all(env[-int(0.3 * RATE):] == 0.0)  # closed in the pause after the full stop
    assert np.array_equal(env, text_envelope("Yes, I can do that."))


def test_voice_off_and_missing_engine_are_text_only(monkeypatch):
    warnings: list[str] = []
    off = Voice("off", warn=warnings.append)
    off.say("Mm-hm, go on.")
    (u,) = off.poll(2.0)
    assert off.track is None and u.t0 == 2.0 and u.duration > 0.5 and not warnings
    monkeypatch.setenv("FEP_MOTION_ESPEAK", "/nonexistent/espeak-ng")
    missing = Voice("on", warn=warnings.append)
    missing.say("Mm-hm, go on.")
    (u2,) = missing.poll(3.0)
    assert missing.track is None and np.array_equal(u2.envelope, u.envelope)
    assert len(warnings) == 1 and "espeak-ng" in warnings[0] and "text only" in warnings[0]


def test_audio_track_places_clips_at_their_session_time(tmp_path):
    track = AudioTrack(rate=1000)
    track.add(0.5, np.full(200, 1000, dtype=np.int16), 1000)
    track.add(2.9, np.full(500, -7, dtype=np.int16), 1000)  # runs past the end: cut
    mix = track.render(3.0)
    assert len(mix) == 3000 and np.all(mix[500:700] == 1000) and np.all(mix[:500] == 0) and np.all(mix[2900:] == -7)
    with wave.open(str(track.write_wav(tmp_path / "v.wav", 3.0))) as w:
        assert w.getnframes() == 3000 and w.getframerate() == 1000


@needs_espeak
def test_demo_with_an_utterance_writes_agent_mp4_with_audio_as_long_as_the_session(tmp_path):
    talk = tmp_path / "talk.tsv"
    talk.write_text("1.0\tHi! I just came back from a trip to Kyoto.\n")
    out = tmp_path / "demo"
    res = subprocess.run([sys.executable, "-m", "cli", "demo", "--fast", "--duration", "6", "--out", str(out),
                          "--utterances", str(talk)], capture_output=True, text=True, timeout=300, check=False,
                         env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert res.returncode == 0, res.stderr
    video = out / "agent.mp4"
    probe = subprocess.run([ffmpeg(), "-hide_banner", "-i", str(video)], capture_output=True, text=True, check=False)
    assert re.search(r"Stream #0:\d.*: Audio: aac", probe.stderr), probe.stderr
    audio = decode_audio(video)
    assert abs(len(audio) / 16000 - 6.0) < 0.1  # the session's length (AAC priming trimmed by the decoder)
    loud = np.abs(audio.astype(np.int32)) > 1000
    first = np.argmax(loud) / 16000
    assert 0.9 <= first <= 1.6  # the reply is heard from its tick on (1.0 s), silence before
    assert loud.sum() / 16000 > 0.3 and not loud[-int(0.5 * 16000):].any()  # speech, over before the end


def test_voice_flag_rejects_other_values(capsys):
    from cli import main

    with pytest.raises(SystemExit) as exc:
        main(["demo", "--voice", "loud"])
    assert exc.value.code == 2 and "--voice" in capsys.readouterr().err
