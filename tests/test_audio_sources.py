"""Audio sources: frame timing across drop-outs, the microphone's error without a device, a video's audio track,
WAV files and scripted espeak-ng speech."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from perception.audio.sources import (
    Framer,
    MicrophoneSource,
    SpeechSynthSource,
    VideoAudioSource,
    WavFileSource,
    ffmpeg_exe,
    open_audio_source,
)
from perception.audio.types import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame
from perception.errors import PerceptionError
from perception.sources import SourceEvent


def _dominant_hz(samples: np.ndarray) -> float:
    spec = np.abs(np.fft.rfft(samples.astype(np.float64) * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)[np.argmax(spec)])


def _needs_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install -y espeak-ng)")


def test_frames_stay_on_the_session_clock_across_a_dropout():
    rng = np.random.default_rng(0)
    framer = Framer()
    items = []
    t = 10.0
    for n in (500, 130, 777, 320):       # blocks of odd sizes, contiguous
        items += framer.push(rng.integers(-1000, 1000, n, dtype=np.int16), t)
        t += n / SAMPLE_RATE
    items += framer.push(np.zeros(640, np.int16), t + 0.5)   # half a second of audio never arrived
    frames = [i for i in items if isinstance(i, AudioFrame)]
    events = [i for i in items if isinstance(i, SourceEvent)]
    assert [e.kind for e in events] == ["dropout", "recovered"]
    before = [f for f in frames if f.t < events[0].t]
    after = [f for f in frames if f.t >= events[1].t]
    assert len(before) == (500 + 130 + 777 + 320) // FRAME_SAMPLES and len(after) == 2
    assert np.allclose(np.diff([f.t for f in before]), FRAME_SAMPLES / SAMPLE_RATE)
    assert before[0].t == 10.0 and after[0].t == pytest.approx(t + 0.5)
    assert [f.index for f in frames] == list(range(len(frames)))
    assert all(len(f.samples) == FRAME_SAMPLES for f in frames)


def test_microphone_without_a_device_fails_with_a_one_line_fix():
    with pytest.raises(PerceptionError) as err:
        MicrophoneSource(device=9999)
    assert "\n" not in str(err.value) and str(err.value).startswith("microphone")
    try:
        import sounddevice as sd
    except OSError:   # no PortAudio: the error names the system package
        assert "libportaudio2" in str(err.value)
        return
    if not any(d["max_input_channels"] > 0 for d in sd.query_devices()):
        with pytest.raises(PerceptionError, match="no audio input device.*plug in a microphone"):
            open_audio_source("mic")


@pytest.fixture(scope="module")
def video_with_tone(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("av") / "tone.mp4"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10",
                    "-f", "lavfi", "-i", "sine=frequency=220:sample_rate=44100", "-t", "1.5", "-c:v", "mpeg4",
                    "-c:a", "aac", "-shortest", str(path)], check=True)
    return path


def test_video_audio_track_decodes_to_16k_frames(video_with_tone):
    with VideoAudioSource(video_with_tone, t0=3.0) as src:
        items = list(src)
    frames = [i for i in items if isinstance(i, AudioFrame)]
    assert isinstance(items[-1], SourceEvent) and items[-1].kind == "end"
    assert 1.4 <= len(frames) * FRAME_SAMPLES / SAMPLE_RATE <= 1.6
    assert frames[0].t == 3.0 and np.allclose(np.diff([f.t for f in frames]), 0.02)
    audio = np.concatenate([f.samples for f in frames[10:60]])
    assert _dominant_hz(audio) == pytest.approx(220, abs=3)


def test_video_without_audio_and_missing_files_are_one_line_errors(tmp_path):
    silent = tmp_path / "silent.mp4"
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10",
                    "-t", "0.5", "-c:v", "mpeg4", str(silent)], check=True)
    with pytest.raises(PerceptionError, match="silent.mp4: video has no audio track"):
        VideoAudioSource(silent)
    with pytest.raises(PerceptionError, match="nope.wav: no such file"):
        open_audio_source(tmp_path / "nope.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav at all")
    with pytest.raises(PerceptionError, match="junk.wav: cannot read as WAV"):
        WavFileSource(junk)


def test_wav_at_44k_stereo_is_resampled_to_16k_mono(tmp_path):
    from scipy.io import wavfile

    t = np.arange(44_100) / 44_100
    tone = (8000 * np.sin(2 * np.pi * 300 * t)).astype(np.int16)
    wavfile.write(tmp_path / "tone.wav", 44_100, np.stack([tone, tone], axis=1))
    frames = [i for i in WavFileSource(tmp_path / "tone.wav") if isinstance(i, AudioFrame)]
    audio = np.concatenate([f.samples for f in frames])
    assert len(frames) == 50 and _dominant_hz(audio) == pytest.approx(300, abs=2)
    assert np.sqrt(np.mean(audio[1000:-1000].astype(float) ** 2)) == pytest.approx(8000 / np.sqrt(2), rel=0.02)


def test_speech_synth_places_utterances_on_the_script_times():
    _needs_espeak()
    src = SpeechSynthSource([(0.5, "hello there"), (2.0, "how are you")], t0=100.0)
    starts = [u.start_t for u in src.utterances]
    assert starts[0] == pytest.approx(100.5, abs=0.05) and starts[1] == pytest.approx(102.0, abs=0.05)
    assert all(u.end_t - u.start_t > 0.3 for u in src.utterances)
    frames = [i for i in src if isinstance(i, AudioFrame)]
    loud = [f.t for f in frames if np.abs(f.samples).max() > 1000]
    assert loud[0] == pytest.approx(100.5, abs=0.05)
