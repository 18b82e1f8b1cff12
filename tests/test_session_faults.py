"""Fault injection on the real loop (virtual participant, real perception and policy, virtual time): a source that
raises, NaN landmarks, a pose estimator that throws, a renderer that throws -> the loop survives, gaps are recorded."""
from __future__ import annotations

import numpy as np
import pytest

from experiments.virtual_participant import VirtualParticipant
from experiments.vp_config import VirtualParticipantConfig
from fep_motion.session.runner import SessionSpec, make_perceiver, run_session
from fep_motion.session.sources import Reading, VirtualParticipantSource
from fep_motion.store import Store
from perception.types import PoseFrame

FAULT = (2.0, 3.0)


def _vp(seed: int = 0) -> VirtualParticipant:
    cfg = VirtualParticipantConfig(nod_rate=20.0, gesture_rate=8.0, dropout_rate=0.0)
    return VirtualParticipant(cfg, seed=seed)


class RaisingSource(VirtualParticipantSource):
    """A virtual participant whose device raises during FAULT (an unplugged camera that throws)."""

    def read(self, t: float) -> Reading:
        if FAULT[0] <= t < FAULT[1]:
            raise OSError("device disconnected")
        return super().read(t)


class NaNSource(VirtualParticipantSource):
    """Valid-flagged frames whose landmarks are NaN for 2 s (a corrupt estimator output)."""

    def read(self, t: float) -> Reading:
        r = super().read(t)
        if 2.0 <= t < 4.0 and r.pose is not None:
            lm = np.full_like(r.pose.landmarks, np.nan)
            r.pose = PoseFrame(t=t, landmarks=lm, world=None, image_size=r.pose.image_size, valid=True)
        return r


class ThrowingPerceiver:
    """The real perception pipeline, except that it throws during FAULT."""

    def __init__(self) -> None:
        self.real = make_perceiver(images=False)

    def process_pose(self, pose):
        if FAULT[0] <= pose.t < FAULT[1]:
            raise RuntimeError("pose estimator crashed")
        return self.real.process_pose(pose)

    def process(self, image, t):
        return self.real.process(image, t)


def _run(tmp_path, source, perceiver=None, renderer=None, policy="fep", duration=5.0):
    spec = SessionSpec(tmp_path / "s.db", "P01", policy, "test", fps=30.0, duration=duration, realtime=False, seed=0,
                       progress=False)
    sid, result = run_session(spec, source, participant=source.participant, perceiver=perceiver, renderer=renderer)
    return Store.open(tmp_path / "s.db"), sid, result


def _check_gap(store, sid, result, start, end, reason_word):
    assert result.status == "completed" and store.session(sid).status == "completed"
    assert result.stored == result.scheduled == 150  # every tick stored, the gap ticks included
    gaps = store.gaps(sid)
    assert len(gaps) == 1
    g0, g1, reason = gaps[0]
    assert g0 == pytest.approx(start, abs=0.04) and g1 == pytest.approx(end, abs=0.04) and reason_word in reason
    rows = store.conn.execute(
        "SELECT f.t, f.gap, o.mask FROM frames f JOIN observations o USING (session_id, idx) WHERE session_id = ? "
        "ORDER BY idx", (sid,)).fetchall()
    in_gap = [(g, np.frombuffer(m, np.uint8)) for t, g, m in rows if start + 0.01 < t < end - 0.01]
    assert in_gap and all(g == 1 and not m.any() for g, m in in_gap)  # flagged, and the agent saw nothing
    assert all(g == 0 for t, g, m in rows if t < start - 0.01 or t > end + 0.04)
    t, F = store.free_energy(sid)  # the FEP agent keeps inferring (predicting) through the gap
    sel = (t > start) & (t < end)
    assert sel.sum() >= 25 and np.all(np.isfinite(F[sel]))


def test_source_that_raises_for_one_second(tmp_path):
    vp = _vp()
    store, sid, result = _run(tmp_path, RaisingSource(vp))
    _check_gap(store, sid, result, 2.0, 3.0, "device disconnected")


def test_two_seconds_of_nan_landmarks(tmp_path):
    vp = _vp()
    store, sid, result = _run(tmp_path, NaNSource(vp))
    _check_gap(store, sid, result, 2.0, 4.0, "non-finite")


