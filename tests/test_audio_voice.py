"""Voice activity, pitch and listener cues: VAD segments of a synthesized clip with known silences, YIN on tones and
on speech, pauses and the Ward & Tsukahara low-pitch cue."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perception.audio.events import CueConfig, CueDetector
from perception.audio.features import AnalyzerConfig, AudioAnalyzer
from perception.audio.pitch import PitchTracker, yin
from perception.audio.sources import ArraySource, speech_extent, synthesize
from perception.audio.types import FRAME_SAMPLES, SAMPLE_RATE, AudioFrame, AudioFrameFeatures
from perception.audio.vad import OffsetRefineConfig, OffsetRefiner

PHRASES = ("I have a job interview tomorrow", "thank you for listening", "see you later")
GAPS_S = (0.8, 1.3)


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install -y espeak-ng)")
    return [synthesize(p, "en-us", 160) for p in PHRASES]


def _stream(pieces: list[np.ndarray], gaps: tuple[float, ...], lead: float = 0.4):
    """Clips with the given silences between; true (start, end) speech extents in seconds."""
    parts, spans, pos = [np.zeros(int(lead * SAMPLE_RATE), np.int16)], [], int(lead * SAMPLE_RATE)
    for i, clip in enumerate(pieces):
        a, b = speech_extent(clip)
        spans.append((pos / SAMPLE_RATE + a, pos / SAMPLE_RATE + b))
        parts.append(clip)
        pos += len(clip)
        gap = np.zeros(int((gaps[i] if i < len(gaps) else 0.6) * SAMPLE_RATE), np.int16)
        parts.append(gap)
        pos += len(gap)
    return np.concatenate(parts), spans


def _analyse(samples: np.ndarray, analyzer: AudioAnalyzer | None = None):
    analyzer = analyzer or AudioAnalyzer()
    feats, events = [], []
    for item in ArraySource(samples):
        if isinstance(item, AudioFrame):
            f, ev = analyzer.process(item)
            feats.append(f)
            events += ev
    return feats, events + analyzer.gate.flush(len(samples) / SAMPLE_RATE)


def test_vad_finds_each_phrase_within_100_ms(clips):
    rng = np.random.default_rng(3)
    samples, spans = _stream(clips, GAPS_S)
    noisy = np.clip(samples + rng.normal(0, 30, len(samples)), -32768, 32767).astype(np.int16)  # a quiet room
    _, events = _analyse(noisy)
    onsets = [e for e in events if e.kind == "onset"]
    offsets = [e for e in events if e.kind == "offset"]
    assert len(onsets) == len(offsets) == len(PHRASES)
    for (a, b), on, off in zip(spans, onsets, offsets):
        assert abs(on.t - a) <= 0.1 and abs(off.t - b) <= 0.1
        # decided one hangover (0.4 s) after webrtcvad's last speech frame; the envelope moves the offset itself
        assert on.t_detected - on.t <= 0.1 and off.t_detected - off.t == pytest.approx(0.4, abs=0.21)


@settings(max_examples=25, deadline=None)
@given(f0=st.floats(70.0, 380.0), amp=st.floats(500.0, 20000.0), phase=st.floats(0.0, 6.28))
def test_yin_recovers_the_pitch_of_a_harmonic_tone(f0, amp, phase):
    t = np.arange(1200) / SAMPLE_RATE
    x = amp * (np.sin(2 * np.pi * f0 * t + phase) + 0.5 * np.sin(4 * np.pi * f0 * t) + 0.3 * np.sin(6 * np.pi * f0 * t))
    est = yin(x)
    assert est.voiced and est.f0_hz == pytest.approx(f0, rel=0.01)


def test_white_noise_and_silence_are_unvoiced():
    rng = np.random.default_rng(0)
    tracker = PitchTracker()
    noise = rng.normal(0, 3000, SAMPLE_RATE).astype(np.int16)
    voiced = [tracker.update(noise[i:i + FRAME_SAMPLES]).voiced for i in range(0, len(noise), FRAME_SAMPLES)]
    assert sum(voiced) <= 2
    assert not yin(np.zeros(1200)).voiced


def test_pitch_of_a_male_voice_clip_lies_in_the_male_range(clips):
    feats, _ = _analyse(clips[0])
    speech = [f for f in feats if f.vad]
    f0 = np.array([f.f0_hz for f in speech if f.voiced])
    assert len(f0) >= 0.4 * len(speech)
    assert 70 <= np.median(f0) <= 160 and np.percentile(f0, 95) < 250


def _features(f0_track: list[float], vad: list[bool] | None = None) -> list[AudioFrameFeatures]:
    vad = vad or [True] * len(f0_track)
    return [AudioFrameFeatures(t=i * 0.02, index=i, vad=v, in_speech=True, energy_db=-20.0, f0_hz=f,
                               voiced=f > 0, periodicity=0.9 if f > 0 else 0.1)
            for i, (f, v) in enumerate(zip(f0_track, vad, strict=True))]


def _cues(feats: list[AudioFrameFeatures], config: CueConfig | None = None):
    det = CueDetector(config or CueConfig())
    return [e for f in feats for e in det.update(f)]


def test_low_pitch_cue_follows_ward_and_tsukahara():
    rng = np.random.default_rng(1)
    body = list(120 + 15 * rng.standard_normal(60))            # 1.2 s of speech around 120 Hz
    low = [85.0] * 7                                            # 140 ms below the 26th percentile
    events = _cues(_features(body + low + [125.0] * 5))
    lows = [e for e in events if e.kind == "low_pitch"]
    assert len(lows) == 1 and lows[0].t == pytest.approx(1.2) and lows[0].t_detected == pytest.approx(1.32)
    assert not [e for e in _cues(_features(body + [85.0] * 4 + [125.0] * 5)) if e.kind == "low_pitch"]  # 80 ms
    short_turn = _cues(_features(body[:20] + low), CueConfig(min_history_frames=10))  # only 400 ms of speech
    assert not [e for e in short_turn if e.kind == "low_pitch"]


def test_pause_inside_a_turn(clips):
    a, b = clips[1], clips[2]
    a_end = int(speech_extent(a)[1] * SAMPLE_RATE)
    b_start = int(speech_extent(b)[0] * SAMPLE_RATE)
    silence = np.zeros(int(0.25 * SAMPLE_RATE), np.int16)
    samples = np.concatenate([np.zeros(6400, np.int16), a[:a_end], silence, b[b_start:], np.zeros(12800, np.int16)])
    _, events = _analyse(samples)
    kinds = [e.kind for e in events if e.kind in ("onset", "offset")]
    pauses = [e for e in events if e.kind == "pause" and e.duration_s >= 0.2]
    assert kinds == ["onset", "offset"]            # one turn: the 250 ms silence is shorter than the hangover
    assert len(pauses) == 1
    assert pauses[0].duration_s == pytest.approx(0.25, abs=0.08)
    assert pauses[0].t == pytest.approx(0.4 + a_end / SAMPLE_RATE, abs=0.08)
    # the early cue: once, ~200 ms into the silence, while the gate still holds the turn (and again at the end)
    silences = [e for e in events if e.kind == "silence"]
    assert len(silences) == 2
    assert silences[0].t == pytest.approx(pauses[0].t, abs=0.03)
    assert silences[0].t_detected - silences[0].t == pytest.approx(0.2, abs=0.021)
    offset = next(e for e in events if e.kind == "offset")
    assert silences[1].t_detected < offset.t_detected - 0.15     # well before the gate's offset


def test_silence_cue_comes_once_per_silence_and_only_inside_speech():
    """`silence_ms` of non-speech frames inside a segment give one cue, decided then; a shorter gap none; a new
    silence after speech resumed another; frames outside speech none; silence_ms 0 turns it off."""
    vad = [True] * 20 + [False] * 6 + [True] * 10 + [False] * 15 + [True] * 5
    events = [e for e in _cues(_features([120.0] * len(vad), vad)) if e.kind == "silence"]
    assert len(events) == 1                                     # 120 ms: no cue; 300 ms: one
    assert events[0].t == pytest.approx(36 * 0.02) and events[0].t_detected == pytest.approx(46 * 0.02)
    outside = [AudioFrameFeatures(t=i * 0.02, index=i, vad=False, in_speech=False, energy_db=-60.0, f0_hz=0.0,
                                  voiced=False, periodicity=0.0) for i in range(30)]
    assert not [e for e in _cues(outside) if e.kind == "silence"]
    assert not [e for e in _cues(_features([120.0] * len(vad), vad), CueConfig(silence_ms=0)) if e.kind == "silence"]


def test_vad_in_white_noise_at_20_db_snr(clips):
    rng = np.random.default_rng(4)
    samples, spans = _stream(clips, GAPS_S)
    x = samples.astype(np.float64)
    speech_power = np.mean(np.concatenate([x[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)] for a, b in spans]) ** 2)
    noisy = x + rng.normal(0, np.sqrt(speech_power / 100.0), len(x))
    _, events = _analyse(np.clip(noisy, -32768, 32767).astype(np.int16))
    onsets = [e.t for e in events if e.kind == "onset"]
    offsets = [e.t for e in events if e.kind == "offset"]
    assert len(onsets) == len(offsets) == len(PHRASES)
    assert all(abs(on - a) <= 0.1 for on, (a, _) in zip(onsets, spans))
    assert all(abs(off - b) <= 0.1 for off, (_, b) in zip(offsets, spans))


def _refiner_over(levels_db: list[float], noise_frames: int = 60, seed: int = 0) -> OffsetRefiner:
    """A refiner fed `noise_frames` of white noise at -60 dBFS, then 10 ms half-frames at the given levels."""
    rng = np.random.default_rng(seed)
    ref = OffsetRefiner(OffsetRefineConfig())
    unit = 32768.0 * 10 ** (-60 / 20)
    for i in range(noise_frames):
        ref.update(i * 0.02, rng.normal(0, unit, FRAME_SAMPLES), speech=False)
    half = FRAME_SAMPLES // 2
    t0 = noise_frames * 0.02
    for k in range(0, len(levels_db), 2):
        pair = [rng.normal(0, 32768.0 * 10 ** (db / 20), half) for db in levels_db[k:k + 2]]
        ref.update(t0 + k * 0.01, np.concatenate(pair), speech=True)
    return ref


def test_offset_refiner_trims_overhang_extends_a_quiet_tail_and_bridges_a_closure():
    t0 = 1.2
    speech, noise = [-20.0] * 20, [-60.0] * 40
    # webrtcvad's overhang: the gate ends 100 ms after the speech did -> back to the end of the speech
    ref = _refiner_over(speech + noise)
    assert ref.refine(t0 + 0.3, floor_db=-60.0) == pytest.approx(t0 + 0.2, abs=1e-6)
    # a quiet tail (-45 dBFS, 15 dB over the floor) the gate missed -> extended to its end
    ref = _refiner_over(speech + [-45.0] * 8 + noise)
    assert ref.refine(t0 + 0.2, floor_db=-60.0) == pytest.approx(t0 + 0.28, abs=1e-6)
    # a 40 ms stop closure, then a 20 ms release: one utterance up to the release
    ref = _refiner_over(speech + [-60.0] * 4 + [-30.0] * 2 + noise)
    assert ref.refine(t0 + 0.2, floor_db=-60.0) == pytest.approx(t0 + 0.26, abs=1e-6)
    # a burst after 200 ms of silence is not bridged
    ref = _refiner_over(speech + [-60.0] * 20 + [-30.0] * 2 + noise)
    assert ref.refine(t0 + 0.2, floor_db=-60.0) == pytest.approx(t0 + 0.2, abs=1e-6)


def _shaped_noise(n: int, rng: np.random.Generator, lo_hz: float, hi_hz: float, rms_db: float) -> np.ndarray:
    """Gaussian noise band-limited to lo_hz..hi_hz at rms_db dBFS."""
    spec = np.fft.rfft(rng.normal(0.0, 1.0, n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    spec[(f < lo_hz) | (f > hi_hz)] = 0.0
    x = np.fft.irfft(spec, n)
    return x * (32768.0 * 10 ** (rms_db / 20) / np.sqrt(np.mean(x * x)))


def test_subband_refiner_keeps_a_fricative_tail_under_babble_like_noise():
    """Babble-like noise (energy under 1.5 kHz, level swinging +-6 dB from syllable to syllable), a voiced body
    10 dB over it, then a 150 ms fricative (4-7 kHz) 10 dB under the noise's mean level: the broadband refiner ends the
    speech with the body; with sub-band evidence it ends with the fricative, where nothing masks it."""
    rng = np.random.default_rng(0)
    lead, body, tail, after = 3.0, 0.5, 0.15, 0.5
    n = int((lead + body + tail + after) * SAMPLE_RATE)
    steps = 10 ** (rng.uniform(-6.0, 6.0, n // 1600 + 1) / 20)
    x = _shaped_noise(n, rng, 100.0, 1500.0, -30.0) * np.repeat(steps, 1600)[:n]
    a, b, c = (int(s * SAMPLE_RATE) for s in (lead, lead + body, lead + body + tail))
    x[a:b] += _shaped_noise(b - a, rng, 100.0, 3000.0, -20.0)
    x[b:c] += _shaped_noise(c - b, rng, 4000.0, 7000.0, -40.0)
    x = np.clip(np.rint(x), -32768, 32767).astype(np.int16)

    def refined(config: OffsetRefineConfig) -> float:
        ref = OffsetRefiner(config)
        for i in range(len(x) // FRAME_SAMPLES):
            t = i * FRAME_SAMPLES / SAMPLE_RATE
            ref.update(t, x[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES], speech=t >= lead)
        return ref.refine(lead + body, floor_db=-40.0)

    no_tail = {"tail_ms_per_db": 0.0}  # the sub-band evidence alone (the hidden-tail step is tested below)
    assert refined(OffsetRefineConfig(subband=None, **no_tail)) == pytest.approx(lead + body, abs=0.03)
    assert refined(OffsetRefineConfig(**no_tail)) == pytest.approx(lead + body + tail, abs=0.03)
    # the evidence followed the fricative to its end under the noise: no hidden tail goes on top of that
    assert refined(OffsetRefineConfig()) == refined(OffsetRefineConfig(**no_tail))
    assert refined(OffsetRefineConfig(tail_after_extension=True)) > lead + body + tail + 0.03


def _decaying_phrase(noise_db: float, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    """White noise at noise_db, from 3 s a phrase at -24 dBFS for 0.6 s whose end then decays 0.25 dB/ms for 120 ms
    (to 30 dB under the phrase). Returns samples, the end of the phrase's body and the end of its tail."""
    lead, body = 3.0, 0.6
    n = int((lead + body + 0.6) * SAMPLE_RATE)
    x = rng.normal(0.0, 32768.0 * 10 ** (noise_db / 20), n)
    a, b = int(lead * SAMPLE_RATE), int((lead + body) * SAMPLE_RATE)
    decay = np.arange(int(0.12 * SAMPLE_RATE)) / SAMPLE_RATE * 1000.0 * 0.25   # dB under the phrase
    x[a:b] += rng.normal(0.0, 32768.0 * 10 ** (-24 / 20), b - a)
    x[b:b + len(decay)] += rng.normal(0.0, 1.0, len(decay)) * 32768.0 * 10 ** ((-24 - decay) / 20)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16), lead + body, lead + body + 0.12


