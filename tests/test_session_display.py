"""The live dashboard composes camera + skeleton + events, the agent's view, the F / G charts, the speech strip and
the chat (headless)."""
from __future__ import annotations

import numpy as np

from experiments.virtual_participant import VirtualParticipant
from fep_motion.session.display import AGENT_SIZE, CAMERA_SIZE, CHART_H, Dashboard
from fep_motion.session.loop import DisplayState
from perception.types import HumanEvent, Observation


def _state(t, pose, F, decision=None, events=()):
    obs = Observation.missing(t)
    obs.events.extend(events)
    agent = np.full((240, 320, 3), 200, np.uint8)
    return DisplayState(t, None, pose, obs, agent, F, decision, "nod")


def test_dashboard_draws_skeleton_events_and_charts():
    vp = VirtualParticipant(seed=0)
    dash = Dashboard()
    for i in range(60):
        img = dash.compose(_state(i / 30, vp.pose(i / 30), 1.0 + np.sin(i / 5)))
    decision = {"candidates": [{"gesture_class": "nod", "G": 1.0}, {"gesture_class": "wave", "G": 3.0},
                               {"gesture_class": "nod", "G": 2.0}]}
    pose = vp.pose(2.0)
    img = dash.compose(_state(2.0, pose, 0.5, decision, [HumanEvent("nod", 1.5, complete=True)]))
    assert img.shape == (CAMERA_SIZE[1] + CHART_H, CAMERA_SIZE[0] + AGENT_SIZE[0], 3)
    green = (img[..., 1] == 255) & (img[..., 0] == 0) & (img[..., 2] == 0)
    ls = pose.landmarks[11, :2] * np.array(CAMERA_SIZE)  # skeleton line at the left shoulder
    x, y = int(ls[0]), int(ls[1])
    assert green[y - 3:y + 4, x - 3:x + 4].any()
    assert (img[:CAMERA_SIZE[1], CAMERA_SIZE[0]:][:240] == 200).mean() > 0.5  # the agent's view is shown
    chart = img[CAMERA_SIZE[1]:]
    orange = (chart[..., 0] == 0) & (chart[..., 1] == 160) & (chart[..., 2] == 255)
    cols = np.nonzero(orange.any(axis=0))[0]
    assert len(cols) > 0 and cols.min() >= CAMERA_SIZE[0]  # G bars drawn on the right half
    heights = [orange[:, c].sum() for c in cols]
    assert max(heights) > min(heights)  # nod (lower G) taller than wave
    assert ((chart[..., 0] == 255) & (chart[..., 1] == 200)).any()  # F trace
    yellow = (img[:CAMERA_SIZE[1], :CAMERA_SIZE[0], 1] == 255) & (img[:CAMERA_SIZE[1], :CAMERA_SIZE[0], 2] == 255)
    assert yellow.any()  # the detected nod is written on the camera view


def test_dashboard_without_a_person_says_so():
    from perception.types import PoseFrame

    dash = Dashboard()
    img = dash.compose(_state(0.0, PoseFrame.empty(0.0, (640, 480)), None))
    red = (img[..., 2] == 255) & (img[..., 0] == 0) & (img[..., 1] == 0)
    assert red[:CAMERA_SIZE[1], :CAMERA_SIZE[0]].any()


def test_speech_strip_shows_voice_activity_as_a_band_and_pitch_as_a_line():
    from fep_motion.session.display import F0_COLOR, SPEECH_H, VAD_COLOR

    dash = Dashboard(chat=True)
    width = CAMERA_SIZE[0] + AGENT_SIZE[0]
    for i in range(90):  # 3 s: quiet, then speaking with a rising pitch from 1 s to 2 s, quiet again
        t = i / 30
        s = _state(t, None, 1.0)
        speaking = 1.0 <= t < 2.0
        s.observation.speaking = speaking
        s.observation.f0_hz = 100.0 + 100.0 * (t - 1.0) if speaking else None
        img = dash.compose(s)
    strip = img[CAMERA_SIZE[1] + CHART_H:CAMERA_SIZE[1] + CHART_H + SPEECH_H]
    band = np.all(strip == VAD_COLOR, axis=2).any(axis=0)
    cols = np.nonzero(band)[0]
    span = (cols.max() - cols.min()) / (width - 20) * dash.history_s  # the band covers the second of speech
    assert 0.8 < span < 1.2
    line = np.all(strip == F0_COLOR, axis=2)
    rows = [np.nonzero(line[:, c])[0].mean() for c in np.nonzero(line.any(axis=0))[0]]
    assert len(rows) > 5 and rows[0] > rows[-1]  # the pitch rises: the line climbs (smaller row index)
    no_audio = Dashboard(chat=True).compose(_state(0.0, None, 1.0))
    assert img.shape[0] == no_audio.shape[0] + SPEECH_H  # the strip only exists in sessions with audio


def test_heard_chat_line_is_labelled_with_its_confidence():
    import cv2

    from fep_motion.session.dialogue import ChatLine

    dash = Dashboard(chat=True)
    s = _state(3.0, None, 1.0)
    s.chat = (ChatLine(2.2, "participant", "hello", heard=0.83),)
    heard = dash.chat_panel(s, 800)
    s.chat = (ChatLine(2.2, "participant", "hello"),)
    typed = dash.chat_panel(s, 800)
    # the heard line is longer by exactly the width of its label
    label_w = cv2.getTextSize(" (heard 0.83)", cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)[0][0]

    def ink(panel):
        return np.nonzero((panel[:24] > 100).any(axis=(0, 2)))[0].max()
    assert abs(ink(heard) - ink(typed) - label_w) <= 3
