"""The virtual participant's speech: turns of phrases and pauses, sustained by a listener's nods in its pauses only
when the cohort's backchannel contingency is on; its voice through the real audio analyzer (espeak-ng)."""
from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

from experiments.cohort import load_cohort
from experiments.errors import ExperimentError
from experiments.virtual_participant import VirtualParticipant
from experiments.vp_config import VirtualParticipantConfig, config_from_dict, load_config
from experiments.vp_speech import load_sentences
from sampling.primitives.base import MotionCommand

ROOT = Path(__file__).resolve().parents[1]
FPS = 30.0


def _run(cfg: VirtualParticipantConfig, seed: int, listener: str, seconds: float = 180.0) -> VirtualParticipant:
    """A 30 Hz session against a scripted listener: 'pauses' nods 0.2 s after each phrase end, 'phrases' nods 0.6 s
    into each phrase (while I speak), 'none' never moves."""
    vp = VirtualParticipant(cfg, seed=seed)
    answered: set[float] = set()
    for i in range(1, int(seconds * FPS) + 1):
        t = i / FPS
        vp.advance(t)
        for p in vp.talk.phrases[-2:]:
            at = p.t_offset + 0.2 if listener == "pauses" else p.t_onset + 0.6
            if listener != "none" and at <= t and p.t_onset not in answered:
                answered.add(p.t_onset)
                vp.notify_agent(MotionCommand("nod", {}, issued_at=t), "nod")
    return vp


def _turn_stats(vp: VirtualParticipant) -> tuple[float, float]:
    """(mean phrases per turn, mean within-turn pause in s)."""
    ph = vp.talk.phrases
    turns = ph[-1].turn + 1
    pauses = [b.t_onset - a.t_offset for a, b in itertools.pairwise(ph) if a.turn == b.turn]
    return len(ph) / turns, float(np.mean(pauses))


def test_nods_in_my_pauses_make_me_talk_longer_and_pause_less_only_when_the_contingency_is_on() -> None:
    """Backchannel cohort participants: nods in pauses give more phrases per turn and shorter pauses than no nods or
    nods placed while they speak; the same participants with the contingency at 0 say exactly the same thing."""
    cohort = load_cohort(ROOT / "examples/cohorts/backchannel.yaml")
    for index in (0, 1):
        cfg = cohort.sample(index)
        assert cfg.speech.enabled and cfg.speech.backchannel >= 0.4
        seed = 10 + index
        at_pauses, silent, mid_phrase = (_turn_stats(_run(cfg, seed, lis)) for lis in ("pauses", "none", "phrases"))
        assert at_pauses[0] >= 1.5 * silent[0], (at_pauses, silent)
        assert at_pauses[1] <= 0.9 * silent[1], (at_pauses, silent)
        assert mid_phrase == silent  # nods over my speech are no response to a pause
        off = config_from_dict({"speech": {**vars(cfg.speech), "backchannel": 0.0}})
        said = [[(p.text, p.t_onset, p.t_offset) for p in _run(off, seed, lis).talk.phrases]
                for lis in ("pauses", "none")]
        assert said[0] == said[1]


def test_the_null_cohorts_speech_ignores_the_agent() -> None:
    """examples/cohorts/null.yaml: the participant talks, and its phrases are identical whatever the listener does,
    though its pauses are answered (the responses are recorded, none extends the turn)."""
    cfg = load_cohort(ROOT / "examples/cohorts/null.yaml").sample(3)
    assert cfg.speech.enabled and cfg.speech.backchannel == 0.0
    runs = {lis: _run(cfg, 4, lis, 120.0) for lis in ("pauses", "none", "phrases")}
    said = {k: [(p.text, p.t_onset, p.t_offset) for p in vp.talk.phrases] for k, vp in runs.items()}
    assert said["pauses"] == said["none"] == said["phrases"] and len(said["none"]) >= 10
    responses = runs["pauses"].new_speech_truth()[1]
    assert len(responses) >= 10 and not any(r.extended for r in responses)


def test_talking_leaves_the_gestures_unchanged() -> None:
    """Speech runs on its own random streams: the nods and gestures of a participant are the same whether it talks."""
    quiet = VirtualParticipant(VirtualParticipantConfig(), seed=2)
    talking = VirtualParticipant(config_from_dict({"speech": {"enabled": True}}), seed=2)
    for vp in (quiet, talking):
        for i in range(1, 60 * 60):
            vp.pose(i / 60.0)
    assert [(e.kind, e.t_onset) for e in quiet.truth] == [(e.kind, e.t_onset) for e in talking.truth]
    assert quiet.speaking(10.0) is None and talking.talk.phrases


def test_speech_truth_is_reported_once_in_time_order() -> None:
    vp = _run(config_from_dict({"speech": {"enabled": True, "backchannel": 0.5}}), 1, "pauses", 60.0)
    first, _ = vp.new_speech_truth()
    more, _ = vp.new_speech_truth()
    assert first and not more
    assert all(p.t_offset <= 60.0 and p.t_low < p.t_offset for p in first)
    assert all(a.t_offset < b.t_onset for a, b in itertools.pairwise(first))
    assert {p.text for p in first} <= set(load_sentences())


def test_the_sentence_list_is_everyday_talk_not_the_asr_benchmark() -> None:
    sentences = load_sentences()
    asr = set((ROOT / "tests/data/speech_sentences.txt").read_text().split("\n"))
    assert len(set(sentences)) >= 60 and not set(sentences) & asr


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (apt-get install espeak-ng)")
def test_the_voice_is_heard_where_the_truth_says() -> None:
    """The participant's voice through the real analyzer (webrtcvad gate): one detected onset per phrase, within
    0.1 s of the truth's onset, and the analyzer is in speech mid-phrase and silent mid-gap."""
    from perception.audio import AudioAnalyzer

    vp = VirtualParticipant(config_from_dict({"speech": {"enabled": True}}), seed=5)
    src = vp.speech_source()
    analyzer = AudioAnalyzer()
    onsets, state = [], {}
    for frame in src.frames_until(40.0):
        feats, events = analyzer.process(frame)
        onsets += [e.t for e in events if e.kind == "onset"]
        state[round(frame.t, 2)] = feats.in_speech
    phrases = [p for p in vp.talk.phrases if p.t_offset < 39.0]
    assert len(phrases) >= 5
    for p in phrases:
        assert min(abs(o - p.t_onset) for o in onsets) <= 0.1, p
        assert state[round(round((p.t_onset + p.t_offset) / 2 / 0.02) * 0.02, 2)]
    assert len(onsets) <= len(phrases) + 1


def test_a_bad_speech_field_names_file_line_and_fix(tmp_path: Path) -> None:
    bad = tmp_path / "vp.yaml"
    bad.write_text("speech:\n  enabled: true\n  backchannel: 1.5\n")
    with pytest.raises(ExperimentError, match=r"vp.yaml:3: .*speech.backchannel: must be <= 1"):
        load_config(bad)
