"""`fep-motion run` (video file, recorded session replay), `fep-motion live` headless with a video as a fake camera,
and the one-line errors (exit 2) for bad input."""
from __future__ import annotations

import numpy as np
import pytest

from cli import main
from fep_motion.store import Store


def test_run_video_through_a_policy_with_mediapipe(tmp_path, vtest_path, capsys):
    rc = main(["run", str(vtest_path), "--policy", "fep", "--out", str(tmp_path), "--max-frames", "20"])
    assert rc == 0
    assert "frames stored" in capsys.readouterr().out
    with Store.open(tmp_path / "study.db") as st:
        (s,) = st.sessions()
        assert s.status == "completed" and s.mode == "run" and s.stored_frames == s.scheduled_frames == 20
        assert s.participant_id == "vtest" and s.fps == pytest.approx(10.0)  # vtest.avi is 10 fps
        stage = st.meta(s.id)["stage_names"].index("perception")
        ms = [np.frombuffer(b, np.float32)[stage] for (b,) in st.conn.execute("SELECT stage_ms FROM frames")]
        assert np.median(ms) > 2.0  # MediaPipe ran on every frame (vtest's first pedestrian pose comes later)
        assert st.gaps(s.id) == []  # frames without a person are not faults
    import cv2

    assert int(cv2.VideoCapture(str(tmp_path / "agent.mp4")).get(cv2.CAP_PROP_FRAME_COUNT)) == 20


def test_run_replays_a_recorded_session_into_another_policy(tmp_path):
    rc = main(["demo", "--duration", "3", "--fast", "--no-video", "--out", str(tmp_path / "a")])
    assert rc == 0
    db = tmp_path / "a" / "study.db"
    rc = main(["run", f"{db}:1", "--policy", "random", "--out", str(tmp_path / "b"), "--no-video"])
    assert rc == 0
    with Store.open(db) as a, Store.open(tmp_path / "b" / "study.db") as b:
        src, rep = a.pose_stream(1), b.pose_stream(1)
        assert b.session(1).participant_id == "VP-demo" and b.session(1).policy == "random"
        assert len(rep) == len(src) == 90
        for (i, t, v, lm, w, g), (i2, t2, v2, lm2, w2, g2) in zip(src, rep):
            assert i == i2 and v == v2 and np.array_equal(lm, lm2, equal_nan=True)
        assert any(e.actor == "participant" for e in b.events(1))  # perception re-detected the replayed events


def test_live_headless_with_a_video_as_fake_camera(tmp_path, vtest_path):
    db = tmp_path / "study.db"
    rc = main(["live", "--camera", str(vtest_path), "--policy", "fep", "--participant", "P07", "--store", str(db),
               "--no-display", "--duration", "1.5"])
    assert rc == 0
    with Store.open(db) as st:
        (s,) = st.sessions()
        assert s.participant_id == "P07" and s.mode == "live" and s.status == "completed"
        assert s.scheduled_frames == 45 and s.stored_frames >= 20  # MediaPipe in the loop, real time, loaded CPU


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["run", "/nonexistent/clip.mp4", "--out", "{tmp}"], "clip.mp4"),
        (["run", "{tmp}/none.db:3", "--out", "{tmp}"], "none.db"),
        (["run", "{db}:99", "--out", "{tmp}/o"], "no session 99"),
        (["demo", "--duration", "1", "--fast", "--no-video", "--policy", "nosuch", "--out", "{tmp}/p"], "nosuch"),
        (["demo", "--duration", "-5", "--out", "{tmp}/q"], "--duration"),
        (["demo", "--duration", "1", "--participant-config", "{tmp}/missing.yaml", "--out", "{tmp}/r"], "missing.yaml"),
        (["live", "--camera", "{tmp}/nocam.avi", "--participant", "P01", "--no-display", "--store", "{db}"],
         "nocam.avi"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, argv, needle):
    db = tmp_path / "s.db"
    Store.open(db).close()
    argv = [a.format(tmp=tmp_path, db=db) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_live_window_without_a_display_says_use_no_display(tmp_path, vtest_path, capsys, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert main(["live", "--camera", str(vtest_path), "--participant", "P01", "--store", str(tmp_path / "s.db")]) == 2
    assert "--no-display" in capsys.readouterr().err
