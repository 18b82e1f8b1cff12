"""The virtual participant's nods and hand gestures are what perception's event detectors find (ground truth vs
detections through the real perception pipeline, with jitter and drop-outs on)."""
from __future__ import annotations

from experiments.virtual_participant import VirtualParticipant
from experiments.vp_config import VirtualParticipantConfig
from perception.pipeline import Perception
from perception.scoring import detected_onsets, score_onsets


def test_nods_and_gestures_are_detected_by_perception():
    cfg = VirtualParticipantConfig(nod_rate=12.0, gesture_rate=8.0)  # default jitter and drop-outs
    events = []
    for seed in (0, 1):
        vp = VirtualParticipant(cfg, seed=seed)
        perc = Perception(create_pose=False)
        detected = []
        for i in range(120 * 30):
            _, obs = perc.process_pose(vp.pose(i / 30))
            detected += obs.events
        detected += perc.flush(120.0)
        events.append((vp.truth, detected))
    for kind in ("nod", "gesture"):
        # the two sessions' onsets are pooled on separate time axes so matches cannot cross sessions
        truth = [e.t_onset + 1000 * k for k, (tr, _) in enumerate(events) for e in tr if e.kind == kind
                 and e.t_offset < 119.0]
        found = [t + 1000 * k for k, (_, det) in enumerate(events) for t in detected_onsets(det, kind) if t < 119.0]
        score = score_onsets(found, truth, kind, tolerance_s=0.3)
        assert len(truth) >= 10, kind
        assert score.f1 >= 0.85, (kind, score)
    # a still participant (no nods, no gestures) yields no detections despite jitter and drop-outs
    still = VirtualParticipant(VirtualParticipantConfig(nod_rate=0.0, gesture_rate=0.0), seed=3)
    perc = Perception(create_pose=False)
    n = 0
    for i in range(30 * 30):
        _, obs = perc.process_pose(still.pose(i / 30))
        n += len(obs.events)
    assert n == 0
