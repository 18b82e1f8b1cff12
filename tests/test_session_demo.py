"""`fep-motion demo` end to end: stored frames, events of both sides, decisions, a video, the summary; crash safety
under kill -9 and clean finalize on SIGTERM (subprocesses)."""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli import main
from fep_motion.store import Store

BUSY_VP = "nod_rate: 20\ngesture_rate: 8\n"


def _demo_cmd(out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "cli", "demo", "--out", str(out), *extra]


def test_demo_fast_stores_everything_and_prints_summary(tmp_path, capsys):
    cfg = tmp_path / "vp.yaml"
    cfg.write_text(BUSY_VP)
    rc = main(["demo", "--duration", "8", "--fast", "--out", str(tmp_path), "--participant-config", str(cfg)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "elicitation" in out and "frames stored" in out and "F over time" in out
    assert (tmp_path / "summary.txt").read_text().strip() in out
    with Store.open(tmp_path / "study.db") as st:
        (s,) = st.sessions()
        assert s.status == "completed" and s.stored_frames >= 0.95 * s.scheduled_frames == 0.95 * 240
        kinds = {e.actor for e in st.events(s.id)}
        assert {"agent", "participant", "participant_truth"} <= kinds
        n_dec = st.conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
        assert n_dec > 0
        cand = st.conn.execute("SELECT candidates FROM decisions LIMIT 1").fetchone()[0]
        assert '"G"' in cand and '"risk"' in cand and '"ambiguity"' in cand
        assert st.meta(s.id)["agent_video"].endswith("agent.mp4")
    import cv2

    cap = cv2.VideoCapture(str(tmp_path / "agent.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 240 and cap.read()[1].shape == (240, 320, 3)


def test_demo_realtime_keeps_95_percent_of_frames(tmp_path):
    rc = main(["demo", "--duration", "4", "--out", str(tmp_path)])
    assert rc == 0
    with Store.open(tmp_path / "study.db") as st:
        (s,) = st.sessions()
        assert s.scheduled_frames == 120 and s.stored_frames >= 0.95 * 120


def _wait_for_frames(db: Path, proc: subprocess.Popen, t_min: float, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "demo exited early"
        if db.exists():
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
                row = con.execute("SELECT MAX(t) FROM frames").fetchone()
                con.close()
                if row and row[0] is not None and row[0] >= t_min:
                    return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    pytest.fail("demo did not store frames in time")


def test_kill_9_loses_at_most_half_a_second(tmp_path):
    db = tmp_path / "study.db"
    proc = subprocess.Popen(_demo_cmd(tmp_path, "--duration", "60", "--no-video"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_for_frames(db, proc, 0.5)
        time.sleep(random.Random(os.getpid()).uniform(0.5, 2.5))  # a random moment
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Store.open(db) as st:
        assert st.integrity_ok()
        (s,) = st.sessions()
        assert s.status == "interrupted"
        last_t = st.conn.execute("SELECT MAX(t) FROM frames WHERE session_id = ?", (s.id,)).fetchone()[0]
        assert last_t >= (killed_at - s.started_at) - 0.5
        assert s.stored_frames == st.frame_count(s.id) > 0


def test_sigterm_finalizes_cleanly(tmp_path):
    db = tmp_path / "study.db"
    proc = subprocess.Popen(_demo_cmd(tmp_path, "--duration", "60", "--no-video"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        _wait_for_frames(db, proc, 1.0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-500:]
    assert b"frames stored" in out  # the summary still printed
    with Store.open(db, recover=False) as st:  # finalized by the process itself, not by recovery
        (s,) = st.sessions()
        assert s.status == "interrupted" and s.stored_frames == st.frame_count(s.id) > 25
