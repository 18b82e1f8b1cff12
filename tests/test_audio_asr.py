"""Speech recognition: our conversational LM (a proper Witten-Bell model, shipped small) recognises clear speech,
and the VAD-cut recogniser returns one transcript per utterance with its time span."""
from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perception.audio.asr import CHITCHAT_LM, Recognizer, RecognizerConfig, SegmentedRecognizer, rescore_choice
from perception.audio.build_lm import count, logprob, witten_bell
from perception.audio.features import AudioAnalyzer
from perception.audio.sources import SpeechSynthSource, synthesize
from perception.audio.types import AudioFrame
from perception.errors import PerceptionError


@pytest.fixture(scope="module")
def recognizer() -> Recognizer:
    """A decoder that has heard two utterances: live CMN starts from a generic mean and adapts per utterance."""
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install -y espeak-ng)")
    rec = Recognizer(RecognizerConfig())
    for text in ("hello there", "how are you doing today"):
        rec.transcribe(synthesize(text, "en-us", 150))
    return rec


def _needs_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (apt-get install -y espeak-ng)")


def test_shipped_lm_is_small_and_a_trigram_arpa_model():
    assert CHITCHAT_LM.stat().st_size <= 3_000_000
    with gzip.open(CHITCHAT_LM, "rt") as fh:
        head = [next(fh) for _ in range(5)]
    counts = {line.split("=")[0]: int(line.split("=")[1]) for line in head if line.startswith("ngram")}
    assert counts.keys() == {"ngram 1", "ngram 2", "ngram 3"} and counts["ngram 1"] > 5000


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), cut=st.integers(1, 3))
def test_witten_bell_rows_sum_to_one_after_pruning(seed, cut):
    rng = np.random.default_rng(seed)
    words = ["a", "b", "c", "d", "e", "f"]
    sents = [list(rng.choice(words, rng.integers(1, 6))) for _ in range(60)]
    model = witten_bell(count(sents), bigram_min=cut, trigram_min=cut)
    vocab = [w for w in model.uni if w != "<s>"]
    for u, v in [("<s>", "a"), ("a", "b"), ("<none>", "<s>"), ("c", "c"), ("f", "e")]:
        if v in model.uni:
            assert sum(10 ** logprob(model, u, v, w) for w in vocab) == pytest.approx(1.0, abs=1e-6)


def test_recognises_a_clear_everyday_sentence(recognizer):
    _needs_espeak()
    clip = np.concatenate([np.zeros(3200, np.int16), synthesize("i like to read books", "en-us", 150)])
    tr = recognizer.transcribe(clip, start_t=5.0)
    assert tr.text == "i like to read books"
    assert 0.0 < tr.confidence <= 1.0 and tr.start_t == 5.0 and tr.end_t == pytest.approx(5.0 + len(clip) / 16000)
    assert tr.latency_s < 1.0


def test_vad_cut_recognition_gives_one_transcript_per_utterance(recognizer):
    _needs_espeak()
    src = SpeechSynthSource([(0.5, "i like to read books"), (3.5, "i love watching movies")])
    analyzer, seg, out = AudioAnalyzer(), SegmentedRecognizer(recognizer.config, recognizer), []
    for item in src:
        if isinstance(item, AudioFrame):
            _, events = analyzer.process(item)
            if (tr := seg.process(item, events)) is not None:
                out.append(tr)
    assert len(out) == 2
    for tr, utt in zip(out, src.utterances):
        assert abs(tr.start_t - utt.start_t) <= 0.1 and abs(tr.end_t - utt.end_t) <= 0.1
    assert out[0].words == ("i", "like", "to", "read", "books") and out[1].words[:3] == ("i", "love", "watching")


def test_missing_language_model_is_a_one_line_error(tmp_path):
    with pytest.raises(PerceptionError, match="nope.arpa: language model not found; run `python -m"):
        Recognizer(RecognizerConfig(lm=tmp_path / "nope.arpa"))


@settings(max_examples=40, deadline=None)
@given(scores=st.lists(st.floats(-50.0, 0.0), min_size=1, max_size=8), penalty=st.floats(0.0, 3.0),
       bonus=st.floats(0.0, 10.0))
def test_rescore_choice_is_the_argmax_of_the_combined_score(scores, penalty, bonus):
    cands = [" ".join(["w"] * (i + 1)) for i in range(len(scores))]
    cfg = RecognizerConfig(rescore_word_penalty=penalty, rescore_first_bonus=bonus)
    pick, posterior = rescore_choice(cands, scores, cfg)
    total = [s - penalty * (i + 1) + (bonus if i == 0 else 0.0) for i, s in enumerate(scores)]
    assert total[pick] == pytest.approx(max(total))
    assert 1.0 / len(scores) - 1e-9 <= posterior <= 1.0
    with pytest.raises(ValueError, match="rescorer returned 1 scores for 2 candidates"):
        rescore_choice(["a", "b"], [0.0])


def test_rescorer_hook_reorders_the_n_best_list_as_its_scores_say():
    _needs_espeak()
    seen: list[list[str]] = []

    def prefer_last(hyps: list[str]) -> list[float]:
        seen.append(list(hyps))
        return [10.0 * i for i in range(len(hyps))]

    clip = np.concatenate([np.zeros(3200, np.int16), synthesize("i have a job interview tomorrow", "en-us", 150)])
    plain = Recognizer(RecognizerConfig()).transcribe(clip)
    cfg = RecognizerConfig(nbest=6, rescore_word_penalty=0.0, rescore_first_bonus=0.0)
    tr = Recognizer(cfg, rescorer=prefer_last).transcribe(clip)
    assert len(seen) == 1 and tuple(seen[0]) == tr.alternatives and 2 <= len(tr.alternatives) <= 6
    assert tr.alternatives[0] == plain.text and len(set(tr.alternatives)) == len(tr.alternatives)
    assert tr.text == tr.alternatives[-1] != plain.text and tr.words == tuple(tr.text.split())
    assert 0.0 < tr.confidence <= 1.0
    keep = Recognizer(cfg, rescorer=lambda hyps: [0.0] + [-100.0] * (len(hyps) - 1)).transcribe(clip)
    assert keep.text == plain.text and keep.confidence == pytest.approx(plain.confidence)