def test_pose_estimator_that_throws(tmp_path):
    vp = _vp()
    store, sid, result = _run(tmp_path, VirtualParticipantSource(vp), perceiver=ThrowingPerceiver())
    _check_gap(store, sid, result, 2.0, 3.0, "pose estimator crashed")


class BrokenRenderer:
    """A real body renderer that dies after 40 frames (GPU reset, lost context)."""

    def __init__(self) -> None:
        from fep_motion.session.runner import make_renderer

        self.real = make_renderer()
        self.width, self.height = self.real.width, self.real.height
        self.n = 0

    def render(self, pose):
        self.n += 1
        if self.n > 40:
            raise RuntimeError("render context lost")
        return self.real.render(pose)

    def close(self):
        self.real.close()


def test_renderer_failure_loses_no_stored_data(tmp_path):
    vp = _vp()
    spec = SessionSpec(tmp_path / "s.db", "P01", "fep", "test", fps=30.0, duration=3.0, realtime=False,
                       video_path=tmp_path / "agent.mp4", progress=False)
    keys = KeyScript({})
    sid, result = run_session(spec, VirtualParticipantSource(vp), participant=vp, renderer=BrokenRenderer(),
                              display=keys)
    assert result.stored == 90 and any("render context lost" in w for w in result.warnings)
    # the display shows the agent's 320x240 image while the renderer lives and none once it is switched off
    assert len(keys.seen) == 90 and all(has_obs for has_obs, _ in keys.seen)
    assert all(shape == (240, 320, 3) for _, shape in keys.seen[:40])
    assert all(shape is None for _, shape in keys.seen[45:])
    with Store.open(tmp_path / "s.db") as st:
        assert st.session(sid).status == "completed" and st.frame_count(sid) == 90
    import cv2

    cap = cv2.VideoCapture(str(tmp_path / "agent.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 40  # the video holds what was rendered and is readable


class KeyScript:
    """Key presses at given frames, as the live window would report them (q / space / m)."""

    def __init__(self, keys: dict[int, str], fail_at: int | None = None) -> None:
        self.keys, self.fail_at, self.n = keys, fail_at, 0
        # what each call saw, checked after the run: the loop turns a display's exceptions into warnings
        self.seen: list[tuple[bool, tuple[int, ...] | None]] = []

    def __call__(self, state):
        self.n += 1
        if self.fail_at is not None and self.n >= self.fail_at:
            raise RuntimeError("window closed by the window manager")
        image = state.agent_image
        self.seen.append((state.observation is not None, None if image is None else tuple(image.shape)))
        return self.keys.get(self.n)


def test_display_keys_marker_pause_quit(tmp_path):
    vp = _vp()
    keys = KeyScript({10: "marker", 20: "pause", 50: "pause", 70: "quit"})
    spec = SessionSpec(tmp_path / "s.db", "P01", "fep", "live", fps=30.0, duration=None, realtime=False,
                       progress=False)
    sid, result = run_session(spec, VirtualParticipantSource(vp), participant=vp, display=keys)
    assert result.status == "completed" and result.end_reason == "quit by the user"
    # the display ran on every frame up to the quit, paused ones included, each with an observation and, as this
    # session renders no body, without an agent image
    assert keys.seen == [(True, None)] * 70 and not result.warnings
    with Store.open(tmp_path / "s.db") as st:
        labels = [r[0] for r in st.conn.execute("SELECT label FROM markers ORDER BY t")]
        assert labels == ["key m", "pause", "resume"]
        idx = [r[0] for r in st.conn.execute("SELECT idx FROM frames ORDER BY idx")]
        assert idx == list(range(20)) + list(range(50, 70))  # nothing recorded while paused
        assert st.session(sid).scheduled_frames == st.session(sid).stored_frames == len(idx)


def test_display_failure_loses_no_stored_data(tmp_path):
    vp = _vp()
    spec = SessionSpec(tmp_path / "s.db", "P01", "fep", "live", fps=30.0, duration=2.0, realtime=False,
                       progress=False)
    keys = KeyScript({}, fail_at=15)
    _, result = run_session(spec, VirtualParticipantSource(vp), participant=vp, display=keys)
    assert result.stored == 60 and any("window closed" in w for w in result.warnings)
    assert keys.seen == [(True, None)] * 14  # the 15th call raised; the loop called the display no more
