"""Speaker adaptation (MLLR): the model files round-trip, the features follow sphinx's 1s_c_d_dd, the estimate
solves Leggetter & Woodland's eq. 3.3 exactly on exact statistics, and enrollment lowers the word error rate of a
voice on sentences it did not read."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perception.audio import adapt, enroll
from perception.audio.asr import Recognizer, RecognizerConfig
from perception.audio.sources import ArraySource, synthesize
from perception.audio.types import SAMPLE_RATE
from perception.errors import PerceptionError


def _needs_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install -y espeak-ng)")


def test_means_file_round_trips_and_phones_are_the_model_codebooks(tmp_path):
    model = adapt.load_model()
    assert model.means.shape == (42, 3, 128, 13)
    assert model.phones[:3] == ("+NSN+", "+SPN+", "AA") and model.phones.index("SIL") == 32   # the mdef's order
    assert not model.speech[[0, 1, 32]].any() and model.speech.sum() == 39
    adapt.write_s3(tmp_path / "means", model.head, model.means)
    _, back = adapt.read_s3(tmp_path / "means")
    np.testing.assert_array_equal(back, model.means.astype(np.float32))


@settings(max_examples=30, deadline=None)
@given(st.floats(-20, 20), st.floats(-3, 3), st.integers(12, 60))
def test_features_follow_sphinx_deltas(offset, slope, n):
    """c is mean-normalised; on a ramp d = c[t+2] - c[t-2] = 4 slope and dd = 0 away from the edges."""
    t = np.arange(n, dtype=np.float64)
    cep = offset + slope * t[:, None] * np.ones((1, 13))
    f = adapt.stream_features(cep)
    assert f.shape == (n, 3, 13)
    np.testing.assert_allclose(f[:, 0].mean(0), 0.0, atol=1e-9)
    np.testing.assert_allclose(f[3:-3, 1], 4 * slope, atol=1e-9)
    np.testing.assert_allclose(f[3:-3, 2], 0.0, atol=1e-9)


def _small_model(rng: np.random.Generator) -> adapt.AcousticModel:
    means = rng.normal(0, 3, (4, 2, 16, 5))
    var = rng.uniform(0.5, 2.0, means.shape)
    dead = np.zeros(means.shape[:3], bool)
    dead[1, 0, 3] = True
    speech = np.array([True, True, True, False])
    return adapt.AcousticModel(means, var, dead, speech, ("AA", "B", "C", "SIL"), b"")


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_estimate_recovers_the_transform_from_exact_statistics(seed):
    """Statistics of frames at the transformed means (F_m = c_m W xi_m): eq. 3.3 gives W back."""
    rng = np.random.default_rng(seed)
    model = _small_model(rng)
    n_stream, dim = model.means.shape[1], model.means.shape[3]
    w_true = np.concatenate([rng.normal(0, 1, (n_stream, dim, 1)),
                             np.eye(dim) + rng.normal(0, 0.2, (n_stream, dim, dim))], axis=-1)
    occ = rng.uniform(1, 20, model.means.shape[:3])
    first = np.zeros(model.means.shape)
    for s in range(n_stream):
        xi = np.concatenate([np.ones(model.means.shape[:1] + model.means.shape[2:3] + (1,)), model.means[:, s]], -1)
        first[:, s] = occ[:, s, :, None] * (xi @ w_true[s].T)
    w = adapt.estimate(model, adapt.MllrStats(occ, first), ridge=0.0)
    np.testing.assert_allclose(w, w_true, atol=1e-6)
    moved = adapt.transform_means(model, w)
    np.testing.assert_array_equal(moved[3], model.means[3])          # silence keeps its means
    np.testing.assert_array_equal(moved[1, 0, 3], model.means[1, 0, 3])  # so does an unused density


def test_accumulate_gives_a_frame_at_a_mean_to_that_gaussian():
    model = _small_model(np.random.default_rng(0))
    feats = np.stack([model.means[2, :, 7], model.means[3, :, 0]])     # one speech frame, one silence frame
    stats = adapt.accumulate(model, [adapt.Aligned(feats, np.array([2, 3]))])
    assert stats.frames == 1
    assert stats.occupancy[2, 0, 7] > 0.99 and stats.occupancy[3].sum() == 0.0
    np.testing.assert_allclose(stats.first[2, :, 7], model.means[2, :, 7] * stats.occupancy[2, :, 7, None])


def test_adaptation_file_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(PerceptionError, match="not found.*hearing enroll"):
        adapt.load_adaptation(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(PerceptionError, match="bad.json: not a speaker adaptation file"):
        adapt.load_adaptation(bad)
    good = adapt.SpeakerAdaptation([np.zeros((3, 13, 14))], "x", 1, 1, 10)
    good.save(tmp_path / "g.json")
    data = json.loads((tmp_path / "g.json").read_text())
    data["transforms"][0] = data["transforms"][0][:2]
    bad.write_text(json.dumps(data))
    with pytest.raises(PerceptionError, match=r"transforms\[0\] must be 3x13x14"):
        adapt.load_adaptation(bad)
    data["transforms"] = 3
    bad.write_text(json.dumps(data))
    with pytest.raises(PerceptionError, match="transforms: must be a list"):
        adapt.load_adaptation(bad)
    assert adapt.load_adaptation(tmp_path / "g.json").speaker == "x"


def _wer(rec: Recognizer, clips: list[tuple[np.ndarray, str]]) -> float:
    import jiwer

    return float(jiwer.wer([t.lower() for _, t in clips], [rec.transcribe(x).text or "<empty>" for x, _ in clips]))


def test_enrollment_lowers_the_error_rate_on_sentences_the_voice_did_not_read(tmp_path):
    """A voice reads 16 enrollment sentences; 8 other everyday sentences (the benchmark's) are recognised better."""
    _needs_espeak()
    from pathlib import Path

    train = enroll.synthesized(adapt.enrollment_sentences()[:16], "en-us", (160,))
    tests = [s.strip() for s in (Path(__file__).parent / "data" / "speech_sentences.txt").read_text().splitlines()]
    held = [(synthesize(s, "en-us", 160), s) for s in tests[:8]]
    adaptation = adapt.enroll(train, iterations=1, speaker="t")
    assert adaptation.aligned >= 8 and adaptation.frames > 1000
    adaptation.save(tmp_path / "a.json")
    before = _wer(Recognizer(RecognizerConfig(lm="default")), held)
    after = _wer(Recognizer(RecognizerConfig(lm="default", adaptation=tmp_path / "a.json")), held)
    assert after < before - 0.1, (before, after)


def test_prompted_enrollment_cuts_one_utterance_per_sentence():
    _needs_espeak()
    texts = ["please pass the salt", "the weather is nice today", "see you tomorrow"]
    gap = np.zeros(int(1.2 * SAMPLE_RATE), np.int16)
    clips = [synthesize(t, "en-us", 150) for t in texts]
    stream = np.concatenate([gap] + [x for c in clips for x in (c, gap)])
    shown: list[int] = []
    got = list(enroll.prompted(ArraySource(stream), texts + ["never read"], lambda k, s: shown.append(k),
                               timeout_s=5.0))
    assert [t for _, t in got] == texts and shown == [0, 1, 2, 3]
    for (x, _), c in zip(got, clips):
        assert abs(len(x) - len(c)) < 0.6 * SAMPLE_RATE


def test_enroll_command_writes_a_file_demo_takes_and_refuses_a_folder_without_texts(tmp_path):
    _needs_espeak()
    from scipy.io import wavfile

    rec = tmp_path / "rec"
    rec.mkdir()
    for k, s in enumerate(adapt.enrollment_sentences()[:6]):
        wavfile.write(rec / f"s{k}.wav", SAMPLE_RATE, synthesize(s, "en-us+f3", 150))
        (rec / f"s{k}.txt").write_text(s + "\n")
    out = tmp_path / "p01.adapt.json"
    cmd = [sys.executable, "-m", "cli", "hearing", "enroll", "--recordings", str(rec), "--out", str(out),
           "--iterations", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "--asr-adapt" in done.stdout and adapt.load_adaptation(out).speaker == "p01"
    (rec / "s0.txt").unlink()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2 and "s0.wav: no transcript s0.txt" in done.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    done = subprocess.run([sys.executable, "-m", "cli", "demo", "--audio", "on", "--asr-adapt", str(bad), "--out",
                           str(tmp_path / "demo"), "--duration", "2", "--fast", "--no-video"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].endswith(
        "--asr-adapt: " + f"{bad}: not a speaker adaptation file (no format: 'fep-motion speaker adaptation'); "
        "make one with `fep-motion hearing enroll`")
    assert not (tmp_path / "demo" / "study.db").exists()


def test_identity_adaptation_leaves_the_means_unchanged():
    model = adapt.load_model()
    eye = np.concatenate([np.zeros((3, 13, 1)), np.broadcast_to(np.eye(13), (3, 13, 13))], axis=-1)
    np.testing.assert_allclose(adapt.SpeakerAdaptation([eye]).means(model), model.means, atol=1e-9)


def test_a_synthesized_voice_is_heard_with_its_shipped_adaptation():
    _needs_espeak()
    from fep_motion.session.hearing import default_recognizer
    from perception.audio.sources import SpeechSynthSource

    shipped = adapt.voice_adaptation("en-us")
    assert shipped is not None and adapt.load_adaptation(shipped).aligned >= 60
    assert default_recognizer(SpeechSynthSource([(0.0, "hello")])).adaptation == shipped
    assert default_recognizer(SpeechSynthSource([(0.0, "hello")], voice="en-gb")).adaptation is None
    assert default_recognizer(ArraySource(np.zeros(320, np.int16))).adaptation is None
