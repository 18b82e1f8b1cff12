"""Event detectors on synthetic streams with known nods, shakes and gestures (plus jitter and drop-outs)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from perception.events import (
    NOD_DEFAULTS,
    GestureDetector,
    GestureParams,
    OscillationDetector,
    OscillationParams,
)
from perception.pipeline import Perception
from perception.scoring import detected_onsets, score_onsets
from perception.synthetic import SyntheticSpec, generate
from perception.types import HumanEvent

SEEDS = (11, 12, 13, 14)


def _run(spec: SyntheticSpec, seed: int) -> tuple[list[HumanEvent], list[HumanEvent]]:
    perception = Perception(create_pose=False)
    stream = generate(spec, seed)
    found: list[HumanEvent] = []
    for frame in stream.frames:
        _, obs = perception.process_pose(frame)
        found += obs.events
    found += perception.flush(stream.frames[-1].t)
    return stream.truth, found


@pytest.fixture(scope="module")
def scripted_runs() -> list[tuple[list[HumanEvent], list[HumanEvent]]]:
    return [_run(SyntheticSpec(duration_s=60.0), seed) for seed in SEEDS]


@pytest.mark.parametrize("kind", ["nod", "shake", "gesture"])
def test_onset_f1_is_at_least_0_9_within_200_ms(scripted_runs, kind):
    detected, truth = [], []
    for k, (true_events, found) in enumerate(scripted_runs):
        shift = 1000.0 * k  # pool sessions on separate time axes
        truth += [e.t_onset + shift for e in true_events if e.kind == kind]
        detected += [t + shift for t in detected_onsets(found, kind)]
    score = score_onsets(detected, truth, kind, tolerance_s=0.2)
    assert len(truth) >= 12
    assert score.f1 >= 0.9, score
    assert score.mean_abs_error_s < 0.15


def test_each_event_is_reported_at_detection_and_at_completion(scripted_runs):
    for _, found in scripted_runs:
        onsets = [(e.kind, e.t_onset) for e in found if not e.complete]
        ends = [(e.kind, e.t_onset) for e in found if e.complete]
        assert sorted(onsets) == sorted(ends)
        for e in found:
            if e.complete:
                assert e.t_offset is not None and e.t_offset > e.t_onset and e.cycles >= 1 and e.magnitude > 0


def test_nod_cycle_counts_match_the_script(scripted_runs):
    hits = total = 0
    for true_events, found in scripted_runs:
        done = [e for e in found if e.kind == "nod" and e.complete]
        for truth in (e for e in true_events if e.kind == "nod"):
            match = [e for e in done if abs(e.t_onset - truth.t_onset) <= 0.2]
            total += 1
            hits += bool(match) and abs(match[0].cycles - truth.cycles) <= 1
    assert hits >= 0.8 * total


@pytest.mark.parametrize("seed", [101, 102, 103])
def test_still_streams_with_the_same_jitter_produce_no_events(seed):
    truth, found = _run(SyntheticSpec(duration_s=60.0, kinds=()), seed)
    assert truth == [] and found == []


def _feed(det, t: np.ndarray, x: np.ndarray) -> list[HumanEvent]:
    out: list[HumanEvent] = []
    for ti, xi in zip(t, x):
        out += det.update(float(ti), float(xi))
    return out + det.flush(float(t[-1]))


def test_two_cycle_nod_gives_one_event_with_onset_offset_and_cycles():
    t = np.arange(0.0, 4.0, 1 / 30)
    x = np.where((t >= 1.0) & (t < 2.0), 0.1 * 0.5 * (1 - np.cos(2 * math.pi * (t - 1.0) / 0.5)), 0.0)
    events = _feed(OscillationDetector("nod", NOD_DEFAULTS), t, x)
    assert [e.complete for e in events] == [False, True]
    done = events[1]
    assert done.t_onset == pytest.approx(1.0, abs=0.1) and done.t_offset == pytest.approx(2.0, abs=0.1)
    assert done.cycles == 2 and done.magnitude == pytest.approx(0.1, abs=0.01)
    assert events[0].t_onset == done.t_onset


def test_slow_posture_change_and_single_glitch_are_not_nods():
    t = np.arange(0.0, 6.0, 1 / 30)
    slow = 0.2 * np.clip((t - 1.0) / 1.5, 0, 1) - 0.2 * np.clip((t - 3.5) / 1.5, 0, 1)  # look down 1.5 s, back
    assert _feed(OscillationDetector("nod", NOD_DEFAULTS), t, slow) == []
    glitch = np.zeros_like(t)
    glitch[60] = 0.3  # one frame
    assert _feed(OscillationDetector("nod", NOD_DEFAULTS), t, glitch) == []


def test_a_swing_across_a_tracking_gap_does_not_count():
    t = np.arange(0.0, 4.0, 1 / 30)
    x = np.where(t < 2.0, 0.0, 0.15)
    x[(t > 1.9) & (t < 2.1)] = np.nan  # person lost while the head moved
    x[(t > 2.5)] = 0.0
    assert _feed(OscillationDetector("nod", NOD_DEFAULTS), t, x) == []


def test_gesture_burst_with_hysteresis():
    p = GestureParams()
    t = np.arange(0.0, 4.0, 1 / 30)
    speed = np.full_like(t, 0.1)
    speed[(t >= 1.0) & (t < 1.6)] = 2.0
    speed[(t >= 1.6) & (t < 1.9)] = 0.7  # between off and on: still the same gesture
    speed[(t >= 1.9) & (t < 2.2)] = 2.0
    events = _feed(GestureDetector(p), t, speed)
    assert [e.complete for e in events] == [False, True]
    assert events[0].t_onset == pytest.approx(1.0, abs=1 / 30 + 1e-9)
    assert events[1].t_offset == pytest.approx(2.2, abs=1 / 30 + 1e-9)
    assert events[1].magnitude == pytest.approx(2.0) and events[1].cycles == 1
    strokes = np.full_like(t, 0.1)
    strokes[(t >= 1.0) & (t < 1.4)] = 2.0
    strokes[(t >= 1.4) & (t < 1.6)] = 0.2  # a short pause (< min_off_s) between two strokes
    strokes[(t >= 1.6) & (t < 2.0)] = 2.0
    two = _feed(GestureDetector(p), t, strokes)
    assert len(two) == 2 and two[1].cycles == 2
    spike = np.full_like(t, 0.1)
    spike[50] = 5.0  # one frame: shorter than min_on_s
    assert _feed(GestureDetector(p), t, spike) == []


def test_detector_parameters_are_validated_with_the_field_name():
    with pytest.raises(ValueError, match="hysteresis"):
        OscillationParams(min_amplitude=0.05, hysteresis=0.1, min_swing_s=0.1, max_swing_s=0.5, max_pause_s=0.3,
                          min_swings=2)
    with pytest.raises(ValueError, match="off_speed"):
        GestureParams(on_speed=1.0, off_speed=2.0)
