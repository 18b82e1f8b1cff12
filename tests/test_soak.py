"""The soak benchmark's CI version: 3 minutes of session time (virtual time) with every kind of fault injected on a
seeded schedule, run through bench/soak.py as a user runs it. The hour-long run is in the README (Benchmarks)."""
from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("soak")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, str(REPO / "bench" / "soak.py"), "--minutes", "3", "--window", "1",
                        "--fault-scale", "6", "--utterance-every", "5", "--peer-minutes", "0.5", "--seed", "0",
                        "--out", str(out), "--json", str(out / "report.json")],
                       capture_output=True, text=True, timeout=600, env=env, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    report = json.loads((out / "report.json").read_text())
    report["stdout"] = r.stdout
    return report


def test_soak_session_completes_with_every_frame_outside_injected_gaps(soak: dict) -> None:
    assert soak["status"] == "completed" and soak["session_status"] == "completed" and soak["integrity"] == "ok"
    assert soak["stored"] == soak["scheduled"] == 3 * 60 * 30  # every tick stored, gap ticks flagged
    assert soak["stored_share_outside_gaps"] >= 0.99 and soak["unexpected_gap_frames"] == 0
    assert len(soak["per_window"]) == 3 and all(w["ticks"] == 1800 for w in soak["per_window"])
    assert "| minutes | RSS MB at start |" in soak["stdout"] and "integrity_check: ok" in soak["stdout"]


def test_every_injected_fault_shows_up_where_a_user_looks(soak: dict) -> None:
    injected = soak["injected"]
    assert all(injected[k] > 0 for k in injected), injected  # the seeded plan covers every kind
    gaps = soak["gaps"]
    assert gaps["source error: OSError: camera disconnected"]["count"] == injected["camera_dropout"]
    assert gaps["camera dropout: reopening"]["count"] == injected["camera_dropout"] == soak["reopens"]
    assert gaps["non-finite landmarks"]["count"] == injected["nan_landmarks"]
    assert gaps["perception error: RuntimeError: pose estimator crashed"]["count"] == injected["pose_exception"]
    assert soak["frames_without_person"] > 0  # missing landmarks: frames without a person, not gaps
    assert any("render context lost" in w for w in soak["warnings"])


def test_brain_outages_fall_back_and_replies_resume_after_a_restart(soak: dict) -> None:
    fb = soak["brain_fallbacks"]
    assert fb.get("time-out", 0) > 0 and fb.get("server unreachable", 0) > 0, fb  # frozen and killed server
    assert soak["server"]["kills"] == soak["injected"]["brain_killed"]
    kill_end = max(w["t1"] for w in soak["windows"] if w["kind"] == "brain_killed")
    with sqlite3.connect(soak["db"]) as conn:
        after = conn.execute("SELECT COUNT(*) FROM brain_turns WHERE t > ? AND fallback = 0", (kill_end,)).fetchone()
        during = conn.execute("SELECT COUNT(*) FROM brain_turns WHERE fallback = 1 AND error LIKE '%cannot reach%'"
                              ).fetchone()
    assert after[0] > 0 and during[0] > 0  # the restarted server answers again