def test_offset_moves_on_over_the_tail_the_noise_hides():
    """The refined offset of a phrase whose end decays into white noise lands where the decay meets the noise; the
    hidden-tail step moves it towards the tail's true end, further when the noise is nearer the phrase, and not at all
    when the noise is 26 dB under it."""
    def refined(x: np.ndarray, body_end: float, noise_db: float, config: OffsetRefineConfig) -> float:
        ref = OffsetRefiner(config)
        for i in range(len(x) // FRAME_SAMPLES):
            t = i * FRAME_SAMPLES / SAMPLE_RATE
            ref.update(t, x[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES], speech=3.0 <= t < body_end)
        return ref.refine(body_end, floor_db=noise_db)

    shifts = {}
    for noise_db in (-38.0, -34.0, -50.0):
        x, body_end, true_end = _decaying_phrase(noise_db, np.random.default_rng(1))
        plain = refined(x, body_end, noise_db, OffsetRefineConfig(subband=None, tail_ms_per_db=0.0))
        moved = refined(x, body_end, noise_db, OffsetRefineConfig(subband=None))
        shifts[noise_db] = moved - plain
        if noise_db > -50.0:
            assert abs(moved - true_end) < abs(plain - true_end)
    assert shifts[-50.0] == 0.0
    assert 0.0 < shifts[-38.0] < shifts[-34.0] <= 0.06


def _exact_half_frames(levels_db: list[float], rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise, each 10 ms half-frame scaled to exactly its level in dBFS."""
    half = FRAME_SAMPLES // 2
    parts = [rng.normal(0.0, 1.0, half) for _ in levels_db]
    scales = [32768.0 * 10 ** (db / 20) / np.sqrt(np.mean(p * p)) for p, db in zip(parts, levels_db)]
    return np.concatenate([p * g for p, g in zip(parts, scales)])


def test_offset_refiner_does_not_run_on_into_babble_at_the_noise_peaks():
    """Babble-like noise whose 10 ms level swings over 12 dB: half-frames 1 dB over the noise's own 90th percentile
    right after a phrase are the noise's peaks, and the offset stays at the phrase's end; a continuation 10 dB over
    those peaks still extends it."""
    rng = np.random.default_rng(5)
    noise = [-66.0 + (5 * k) % 13 for k in range(160)]          # -66 .. -54 dBFS
    peaks = float(np.percentile(noise, 90))
    floor = float(np.percentile(noise, 10))
    phrase = [-20.0] * 20

    def refined(after_db: float, config: OffsetRefineConfig) -> float:
        ref = OffsetRefiner(config)
        x = _exact_half_frames(noise, rng)
        for i in range(len(x) // FRAME_SAMPLES):
            ref.update(i * 0.02, x[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES], speech=False)
        y = _exact_half_frames(phrase + [after_db] * 6 + noise[:40], rng)
        t0 = len(x) / SAMPLE_RATE
        for i in range(len(y) // FRAME_SAMPLES):
            ref.update(t0 + i * 0.02, y[i * FRAME_SAMPLES:(i + 1) * FRAME_SAMPLES], speech=True)
        return ref.refine(t0 + 0.2, floor_db=floor) - t0

    config = OffsetRefineConfig(subband=None)
    assert refined(peaks + 1.0, config) == pytest.approx(0.2, abs=1e-6)
    assert refined(peaks + 10.0, config) == pytest.approx(0.26, abs=1e-6)
    # the old rule (loud: over the peaks by any amount) took the babble as the phrase's continuation
    assert refined(peaks + 1.0, OffsetRefineConfig(subband=None, loud_over_noise_db=0.0)) >= 0.26 - 1e-6


def test_gate_ends_each_phrase_under_babble_at_10_db_snr(clips):
    """Babble of four other espeak voices reading the phrases without pauses, 10 dB under the speech: the gate finds
    the three phrases (no segment made of babble) and ends each within 100 ms; holding speech only over the babble's
    own peaks is what stops it running on into them (with the old hold, 2 dB under the peaks, it does)."""
    samples, spans = _stream(clips, (1.2, 1.2), lead=3.0)
    samples = np.concatenate([samples, np.zeros(SAMPLE_RATE, np.int16)])
    n = len(samples)
    babble = np.zeros(n)
    for k, voice in enumerate(("en-gb", "en-us+f2", "en-029", "en-gb-scotland")):
        pieces: list[np.ndarray] = []
        while sum(map(len, pieces)) < n:
            for p in PHRASES[k % 3:] + PHRASES[:k % 3]:
                clip = synthesize(p, voice, 170)
                a, b = speech_extent(clip)
                pieces.append(clip[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)].astype(np.float64))
        babble += np.concatenate(pieces)[:n]
    x = samples.astype(np.float64)
    speech = np.concatenate([x[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)] for a, b in spans])
    noisy = x + babble * np.sqrt(np.mean(speech ** 2) / (np.mean(babble ** 2) * 10.0))
    noisy = np.clip(np.rint(noisy), -32768, 32767).astype(np.int16)

    def offsets(config: AnalyzerConfig) -> list[float]:
        return [e.t for e in _analyse(noisy, AudioAnalyzer(config))[1] if e.kind == "offset"]

    found = offsets(AnalyzerConfig())
    assert len(found) == len(PHRASES)
    assert all(abs(off - b) <= 0.1 for off, (_, b) in zip(found, spans))
    old = offsets(AnalyzerConfig(hold_over_noise_db=-2.0, wide_noise_db=float("-inf")))
    assert len(old) != len(PHRASES) or any(abs(off - b) > 0.1 for off, (_, b) in zip(old, spans))
