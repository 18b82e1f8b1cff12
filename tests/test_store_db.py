"""The study store: migrations, crash recovery, buffered commits on the session clock, export."""
from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

from cli import main
from fep_motion.store import SessionWriter, Store, StoreError
from fep_motion.store import migrations as mig
from perception.types import FEATURE_NAMES, Observation, PoseFrame


def _pose(t: float, rng: np.random.Generator) -> PoseFrame:
    lm = rng.random((33, 4)).astype(np.float32)
    return PoseFrame(t=t, landmarks=lm, world=None, image_size=(640, 480), valid=True)


def test_new_database_is_wal_and_at_latest_version(tmp_path):
    with Store.open(tmp_path / "s.db") as st:
        assert st.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert st.schema_version() == mig.latest_version() >= 1
        tables = {r[0] for r in st.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    for t in ("participants", "sessions", "frames", "observations", "decisions", "events", "markers", "utterances",
              "session_meta", "gaps"):
        assert t in tables


def test_adding_a_migration_is_one_function(tmp_path):
    path = tmp_path / "s.db"
    Store.open(path).close()
    version = mig.latest_version() + 1

    @mig.migration(version, "test_trials")
    def _trials(conn):
        conn.execute("CREATE TABLE test_trials (id INTEGER PRIMARY KEY, condition TEXT)")

    try:
        with Store.open(path) as st:
            assert st.schema_version() == version
            st.conn.execute("INSERT INTO test_trials (condition) VALUES ('fep')")
        with Store.open(path) as st:  # applied once only
            assert st.conn.execute("SELECT COUNT(*) FROM test_trials").fetchone()[0] == 1
    finally:
        mig._REGISTRY.pop(version)


def test_newer_schema_is_refused_with_one_line(tmp_path):
    path = tmp_path / "s.db"
    with Store.open(path) as st:
        st.conn.execute("INSERT INTO schema_version VALUES (999, 'future', 0)")
    with pytest.raises(StoreError, match="newer"):
        Store.open(path)


def test_corrupt_file_is_a_store_error(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="junk.db"):
        Store.open(path)


def test_writer_commits_on_session_clock_and_reads_back(tmp_path, rng):
    path = tmp_path / "s.db"
    st = Store.open(path)
    sid = st.start_session("P01", "idle", "test", fps=30.0, seed=1)
    w = SessionWriter(st, sid, commit_interval=0.25)
    other = sqlite3.connect(path)  # a second reader sees only committed rows
    poses = []
    for i in range(30):
        t = i / 30
        p = _pose(t, rng)
        poses.append(p)
        w.frame(i, t, p, agent_pose=np.zeros(14))
        obs = Observation.missing(t)
        w.observation(i, obs, free_energy=1.5)
        w.tick(t)
        committed = other.execute("SELECT MAX(t) FROM frames").fetchone()[0]
        # never more than the commit interval of session time is uncommitted
        assert committed is not None and t - committed <= 0.25 + 1e-9
    w.event("agent", "nod", 0.2, 0.9, {"amplitude": 0.2})
    w.flush()
    st.finish_session(sid, "completed", scheduled_frames=30)
    info = st.session(sid)
    assert info.status == "completed" and info.stored_frames == 30
    stream = st.pose_stream(sid)
    np.testing.assert_array_equal(stream[7][3], poses[7].landmarks)
    assert st.events(sid, "agent")[0].params == {"amplitude": 0.2}
    t, F = st.free_energy(sid)
    assert len(F) == 30 and np.all(F == 1.5)
    st.close()
    other.close()


def test_running_session_of_dead_process_is_marked_interrupted(tmp_path):
    path = tmp_path / "s.db"
    code = (
        "import os, sys; from fep_motion.store import Store, SessionWriter; from perception.types import PoseFrame;"
        f"st = Store.open({str(path)!r}); sid = st.start_session('P02', 'idle', 'test', 30.0);"
        "w = SessionWriter(st, sid); [w.frame(i, i/30, PoseFrame.empty(i/30, (640, 480))) for i in range(10)];"
        "w.flush(); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with Store.open(path, recover=False) as st:
        assert st.sessions()[0].status == "running"
    with Store.open(path) as st:
        s = st.sessions()[0]
        assert s.status == "interrupted" and s.stored_frames == 10 and st.integrity_ok()


def test_live_session_of_this_process_is_not_marked_interrupted(tmp_path):
    path = tmp_path / "s.db"
    st = Store.open(path)
    sid = st.start_session("P03", "idle", "test", 30.0)
    with Store.open(path) as reader:
        assert reader.session(sid).status == "running"
    st.close()


def test_export_csv_expands_blobs_to_named_columns(tmp_path, rng):
    path = tmp_path / "s.db"
    with Store.open(path) as st:
        sid = st.start_session("P01", "idle", "test", 30.0)
        st.set_meta(sid, "stage_names", ["source", "perception"])
        w = SessionWriter(st, sid)
        p = _pose(0.0, rng)
        w.frame(0, 0.0, p, stage_ms=np.array([1.0, 2.0]))
        obs = Observation(t=0.0, features=np.arange(len(FEATURE_NAMES), dtype=float),
                          mask=np.ones(len(FEATURE_NAMES), bool), confidence=np.ones(len(FEATURE_NAMES)))
        w.observation(0, obs, 3.0)
        w.flush()
    rc = main(["export", str(path), "--format", "csv", "--out", str(tmp_path / "csv")])
    assert rc == 0
    with open(tmp_path / "csv" / "frames.csv") as fh:
        row = next(csv.DictReader(fh))
    assert float(row["nose_x"]) == pytest.approx(float(p.landmarks[0, 0]))
    assert float(row["ms_perception"]) == 2.0
    with open(tmp_path / "csv" / "observations.csv") as fh:
        row = next(csv.DictReader(fh))
    assert float(row["head_yaw"]) == 1.0 and row["mask_facing"] == "1" and float(row["free_energy"]) == 3.0


def test_export_errors_are_one_line_exit_2(tmp_path, capsys):
    assert main(["export", str(tmp_path / "missing.db"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "missing.db" in err and len(err.strip().splitlines()) == 1
    Store.open(tmp_path / "s.db").close()
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        assert main(["export", str(tmp_path / "s.db"), "--format", "parquet", "--out", str(tmp_path / "o")]) == 2
        assert "pyarrow" in capsys.readouterr().err
    else:
        assert main(["export", str(tmp_path / "s.db"), "--format", "parquet", "--out", str(tmp_path / "o")]) == 0
        assert (tmp_path / "o" / "frames.parquet").exists()
