"""The virtual participant: determinism, base rates, contingent answers with their latencies, engagement drift,
landmark geometry, drop-outs, YAML config validation."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.errors import ExperimentError
from experiments.virtual_participant import VirtualParticipant
from experiments.vp_body import BodyState, landmarks
from experiments.vp_config import Contingency, VirtualParticipantConfig, load_config
from perception.features import head_angles
from perception.types import LM
from sampling.primitives.base import MotionCommand


def _run(vp: VirtualParticipant, seconds: float, agent_every: float | None = None, cls: str = "nod",
         fps: float = 30.0) -> list:
    frames = []
    for i in range(int(seconds * fps)):
        t = i / fps
        if agent_every and i % int(agent_every * fps) == 0 and i > 0:
            vp.notify_agent(MotionCommand(cls, {}, t), cls)
        frames.append(vp.pose(t))
    return frames


def test_same_seed_same_stream_different_seed_different():
    a = _run(VirtualParticipant(seed=3), 10, agent_every=2)
    b = _run(VirtualParticipant(seed=3), 10, agent_every=2)
    c = _run(VirtualParticipant(seed=4), 10, agent_every=2)
    assert all(np.array_equal(x.landmarks, y.landmarks, equal_nan=True) for x, y in zip(a, b))
    assert not all(np.array_equal(x.landmarks, y.landmarks, equal_nan=True) for x, y in zip(a, c))


def test_behaviour_does_not_depend_on_frame_rate():
    """Events evolve on a fixed grid: a loop that drops frames sees the same participant."""
    v30, v10 = VirtualParticipant(seed=5), VirtualParticipant(seed=5)
    _run(v30, 40, fps=30)
    _run(v10, 40, fps=10)
    assert [(e.kind, round(e.t_onset, 6)) for e in v30.truth] == [(e.kind, round(e.t_onset, 6)) for e in v10.truth]


def test_spontaneous_rates_match_config():
    cfg = VirtualParticipantConfig(nod_rate=6.0, gesture_rate=3.0, engagement_initial=1.0, engagement_baseline=1.0,
                                   dropout_rate=0.0)
    nods = gestures = 0
    for seed in range(5):  # 5 x 10 minutes, behaviour only
        vp = VirtualParticipant(cfg, seed=seed)
        vp.advance(600.0)
        nods += sum(e.kind == "nod" for e in vp.truth)
        gestures += sum(e.kind == "gesture" for e in vp.truth)
        assert all(e.cause == "spontaneous" for e in vp.truth)
    # a Poisson hazard blocked during each event + refractory D: rate = l / (1 + l D)
    d_nod = 2 / cfg.nod_tempo + cfg.refractory
    d_gesture = 2 * 0.35 + 3 / cfg.gesture_tempo + cfg.refractory
    expect_nod = 3000 * 0.1 / (1 + 0.1 * d_nod)
    expect_gesture = 3000 * 0.05 / (1 + 0.05 * d_gesture)
    assert abs(nods - expect_nod) < 0.15 * expect_nod and abs(gestures - expect_gesture) < 0.2 * expect_gesture


def test_answers_follow_the_configured_contingency_and_latency():
    cfg = VirtualParticipantConfig(
        nod_rate=0.0, gesture_rate=0.0, engagement_initial=1.0, engagement_baseline=1.0, dropout_rate=0.0,
        contingencies={"nod": Contingency(0.8, 1.0, 0.2, "nod"), "wave": Contingency(0.0, 1.0, 0.2, "gesture")},
    )
    vp = VirtualParticipant(cfg, seed=1)
    answered = 0
    for k in range(100):
        t = 5.0 * k
        vp.advance(t)
        answered += vp.notify_agent(MotionCommand("nod", {}, t), "nod")
        vp.notify_agent(MotionCommand("wave", {}, t + 2.5), "wave")
    vp.advance(505.0)
    assert 68 <= answered <= 92  # binomial(100, 0.8)
    responses = [e for e in vp.truth if e.cause == "response"]
    assert len(responses) == answered and all(e.responds_to == "nod" and e.kind == "nod" for e in responses)
    lat = np.array([e.latency for e in responses])
    assert abs(lat.mean() - 1.0) < 0.1 and abs(lat.std() - 0.2) < 0.08


def test_engagement_rises_with_a_contingent_agent_and_falls_without():
    base = {"nod_rate": 8.0, "gesture_rate": 0.0, "engagement_initial": 0.6, "engagement_baseline": 0.3,
            "engagement_gain": 0.7, "engagement_tau": 5.0, "dropout_rate": 0.0}
    contingent = VirtualParticipant(VirtualParticipantConfig(**base), seed=2)
    ignored = VirtualParticipant(VirtualParticipantConfig(**base), seed=2)
    seen: set[float] = set()
    for i in range(120 * 30):
        t = i / 30
        contingent.advance(t)
        ignored.advance(t)
        for e in contingent.truth:  # the contingent agent answers every participant event after 1 s
            if e.t_onset not in seen and t >= e.t_onset + 1.0:
                seen.add(e.t_onset)
                contingent.notify_agent(MotionCommand("tilt", {}, t), "tilt")
    assert contingent.engagement > 0.8 and ignored.engagement < 0.45


def test_nod_moves_head_pitch_as_perception_measures_it():
    cfg = VirtualParticipantConfig(nod_rate=0.0, gesture_rate=0.0, jitter=0.0, dropout_rate=0.0,
                                   contingencies={"nod": Contingency(1.0, 0.5, 0.0, "nod")}, engagement_initial=1.0,
                                   engagement_baseline=1.0)
    vp = VirtualParticipant(cfg, seed=0)
    vp.notify_agent(MotionCommand("nod", {}, 0.0), "nod")
    pitches = [head_angles(vp.pose(i / 60).world.astype(float))[0] for i in range(180)]
    ev = vp.truth[0]
    rest = np.median(pitches[:20])
    peak = max(pitches) - rest
    assert ev.kind == "nod" and ev.t_onset == pytest.approx(0.5, abs=0.02)
    assert peak == pytest.approx(ev.amplitude, rel=0.15)  # chin-down pitch by the event's amplitude


def test_gesture_moves_the_wrist_fast_and_up():
    cfg = VirtualParticipantConfig(nod_rate=0.0, gesture_rate=0.0, jitter=0.0, dropout_rate=0.0,
                                   contingencies={"wave": Contingency(1.0, 0.5, 0.0, "gesture")},
                                   engagement_initial=1.0, engagement_baseline=1.0)
    vp = VirtualParticipant(cfg, seed=0)
    vp.notify_agent(MotionCommand("wave", {}, 0.0), "wave")
    frames = [vp.pose(i / 30) for i in range(150)]
    ev = vp.truth[0]
    idx = LM[f"{ev.side}_wrist"]
    y = np.array([f.landmarks[idx, 1] for f in frames])[:-1]
    sw = abs(frames[0].landmarks[LM["left_shoulder"], 0] - frames[0].landmarks[LM["right_shoulder"], 0])
    speed = np.abs(np.diff([f.landmarks[idx, 1] for f in frames])) * 30 / sw  # shoulder widths per second (image y)
    during = (np.arange(149) / 30 >= ev.t_onset) & (np.arange(149) / 30 < ev.t_offset)
    assert y[during].min() < y[0] - 0.1  # the hand rises well above its rest
    assert speed[during].max() > 1.0 and speed[~during].max() < 0.2


@settings(max_examples=30, deadline=None)
@given(st.floats(-0.5, 0.5), st.floats(-0.6, 0.6), st.floats(-0.4, 0.4))
def test_head_angles_round_trip_through_perception(pitch, yaw, roll):
    """The kinematic model's head rotation is what perception's head_angles reads back (property)."""
    rest = head_angles(landmarks(BodyState())[1].astype(float))
    got = head_angles(landmarks(BodyState(head_pitch=pitch))[1].astype(float))
    assert got[0] - rest[0] == pytest.approx(pitch, abs=1e-3)
    got = head_angles(landmarks(BodyState(head_yaw=yaw))[1].astype(float))
    assert got[1] == pytest.approx(yaw, abs=0.02)
    got = head_angles(landmarks(BodyState(head_roll=roll))[1].astype(float))
    assert got[2] == pytest.approx(roll, abs=1e-3)


def test_dropouts_give_invalid_frames_at_the_configured_rate():
    cfg = VirtualParticipantConfig(dropout_rate=6.0, dropout_mean=0.5)
    frames = _run(VirtualParticipant(cfg, seed=0), 120)
    invalid = np.array([not f.valid for f in frames])
    assert 0.02 < invalid.mean() < 0.1  # ~6/min x 0.5 s = 5 % of the time
    f = frames[int(np.argmax(invalid))]
    assert np.isnan(f.landmarks[:, :3]).all()


def test_yaml_config_loads_and_bad_fields_are_named(tmp_path):
    good = tmp_path / "vp.yaml"
    good.write_text("nod_rate: 5\ncontingencies:\n  wave: {probability: 0.9, response: gesture}\n")
    cfg = load_config(good)
    assert cfg.nod_rate == 5.0 and cfg.contingencies["wave"].probability == 0.9
    assert cfg.contingencies["nod"].probability == VirtualParticipantConfig().contingencies["nod"].probability
    for text, field in (("nod_rate: -1\n", "nod_rate"), ("nod_rate: fast\n", "nod_rate"), ("bogus: 1\n", "bogus"),
                        ("contingencies:\n  wave: {probability: 2}\n", "contingencies.wave.probability"),
                        ("contingencies:\n  hug: {probability: 0.5}\n", "contingencies.hug")):
        bad = tmp_path / "bad.yaml"
        bad.write_text(text)
        with pytest.raises(ExperimentError, match=field.replace(".", r"\.")):
            load_config(bad)
    with pytest.raises(ExperimentError, match="missing.yaml"):
        load_config(tmp_path / "missing.yaml")
    assert math.isfinite(cfg.nod_tempo)
